"""Rehearsal of the pretrained path, offline: every diffusion backend built with the real
models' conditioning shapes (random weights; UNet, VAE and encoders shrunk where only their
size would differ), fed by a decoder whose heads have the real target-space shapes, through
the Reconstructor, so `--generator sd-img2img|unclip|versatile` with real weights has its whole
data path exercised. Also: decoded CLIP tokens are in the form Versatile Diffusion's own
encoders produce (checked against the pipeline's encoders on tiny random models)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from neurodecode.features.pretrained import ClipImage, ClipText
from neurodecode.models import BrainDecoder, DecoderConfig, HeadConfig
from neurodecode.reconstruct.random_models import (
    TINY,
    random_sd_img2img,
    random_unclip,
    random_versatile,
)
from neurodecode.reconstruct.reconstructor import Reconstructor
from neurodecode.training.experiment import predict

# Conditioning shapes of the released models (ANCHORS.md section 1; model cards):
# SD-1.x img2img: VAE latents 4x64x64 (512 px) + CLIP ViT-L/14 text tokens 77x768;
# Stable unCLIP 2.1 (ViT-H): pooled image embedding 1024 + OpenCLIP-H text tokens 77x1024;
# Versatile Diffusion: CLIP ViT-L/14 image tokens 257x768 + text tokens 77x768.
REAL = {
    "sd-img2img": {"width": 768, "targets": {"sd-vae-latent": (4, 64, 64),
                                             "clip-text-tokens": (77, 768)}},
    "unclip": {"width": 1024, "targets": {"clip-image": (1024,),
                                          "clip-text-tokens": (77, 1024)}},
    "versatile": {"width": 768, "targets": {"clip-image-tokens": (257, 768),
                                            "clip-text-tokens": (77, 768)}},
}


def _arch(width: int, vae_blocks: int):
    """The tiny architecture with the real conditioning width and an 8x VAE when needed."""
    return replace(TINY, width=width, text_hidden=width, text_heads=8, text_layers=1,
                   vae_channels=(8,) * vae_blocks, unet_head_dim=8)


def _generator(name: str):
    from neurodecode.reconstruct.sd_img2img import SDImg2ImgGenerator
    from neurodecode.reconstruct.unclip import UnCLIPGenerator
    from neurodecode.reconstruct.versatile import VersatileGenerator

    width = REAL[name]["width"]
    if name == "sd-img2img":  # 64x64 latents decode to 512 px through an 8x VAE
        return SDImg2ImgGenerator(random_sd_img2img(_arch(width, 4)), progress=False)
    if name == "unclip":
        return UnCLIPGenerator(random_unclip(_arch(width, 2)), size=32, progress=False)
    return VersatileGenerator(random_versatile(_arch(width, 2)), size=32, progress=False)


def _decoder(targets: dict[str, tuple]) -> BrainDecoder:
    heads = [HeadConfig(t, shape, kind="spatial" if len(shape) == 3 else
                        ("lowrank" if len(shape) == 2 else "linear"), rank=8, channels=8)
             for t, shape in targets.items()]
    torch.manual_seed(0)
    model = BrainDecoder(DecoderConfig({"1": 50}, heads, width=32, depth=1)).eval()
    model.scalers["1"].fit(np.random.default_rng(0).normal(size=(20, 50)))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sd-img2img", "unclip", "versatile"])
def test_decoded_real_shapes_run_through_each_backend(name):
    targets = REAL[name]["targets"]
    preds = predict(_decoder(targets), np.random.default_rng(1).normal(size=(2, 50)), "1")
    for t, shape in targets.items():
        assert preds[t].shape == (2, *shape)
    gen = _generator(name)
    recon = Reconstructor(gen, n_samples=1, steps=2, strength=0.5, guidance=3.0, seed=0)
    out = recon.reconstruct(preds)
    size = 512 if name == "sd-img2img" else 32
    assert out["images"].shape == (2, size, size, 3)
    assert np.isfinite(out["images"]).all() and 0 <= out["images"].min() <= out["images"].max() <= 1


@pytest.fixture(scope="module")
def vd_pipe():
    return random_versatile()


def test_clip_image_tokens_are_in_versatile_diffusions_form(vd_pipe):
    """The target space equals what the pipeline's own image encoder conditions on."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)  # the encoder's size
    ours = ClipImage(model=vd_pipe.image_encoder, tokens=True).encode_images(images)
    with torch.no_grad():
        theirs = vd_pipe._encode_image_prompt(list(images), "cpu", 1, False).numpy()
    assert ours.shape == theirs.shape == (3, 257, TINY.width)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    raw = ClipImage(model=vd_pipe.image_encoder, tokens=True, form="raw").encode_images(images)
    assert not np.allclose(raw, theirs, atol=1e-2)  # the old, unscaled form differs


def test_clip_text_tokens_are_in_versatile_diffusions_form(vd_pipe):
    prompts = ["a red circle", "a small blue striped square on a dark background"]
    ours = ClipText(model=vd_pipe.text_encoder, tokenizer=vd_pipe.tokenizer,
                    tokens=True).encode_texts(prompts)
    with torch.no_grad():
        theirs = vd_pipe._encode_text_prompt(prompts, "cpu", 1, False).numpy()
    assert ours.shape == theirs.shape == (2, 77, TINY.width)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    raw = ClipText(model=vd_pipe.text_encoder, tokenizer=vd_pipe.tokenizer, tokens=True,
                   form="raw").encode_texts(prompts)
    assert raw.shape != theirs.shape or not np.allclose(raw, theirs, atol=1e-2)
