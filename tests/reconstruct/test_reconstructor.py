"""Reconstructor routing, honest best-of-N, and the pixel and embedded generators."""

import numpy as np
import pytest
import torch

from neurodecode.reconstruct.base import Conditioning
from neurodecode.reconstruct.embedded import CodecConfig, EmbeddedGenerator, WorldCodec
from neurodecode.reconstruct.pixels import PixelGenerator
from neurodecode.reconstruct.reconstructor import Reconstructor, conditioning_from_predictions


def test_predictions_are_routed_to_conditioning_fields():
    preds = {"world-embed": np.ones((2, 20)), "pixels-16": np.full((2, 3, 16, 16), 2.0),
             "clip-image-tokens": np.zeros((2, 5, 8)), "shared": np.zeros((2, 4))}
    cond = conditioning_from_predictions(preds)
    assert cond.semantic.shape == (2, 20)
    assert cond.init_images.shape == (2, 16, 16, 3) and cond.init_images.max() == 1.0
    assert cond.image_embeds.shape == (2, 5, 8)
    assert len(cond) == 2 and cond.select([1]).semantic.shape == (1, 20)


class ColourGenerator:
    """Candidate j of every row is a flat image of grey level j / 10."""

    name = "stub"

    def generate(self, cond, n_samples=1, steps=20, guidance=5.0, strength=0.8, seed=0):
        n = len(cond)
        levels = np.arange(n_samples) / 10
        return np.broadcast_to(levels[None, :, None, None, None], (n, n_samples, 4, 4, 3)).copy()


def test_best_of_n_picks_the_candidate_closest_to_the_decoded_embedding():
    # The selector embeds an image as [mean, 1 - mean]; decoded embeddings point at levels .3
    # and .1, so candidates 3 and 1 must win whatever the ground truth might be.
    def selector(images):
        m = images.reshape(len(images), -1).mean(1)
        return np.stack([m, 1 - m], 1)

    decoded = np.array([[0.3, 0.7], [0.1, 0.9]])
    recon = Reconstructor(ColourGenerator(), selector=selector, n_samples=5)
    out = recon.reconstruct({"world-embed": decoded})
    assert out["chosen"].tolist() == [3, 1]
    assert np.allclose(out["images"][0], 0.3) and out["candidates"].shape == (2, 5, 4, 4, 3)
    with pytest.raises(ValueError, match="selector"):
        Reconstructor(ColourGenerator(), n_samples=2).reconstruct({"world-embed": decoded})


def test_pixel_generator_upsamples_the_low_level_image():
    low = np.random.default_rng(0).random((3, 8, 8, 3))
    out = PixelGenerator(size=32).generate(Conditioning(init_images=low), n_samples=2)
    assert out.shape == (3, 2, 32, 32, 3)
    assert np.allclose(out[:, 0].mean((1, 2)), low.mean((1, 2)), atol=0.05)


def test_embedded_generator_is_deterministic_and_strength_one_ignores_the_hint():
    torch.manual_seed(0)
    gen = EmbeddedGenerator(WorldCodec(CodecConfig()).eval())
    rng = np.random.default_rng(0)
    cond = Conditioning(semantic=rng.normal(size=(2, 20)).astype(np.float32),
                        init_images=rng.random((2, 16, 16, 3)))
    a = gen.generate(cond, n_samples=3, seed=4)
    assert a.shape == (2, 3, 32, 32, 3) and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, gen.generate(cond, n_samples=3, seed=4))
    assert not np.array_equal(a[:, 1], gen.generate(cond, n_samples=3, seed=5)[:, 1])
    free = gen.generate(Conditioning(semantic=cond.semantic), strength=1.0)
    assert np.allclose(gen.generate(cond, strength=1.0), free)
    assert not np.allclose(gen.generate(cond, strength=0.0), free)
    assert gen.encode_images(a[:, 0]).shape == (2, 20)
