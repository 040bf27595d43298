"""The diffusers backends run end to end, offline, on tiny random components of the real classes.

What is asserted: the Generator contract (shape, range, seeds ``seed + s``), determinism, that
the conditioning reaches the image (different embeddings → different images, equal → equal,
and a branch weighted 0 has no effect), img2img strength, exact VAE decoding, loading from a
saved directory, and that a model missing from the local cache is an error, not a download.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurodecode.data.errors import DataError
from neurodecode.reconstruct import versatile as versatile_module
from neurodecode.reconstruct.base import Conditioning, Generator
from neurodecode.reconstruct.brain_guided import BrainGuidedGenerator
from neurodecode.reconstruct.random_models import (
    N_TEXT_TOKENS,
    TINY,
    random_sd_img2img,
    random_unclip,
    random_vae,
    random_versatile,
)
from neurodecode.reconstruct.sd_img2img import SDImg2ImgGenerator
from neurodecode.reconstruct.unclip import UnCLIPGenerator
from neurodecode.reconstruct.vae import VAEDecoderGenerator
from neurodecode.reconstruct.versatile import N_IMAGE_TOKENS, VersatileGenerator

WIDTH = TINY.width
SIZE = 32  # pixels; the tiny VAE downsamples by 2
N = 2
RUN = {"steps": 2, "strength": 1.0}  # img2img at full strength: the text shows most


def _random(*shape: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture(scope="module")
def backends() -> dict[str, object]:
    return {
        "sd-img2img": SDImg2ImgGenerator(random_sd_img2img(), progress=False),
        "unclip": UnCLIPGenerator(random_unclip(), size=SIZE, progress=False),
        "versatile": VersatileGenerator(random_versatile(), size=SIZE, progress=False),
    }


def _cond(name: str, seed: int = 0) -> Conditioning:
    """Conditioning with the fields backend ``name`` reads, random for ``N`` images."""
    text = _random(N, N_TEXT_TOKENS, WIDTH, seed=seed)
    if name == "sd-img2img":  # unscaled latents: std ~ 1 / scaling_factor, as SD's VAE gives
        latents = _random(N, 4, SIZE // 2, SIZE // 2, seed=seed + 1) / 0.18215
        return Conditioning(init_latents=latents, text_embeds=text)
    if name == "unclip":
        return Conditioning(image_embeds=_random(N, WIDTH, seed=seed + 1), text_embeds=text)
    return Conditioning(image_embeds=_random(N, N_IMAGE_TOKENS, WIDTH, seed=seed + 1),
                        text_embeds=text)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


NAMES = ["sd-img2img", "unclip", "versatile"]


@pytest.mark.parametrize("name", NAMES)
def test_contract_shape_range_and_seeds(backends, name):
    gen = backends[name]
    assert isinstance(gen, Generator) and gen.name == name
    cond = _cond(name)
    images = gen.generate(cond, n_samples=2, **RUN, seed=3)
    assert images.shape == (N, 2, SIZE, SIZE, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0.01
    # same seed, same images; candidate s is drawn with seed + s, whatever the batch
    np.testing.assert_array_equal(gen.generate(cond, n_samples=2, **RUN, seed=3), images)
    alone = gen.generate(cond.select([1]), n_samples=1, **RUN, seed=4)
    np.testing.assert_allclose(alone[0, 0], images[1, 1], atol=1e-4)
    # different seeds, different images
    assert _diff(images[:, 0], images[:, 1]) > 0.01


@pytest.mark.parametrize("name", NAMES)
def test_conditioning_reaches_the_image(backends, name):
    gen = backends[name]
    cond = _cond(name)
    field = "text_embeds" if name == "sd-img2img" else "image_embeds"
    same = cond.select([0, 0])
    images = gen.generate(same, **RUN)[:, 0]
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)  # equal rows, equal images
    other = Conditioning(**{**vars(same), field: _random(*getattr(same, field).shape, seed=9)})
    changed = gen.generate(other, **RUN)[:, 0]
    assert _diff(changed, images) > 1e-3  # float noise is ~1e-6


def test_img2img_strength_keeps_the_init(backends):
    gen = backends["sd-img2img"]
    cond = _cond("sd-img2img")
    init = VAEDecoderGenerator(gen.pipeline.vae, progress=False).generate(cond)[:, 0]
    near, mid, far = (_diff(gen.generate(cond, steps=20, strength=strength)[:, 0], init)
                      for strength in (0.05, 0.5, 1.0))  # 0.05: one step at low noise
    assert near < 0.1 * far and near < mid < far


def test_img2img_text_sources(backends):
    gen = backends["sd-img2img"]
    base = _cond("sd-img2img")
    captions = ["a red car", "two dogs"]
    by_caption = gen.generate(Conditioning(init_latents=base.init_latents, captions=captions),
                              **RUN)
    assert _diff(by_caption[0, 0], gen.generate(
        Conditioning(init_latents=base.init_latents[[0]], captions=["zebra"]), **RUN)[0, 0]
    ) > 1e-3
    both = Conditioning(init_latents=base.init_latents, text_embeds=base.text_embeds,
                        captions=captions)
    prefer_captions = SDImg2ImgGenerator(gen.pipeline, use_captions=True, progress=False)
    np.testing.assert_array_equal(prefer_captions.generate(both, **RUN), by_caption)
    assert _diff(gen.generate(both, **RUN), by_caption) > 1e-3  # embeddings by default


def test_img2img_from_init_images(backends):
    images = np.random.default_rng(0).uniform(size=(N, SIZE, SIZE, 3)).astype(np.float32)
    out = backends["sd-img2img"].generate(Conditioning(init_images=images), **RUN)
    assert out.shape == (N, 1, SIZE, SIZE, 3)


@pytest.mark.slow
def test_versatile_mix_weights_the_branches(backends):
    gen = backends["versatile"]
    cond = _cond("versatile")
    new_text = Conditioning(image_embeds=cond.image_embeds,
                            text_embeds=_random(N, N_TEXT_TOKENS, WIDTH, seed=5))
    image_only = VersatileGenerator(gen.pipeline, text_to_image_strength=0.0, progress=False)
    np.testing.assert_allclose(image_only.generate(cond, **RUN),
                               image_only.generate(new_text, **RUN), atol=1e-5)
    # without decoded text the text branch is off, as with a mix of 0
    np.testing.assert_allclose(
        gen.generate(Conditioning(image_embeds=cond.image_embeds), **RUN),
        image_only.generate(cond, **RUN), atol=1e-5)
    assert _diff(gen.generate(cond, **RUN), gen.generate(new_text, **RUN)) > 1e-3
    text_only = gen.generate(Conditioning(text_embeds=cond.text_embeds), **RUN)
    assert text_only.shape == (N, 1, SIZE, SIZE, 3)


def test_vae_decoding_is_the_decoder_output():
    vae = random_vae()
    latents = _random(3, 4, 8, 12, seed=0)
    images = VAEDecoderGenerator(vae, batch_size=2, progress=False).generate(
        Conditioning(init_latents=latents), n_samples=2)
    with torch.no_grad():
        expected = (vae.decode(torch.from_numpy(latents)).sample / 2 + 0.5).clamp(0, 1)
    assert images.shape == (3, 2, 16, 24, 3)
    np.testing.assert_allclose(images[:, 0], expected.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    np.testing.assert_array_equal(images[:, 0], images[:, 1])


def test_loads_a_saved_pipeline_directory(backends, tmp_path):
    gen = backends["sd-img2img"]
    gen.pipeline.save_pretrained(tmp_path / "sd")
    gen.pipeline.vae.save_pretrained(tmp_path / "vae")
    cond = _cond("sd-img2img")
    loaded = SDImg2ImgGenerator(str(tmp_path / "sd"), progress=False)
    np.testing.assert_allclose(loaded.generate(cond, **RUN), gen.generate(cond, **RUN),
                               atol=1e-5)
    decoded = VAEDecoderGenerator(tmp_path / "vae", subfolder=None, progress=False).generate(cond)
    np.testing.assert_allclose(decoded, VAEDecoderGenerator(gen.pipeline.vae).generate(cond),
                               atol=1e-5)


def test_versatile_loads_a_saved_directory(backends, tmp_path):
    pipe = random_versatile()  # the same weights as the fixture's
    pipe._revert_dual_attention()  # the hub's layout: separate image and text UNets
    pipe.save_pretrained(tmp_path)
    cond = _cond("versatile")
    loaded = VersatileGenerator(str(tmp_path), size=SIZE, progress=False)
    np.testing.assert_allclose(loaded.generate(cond, **RUN),
                               backends["versatile"].generate(cond, **RUN), atol=1e-5)


@pytest.mark.parametrize("make", [SDImg2ImgGenerator, UnCLIPGenerator, VersatileGenerator,
                                  VAEDecoderGenerator, BrainGuidedGenerator])
def test_uncached_model_is_a_clear_error_not_a_download(make):
    gen = make("neurodecode-tests/not-in-any-cache", progress=False)
    with pytest.raises(FileNotFoundError, match="not-in-any-cache.*allow_download=True"):
        gen.generate(Conditioning(init_latents=_random(1, 4, 8, 8, seed=0)))


def test_downloads_only_when_allowed(monkeypatch):
    calls = []
    monkeypatch.setattr(random_vae().__class__, "from_pretrained",
                        classmethod(lambda cls, source, **kw: calls.append(kw) or random_vae()))
    cond = Conditioning(init_latents=_random(1, 4, 8, 8, seed=0))
    VAEDecoderGenerator("some/vae", progress=False).generate(cond)
    VAEDecoderGenerator("some/vae", allow_download=True, progress=False).generate(cond)
    assert [kw["local_files_only"] for kw in calls] == [True, False]


def test_versatile_without_the_pipeline_says_what_to_install(monkeypatch):
    monkeypatch.setattr(versatile_module, "VersatileDiffusionDualGuidedPipeline", None)
    with pytest.raises(ImportError, match="pip install 'diffusers"):
        VersatileGenerator()


@pytest.mark.parametrize(("name", "cond", "kwargs", "error"), [
    ("sd-img2img", Conditioning(text_embeds=_random(1, 77, WIDTH, seed=0)), {}, DataError),
    ("sd-img2img", Conditioning(init_latents=_random(1, 4, 8, 8, seed=0),
                                text_embeds=_random(1, 77, 16, seed=0)), {}, DataError),
    ("sd-img2img", Conditioning(init_latents=_random(1, 3, 8, 8, seed=0)), {}, DataError),
    ("sd-img2img", Conditioning(init_latents=_random(1, 4, 8, 8, seed=0)),
     {"steps": 10, "strength": 0.05}, ValueError),
    ("unclip", Conditioning(image_embeds=_random(1, 257, WIDTH, seed=0)), {}, DataError),
    ("unclip", Conditioning(text_embeds=_random(1, 77, WIDTH, seed=0)), {}, DataError),
    ("versatile", Conditioning(image_embeds=_random(1, 256, WIDTH, seed=0)), {}, DataError),
    ("versatile", Conditioning(init_latents=_random(1, 4, 8, 8, seed=0)), {}, DataError),
    ("versatile", Conditioning(), {}, DataError),
])
def test_bad_conditioning_is_refused(backends, name, cond, kwargs, error):
    with pytest.raises(error, match=name):
        backends[name].generate(cond, **kwargs)


def test_vae_refuses_missing_latents():
    with pytest.raises(DataError, match=r"init_latents of shape \(n, 4, h, w\)"):
        VAEDecoderGenerator(random_vae()).generate(Conditioning(image_embeds=np.zeros((1, 8))))
