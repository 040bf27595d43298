"""Several reconstruction sets of the same ground truth scored together: the same numbers as
one set at a time, hand-computable values, and ground-truth work done once."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage
from torch import nn

from neurodecode.data.errors import DataError
from neurodecode.metrics import (
    FeatureNetwork,
    evaluate_reconstruction_sets,
    evaluate_reconstructions,
    pixcorr_scores,
    pixel_scores,
    ssim_scores,
)
from neurodecode.metrics.images import ssim_grey

C1, C2 = 0.01**2, 0.03**2


def flat(values, size=16):
    """Constant RGB images, one per value."""
    return np.broadcast_to(np.asarray(values, np.float32)[:, None, None, None],
                           (len(values), size, size, 3)).copy()


def test_hand_computed_pixcorr_and_ssim_for_every_set_of_one_pass():
    rng = np.random.default_rng(0)
    gt = rng.random((5, 16, 16, 3), dtype=np.float32)
    sets = [gt, 1 - gt, 0.5 * gt + 0.25, flat([0.5] * 5)]
    # size 16 = the images' own size: no resizing, so the numbers are hand-computable
    scores = pixel_scores(gt, sets, size=16, batch_size=2)  # batches of 2, 2 and 1 images
    np.testing.assert_allclose(scores[0]["pixcorr"], 1.0, atol=1e-12)
    np.testing.assert_allclose(scores[1]["pixcorr"], -1.0, atol=1e-12)
    np.testing.assert_allclose(scores[2]["pixcorr"], 1.0, atol=1e-6)  # affine: r = 1
    np.testing.assert_array_equal(scores[3]["pixcorr"], 0.0)  # a flat image: r = 0
    np.testing.assert_allclose(scores[0]["ssim"], 1.0, atol=1e-12)
    assert (scores[1]["ssim"] < 0).all()  # anticorrelated structure
    # flat images: every variance is 0, so SSIM = (2ab + C1) / (a² + b² + C1) exactly
    a, b = np.array([0.2, 0.9, 0.5]), np.array([0.6, 0.1, 0.5])
    [got] = pixel_scores(flat(a), [flat(b)], size=16, metrics=("ssim",))
    np.testing.assert_allclose(got["ssim"], (2 * a * b + C1) / (a**2 + b**2 + C1), rtol=1e-6)


def test_sets_of_other_sizes_score_as_one_at_a_time_and_as_scipy_float64():
    rng = np.random.default_rng(1)
    gt = rng.random((5, 24, 24, 3), dtype=np.float32)
    sets = [rng.random((5, s, s, 3), dtype=np.float32) for s in (8, 24, 40)]
    sets.append(np.clip(gt + 0.1 * rng.standard_normal(gt.shape, dtype=np.float32), 0, 1))
    together = pixel_scores(gt, sets, size=48, batch_size=3)
    for rec, scores in zip(sets, together, strict=True):
        np.testing.assert_array_equal(scores["pixcorr"], pixcorr_scores(gt, rec, size=48))
        np.testing.assert_allclose(scores["ssim"], ssim_scores(gt, rec, size=48), atol=1e-15)
    # at the images' own size PixCorr is numpy's Pearson r of the flattened RGB pixels
    expected = [np.corrcoef(g.ravel(), r.ravel())[0, 1] for g, r in zip(gt, sets[3], strict=True)]
    np.testing.assert_allclose(pixel_scores(gt, sets[1:], size=24)[2]["pixcorr"], expected,
                               rtol=1e-6)
    assert together[3]["ssim"].min() > together[0]["ssim"].max()  # the noisy copy wins


def test_ssim_matches_the_scipy_float64_definition():
    rng = np.random.default_rng(2)
    a, b = rng.random((3, 30, 20)), rng.random((3, 30, 20))

    def blur(x):  # the definition: scipy's Gaussian filter, 5-pixel border dropped
        return ndimage.gaussian_filter(x, sigma=(0, 1.5, 1.5), truncate=3.5)[:, 5:-5, 5:-5]

    ua, ub = blur(a), blur(b)
    va, vb, vab = blur(a * a) - ua**2, blur(b * b) - ub**2, blur(a * b) - ua * ub
    s = ((2 * ua * ub + C1) * (2 * vab + C2)) / ((ua**2 + ub**2 + C1) * (va + vb + C2))
    np.testing.assert_allclose(ssim_grey(a, b), s.mean(axis=(1, 2)), rtol=0, atol=1e-14)
    with pytest.raises(DataError, match="11×11"):
        ssim_grey(a[:, :10], b[:, :10])


class CountingNet(nn.Module):
    """A tiny convolution that counts the images it sees."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        return self.conv(x).flatten(1)


def test_suite_sets_equal_one_at_a_time_and_see_the_ground_truth_once():
    rng = np.random.default_rng(3)
    n = 10
    gt = rng.random((n, 20, 20, 3), dtype=np.float32)
    good = np.clip(gt + 0.2 * rng.standard_normal(gt.shape, dtype=np.float32), 0, 1)
    bad = good[::-1].copy()
    low = rng.random((n, 8, 8, 3), dtype=np.float32)
    true = rng.standard_normal((n, 6))
    emb = {"space": (true, true + 0.3 * rng.standard_normal((n, 6)))}
    model = CountingNet()
    net = FeatureNetwork("count", model, None, 16, model_id="random")
    kw = {"n_boot": 50, "quiet": True, "retrieval_set_size": 8}
    together = evaluate_reconstruction_sets(
        gt, {"good": good, "bad": bad, "low": low},
        networks={"good": [net], "bad": [net]}, embeddings={"good": emb}, **kw)
    assert model.seen == 3 * n  # ground truth once, then each of the two sets that use it
    assert list(together) == ["good", "bad", "low"]
    alone = {
        "good": evaluate_reconstructions(gt, good, networks=[net], embeddings=emb, **kw),
        "bad": evaluate_reconstructions(gt, bad, networks=[net], **kw),
        "low": evaluate_reconstructions(gt, low, **kw),
    }
    for label, frame in alone.items():
        pd.testing.assert_frame_equal(together[label], frame)
    assert list(together["low"]["metric"]) == ["PixCorr", "SSIM"]
    by = {k: f.set_index("metric")["value"] for k, f in together.items()}
    assert by["good"]["count"] > by["bad"]["count"] and by["good"]["PixCorr"] > 0.5
    with pytest.raises(DataError, match="not among"):
        evaluate_reconstruction_sets(gt, {"good": good}, networks={"other": [net]}, **kw)
    with pytest.raises(DataError, match="'bad'.*one reconstruction per"):
        evaluate_reconstruction_sets(gt, {"good": good, "bad": bad[:3]}, **kw)
