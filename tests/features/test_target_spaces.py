"""Target spaces: pixels and the world embedding against hand values, the content-hashed
cache (computed once, written atomically, keyed by what was extracted), and the pretrained
extractors (CLIP image/text, SD-VAE) on tiny randomly initialised models of the real classes,
offline."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from neurodecode.data import DataError, StimulusSet
from neurodecode.features import (
    ClipImage,
    ClipText,
    Pixels,
    SDVAELatent,
    TargetSpace,
    WorldEmbedding,
    cache_dir,
    extract_cached,
    get_extractor,
)
from neurodecode.synth import vision


@pytest.fixture(scope="module")
def stimuli() -> StimulusSet:
    return vision.make_stimuli(6, seed=0, image_size=32)[0]


# ----------------------------------------------------------------------------- simple spaces
def test_pixels_constant_image_stays_constant():
    images = np.empty((2, 32, 32, 3), dtype=np.uint8)
    images[0], images[1] = (255, 128, 0), (10, 20, 30)
    out = Pixels(resolution=8).extract(StimulusSet(ids=[0, 1], images=images))
    assert out.shape == (2, 3, 8, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], np.array([1.0, 128 / 255, 0.0])[:, None, None]
                               * np.ones((3, 8, 8)), atol=1e-6)
    np.testing.assert_allclose(out[1], np.array([10, 20, 30])[:, None, None] / 255
                               * np.ones((3, 8, 8)), atol=1e-6)


def test_pixels_downsample_keeps_layout_and_range(stimuli):
    half = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    half[0, :, :16] = (255, 0, 0)  # left half red, right half black
    out = Pixels(resolution=16).extract(StimulusSet(ids=[0], images=half))[0]
    np.testing.assert_allclose(out[:, :, :7], np.array([1, 0, 0])[:, None, None]
                               * np.ones((3, 16, 7)), atol=1e-6)
    np.testing.assert_allclose(out[:, :, 9:], 0, atol=1e-6)
    assert np.all((out[0, :, 7] > 0.5) & (out[0, :, 8] < 0.5))  # the edge between them
    same = Pixels(resolution=32).extract(stimuli)  # no resize: exactly the bytes / 255
    np.testing.assert_allclose(same, stimuli.images.transpose(0, 3, 1, 2) / 255, atol=1e-7)
    small = Pixels(resolution=5).extract(stimuli)
    assert small.shape == (6, 3, 5, 5) and small.min() >= 0 and small.max() <= 1
    assert Pixels(resolution=5).space == TargetSpace("pixels-5", (3, 5, 5), "pixels")


def test_world_embedding_equals_vision_embed(stimuli):
    ex = WorldEmbedding()
    np.testing.assert_array_equal(ex.extract(stimuli), vision.embed(stimuli.attributes))
    assert ex.space.shape == (vision.EMBED_DIM,) and ex.space.name == "world-embed"
    with pytest.raises(DataError, match="world-embed needs synthetic-vision stimuli"):
        ex.extract(StimulusSet(ids=[0], captions=["x"]))


def test_get_extractor_names():
    assert get_extractor("pixels-12") == Pixels(resolution=12)
    assert isinstance(get_extractor("world-embed"), WorldEmbedding)
    assert get_extractor("clip-image-tokens", model="m").tokens is True
    assert get_extractor("clip-text", model="m").tokens is False
    assert isinstance(get_extractor("sd-vae-latent", model="m"), SDVAELatent)
    with pytest.raises(DataError, match="unknown target space 'clip-audio'; known: world-embed"):
        get_extractor("clip-audio")


# ----------------------------------------------------------------------------- cache
@dataclass
class Counting:
    """Mean colour per image; counts its calls; can return a wrong shape on purpose."""

    dim: int = 3
    calls: int = 0
    seen_files: list = field(default_factory=list)
    watch: object = None

    @property
    def space(self) -> TargetSpace:
        return TargetSpace("mean-colour", (3,), "pooled")

    def cache_key(self) -> dict:
        return {"dim": self.dim}

    def extract(self, stimuli):
        self.calls += 1
        if self.watch is not None:  # nothing may appear in the cache before extraction ends
            self.seen_files.append(sorted(p.name for p in self.watch.iterdir()))
        return stimuli.get_images().mean((1, 2))[:, : self.dim]


def test_cache_computes_once_and_rereads(stimuli, tmp_path):
    ex = Counting(watch=tmp_path)
    first = extract_cached(ex, stimuli, tmp_path)
    second = extract_cached(ex, stimuli, tmp_path)
    assert ex.calls == 1 and ex.seen_files == [[]]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, stimuli.images.mean((1, 2)), rtol=1e-6)
    # the cached array (plus its .sha256 integrity digest, issue 14)
    files = sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".sha256")
    assert len(files) == 1 and files[0].startswith("mean-colour-") and files[0].endswith(".npy")
    np.testing.assert_array_equal(np.load(tmp_path / files[0]), first)


def test_cache_key_follows_stimuli_and_parameters(stimuli, tmp_path):
    ex = Counting()
    extract_cached(ex, stimuli, tmp_path)
    changed = StimulusSet(ids=stimuli.ids, images=stimuli.images,
                          captions=[c + "!" for c in stimuli.captions],
                          attributes=stimuli.attributes)
    extract_cached(ex, changed, tmp_path)
    assert ex.calls == 2
    extract_cached(ex, stimuli.subset(stimuli.ids[:3]), tmp_path)
    assert ex.calls == 3 and len(list(tmp_path.glob("*.npy"))) == 3


def test_cache_default_dir_from_environment(stimuli, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "features"
    extract_cached(Counting(), stimuli)
    assert len(list((tmp_path / "features").glob("mean-colour-*.npy"))) == 1


def test_wrong_declared_shape_raises_and_writes_nothing(stimuli, tmp_path):
    with pytest.raises(DataError, match=r"mean-colour returned shape \(6, 2\), declared \(6, 3\)"):
        extract_cached(Counting(dim=2), stimuli, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_cache_write_leaves_no_file(stimuli, tmp_path, monkeypatch):
    def broken_save(fh, values):
        fh.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        extract_cached(Counting(), stimuli, tmp_path)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- pretrained
PROJ = 16


def _vision_model(seed=0):
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                           num_hidden_layers=2, num_attention_heads=4, projection_dim=PROJ)
    return CLIPVisionModelWithProjection(cfg).eval()


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    """A character-level CLIP tokenizer (no merges) and a tiny text model."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = letters + [c + "</w>" for c in letters] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    torch.manual_seed(0)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37,
                         num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=24,
                         projection_dim=PROJ, bos_token_id=vocab["<|startoftext|>"],
                         eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"])
    return CLIPTextModelWithProjection(cfg).eval(), tok


@pytest.fixture(scope="module")
def tiny_vae():
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4,
                         norm_num_groups=4, layers_per_block=1, sample_size=32).eval()


@pytest.mark.slow
def test_clip_image_pooled_and_tokens(stimuli):
    net = _vision_model()
    pooled = ClipImage(model=net)
    tokens = ClipImage(model=net, tokens=True)
    assert pooled.space == TargetSpace("clip-image", (PROJ,), "pooled")
    assert tokens.space == TargetSpace("clip-image-tokens", ((32 // 8) ** 2 + 1, PROJ), "tokens")
    p, t = pooled.extract(stimuli), tokens.extract(stimuli)
    assert p.shape == (6, PROJ) and t.shape == (6, 17, PROJ)
    assert np.isfinite(t).all() and not np.allclose(p[0], p[1])
    # Versatile Diffusion's form: tokens divided by the class token's norm
    np.testing.assert_allclose(np.linalg.norm(t[:, 0], axis=-1), 1.0, rtol=1e-5)
    # raw form: the pooled embedding is the projected, post-layernormed class token
    raw = ClipImage(model=net, tokens=True, form="raw").extract(stimuli)
    np.testing.assert_allclose(raw[:, 0], p, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(t, raw / np.linalg.norm(raw[:, :1], axis=-1, keepdims=True),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_clip_image_from_local_path_matches_object(stimuli, tmp_path):
    net = _vision_model()
    net.save_pretrained(tmp_path / "clip")
    from_path = ClipImage(model=str(tmp_path / "clip")).extract(stimuli)
    np.testing.assert_allclose(from_path, ClipImage(model=net).extract(stimuli), atol=1e-6)


@pytest.mark.slow
def test_cache_distinguishes_models_with_the_same_config(stimuli, tmp_path):
    """Two networks with one config but different weights must not share cached features."""
    a, b = ClipImage(model=_vision_model(0)), ClipImage(model=_vision_model(1))
    from_a = extract_cached(a, stimuli, tmp_path)
    from_b = extract_cached(b, stimuli, tmp_path)
    np.testing.assert_allclose(from_b, b.extract(stimuli), atol=1e-6)
    assert not np.allclose(from_a, from_b)


@pytest.mark.slow
def test_clip_text_pooled_and_tokens(stimuli, tiny_text):
    net, tok = tiny_text
    pooled = ClipText(model=net, tokenizer=tok)
    tokens = ClipText(model=net, tokenizer=tok, tokens=True, form="raw")
    assert pooled.space == TargetSpace("clip-text", (PROJ,), "pooled")
    assert tokens.space == TargetSpace("clip-text-tokens", (24, 32), "tokens")
    p, t = pooled.extract(stimuli), tokens.extract(stimuli)
    assert p.shape == (6, PROJ) and t.shape == (6, 24, 32)
    versatile = ClipText(model=net, tokenizer=tok, tokens=True)  # projected, /|pooled|
    assert versatile.space == TargetSpace("clip-text-tokens", (24, PROJ), "tokens")
    assert versatile.extract(stimuli).shape == (6, 24, PROJ)
    assert len(set(stimuli.captions)) == 6
    distances = np.linalg.norm(p[:, None] - p[None], axis=-1)
    assert distances[~np.eye(6, dtype=bool)].min() > 1e-3  # different captions, different vectors
    again = pooled.encode_texts([stimuli.captions[2], stimuli.captions[0]])
    np.testing.assert_allclose(again, p[[2, 0]], atol=1e-5)  # batch composition does not matter


@pytest.mark.slow
def test_sd_vae_latent_shape(stimuli, tiny_vae, tmp_path):
    ex = SDVAELatent(model=tiny_vae, image_size=32, batch_size=4)
    assert ex.space == TargetSpace("sd-vae-latent", (4, 16, 16), "latent")
    out = extract_cached(ex, stimuli, tmp_path)
    assert out.shape == (6, 4, 16, 16) and np.isfinite(out).all()
    assert not np.allclose(out[0], out[1])
    # batching does not change the numbers
    np.testing.assert_allclose(SDVAELatent(model=tiny_vae, image_size=32, batch_size=6)
                               .extract(stimuli), out, atol=1e-5)


@pytest.mark.parametrize("name", ["clip-image", "clip-text", "sd-vae-latent"])
def test_absent_hub_model_offline_raises_data_error(name, stimuli, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ex = get_extractor(name, model="neurodecode-tests/absent-model")
    with pytest.raises(DataError, match="allow_download=True") as err:
        extract_cached(ex, stimuli, tmp_path)
    assert "neurodecode-tests/absent-model" in str(err.value)
    assert list(tmp_path.iterdir()) == []
