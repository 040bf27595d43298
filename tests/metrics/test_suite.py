"""The evaluation suite: rows, intervals, protocol, files."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from neurodecode.data.errors import DataError
from neurodecode.metrics import (
    FeatureNetwork,
    evaluate_reconstructions,
    feature_scores,
    pixcorr_scores,
    retrieval_topk,
    save_metrics,
    ssim_scores,
)


def scene(n=16, size=32, seed=0):
    rng = np.random.default_rng(seed)
    gt = rng.random((n, size, size, 3), dtype=np.float32)
    rec = np.clip(gt + 0.3 * rng.standard_normal(gt.shape, dtype=np.float32), 0, 1)
    return gt, (rec * 255).astype(np.uint8)


def tiny_network(score="two_way"):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
    return FeatureNetwork(f"tiny-{score}", model, "2", 24, score=score, model_id="random")


def test_rows_hold_values_intervals_and_protocol():
    gt, rec = scene(n=8)
    nets = [tiny_network(), tiny_network("correlation_distance")]
    rng = np.random.default_rng(1)
    true = rng.standard_normal((8, 10))
    emb = {"world-embed": (true, true + 0.5 * rng.standard_normal((8, 10)))}
    df = evaluate_reconstructions(
        gt, rec, networks=nets, embeddings=emb, n_boot=200, retrieval_set_size=300, quiet=True
    )
    metrics = list(df["metric"])
    assert metrics[:4] == ["PixCorr", "SSIM", "tiny-two_way", "tiny-correlation_distance"]
    assert "two-way identification [world-embed]" in metrics
    assert "top-5 retrieval backward [world-embed]" in metrics
    by = df.set_index("metric")
    assert by.loc["PixCorr", "value"] == pytest.approx(pixcorr_scores(gt, rec).mean())
    assert by.loc["SSIM", "value"] == pytest.approx(ssim_scores(gt, rec).mean())
    tw = feature_scores(gt, rec, nets[0]).mean()
    assert by.loc["tiny-two_way", "value"] == pytest.approx(tw)
    assert (df["ci_low"] <= df["value"] + 1e-12).all() and (
        df["value"] <= df["ci_high"] + 1e-12
    ).all()
    assert (df["n_images"] == 8).all()
    assert by.loc["PixCorr", "resize"] == 425 and by.loc["tiny-two_way", "resize"] == 24
    assert by.loc["PixCorr", "pre_resize"] == "none"
    assert "bilinear" in by.loc["SSIM", "interpolation"]
    assert not by.loc["tiny-correlation_distance", "higher_is_better"]
    ret = retrieval_topk(emb["world-embed"][1], true, set_size=8)
    assert by.loc["top-1 retrieval backward [world-embed]", "value"] == ret["top1_backward"]
    # only 8 items: the retrieval set is all of them, and says so
    assert by.loc["top-1 retrieval forward [world-embed]", "retrieval_set_size"] == 8
    assert by.loc["top-1 retrieval forward [world-embed]", "chance"] == pytest.approx(1 / 8)


def test_matched_images_beat_shuffled_ones_which_sit_at_chance():
    rng = np.random.default_rng(0)
    gt = rng.random((40, 24, 24, 3), dtype=np.float32)
    rec = np.clip(gt + 0.1 * rng.standard_normal(gt.shape, dtype=np.float32), 0, 1)
    shuffled = rec[np.roll(np.arange(40), 7)]
    kw = {"networks": [tiny_network()], "n_boot": 200, "quiet": True, "pixel_metrics": False}
    good = evaluate_reconstructions(gt, rec, **kw).set_index("metric")["value"]
    bad = evaluate_reconstructions(gt, shuffled, **kw).set_index("metric")["value"]
    assert good["tiny-two_way"] > 0.9 and abs(bad["tiny-two_way"] - 0.5) < 0.2
    again = evaluate_reconstructions(gt, rec, **kw)
    pd.testing.assert_frame_equal(again, evaluate_reconstructions(gt, rec, **kw))  # seeded
    assert pixcorr_scores(gt, rec, size=24).mean() > 0.8
    assert abs(pixcorr_scores(gt, shuffled, size=24).mean()) < 0.1


def test_files_are_written_together_and_bad_embeddings_refused(tmp_path):
    gt, rec = scene(n=6, size=16)
    df = evaluate_reconstructions(gt, rec, n_boot=50, quiet=True)
    paths = save_metrics(df, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["metrics.csv", "metrics.json"]
    rows = json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]
    assert [r["metric"] for r in rows] == ["PixCorr", "SSIM"]
    assert rows[0]["value"] == pytest.approx(df["value"][0])
    csv = pd.read_csv(tmp_path / "out" / "metrics.csv")
    np.testing.assert_allclose(csv["ci_high"], df["ci_high"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.csv", "metrics.json"]
    with pytest.raises(DataError, match="expected 6"):
        evaluate_reconstructions(
            gt, rec, embeddings={"e": (np.zeros((5, 3)), np.zeros((5, 3)))}, quiet=True
        )
