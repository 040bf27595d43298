"""The main job end to end on a small world: files, honest metrics, shuffled control."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from neurodecode.cli import main
from neurodecode.reconstruct.embedded import DEFAULT_WEIGHTS, EmbeddedGenerator, load_codec

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_config(tmp_path, monkeypatch, small_recon_dict):
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(small_recon_dict))
    return path


@pytest.fixture
def small_recon_dict():
    return {
        "name": "tiny-recon",
        "data": {"dataset": "synthetic-vision", "subjects": [1, 2],
                 "params": {"seed": 0, "n_subjects": 2, "n_train": 200, "n_test": 40,
                            "noise": 3.0}},
        "targets": [{"space": "world-embed", "head": "linear"},
                    {"space": "pixels-16", "head": "spatial"}],
        "model": {"width": 128, "depth": 1, "dropout": 0.1, "adapter": {"kind": "linear"}},
        "train": {"epochs": 8, "batch_size": 32, "lr": 0.003, "seed": 0,
                  "losses": [{"name": "mse", "head": "world-embed"},
                             {"name": "softclip", "head": "world-embed", "temperature": 0.1},
                             {"name": "mse", "head": "pixels-16", "weight": 10.0}]},
    }


def test_shipped_codec_encodes_and_renders_unseen_world_images():
    from neurodecode.metrics import two_way_identification
    from neurodecode.synth.vision import make_stimuli

    gen = EmbeddedGenerator(load_codec(DEFAULT_WEIGHTS))
    stimuli, semantic = make_stimuli(64, seed=3)  # not the codec's training seed
    assert two_way_identification(semantic, gen.encode_images(stimuli.images)) > 0.97
    from neurodecode.reconstruct.base import Conditioning

    images = gen.generate(Conditioning(semantic=semantic))[:, 0]
    r = [np.corrcoef(a.ravel(), b.ravel() / 255)[0, 1] for a, b in zip(images, stimuli.images,
                                                                       strict=True)]
    assert np.mean(r) > 0.7


def test_reconstruct_command_writes_figure_metrics_and_falls_to_chance_when_shuffled(
        tiny_config, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["reconstruct", "--subject", "1", "--config",
                                       str(tiny_config), "--out", str(out), "--quiet",
                                       "--n-samples", "3"])
    assert result.exit_code == 0, result.output
    for name in ("reconstructions.png", "metrics.json", "metrics.csv", "config.yaml"):
        assert (out / name).exists(), name
    with Image.open(out / "reconstructions.png") as im:
        assert im.size[0] > 300
    rows = pd.DataFrame(json.loads((out / "metrics.json").read_text())["metrics"])
    csv = pd.read_csv(out / "metrics.csv")
    assert len(csv) == len(rows) and {"ci_low", "ci_high", "resize", "n_images"} <= set(csv)

    def value(condition, metric, stage="reconstruction", decoder="deep"):
        sel = rows[(rows.condition == condition) & (rows.metric == metric)
                   & (rows.stage == stage) & (rows.decoder == decoder)]
        assert len(sel) == 1, (condition, metric, decoder)
        return float(sel.value.iloc[0])

    decoded = "two-way identification [world-embed (decoded)]"
    assert value("real", decoded) > 0.9
    assert 0.35 < value("shuffled", decoded) < 0.65
    assert value("real", "WorldProbe(semantic)") > 0.85
    assert value("real", "PixCorr") > value("shuffled", "PixCorr") + 0.1
    assert value("real", "PixCorr", stage="low-level") > 0.3
    # the ridge baseline sits beside the deep decoder, on the same split and generator
    assert value("real", decoded, decoder="ridge") > 0.9
    assert set(rows.decoder) == {"deep", "ridge"}
    assert set(rows[rows.decoder == "ridge"].condition) == {"real"}
    report = json.loads((out / "metrics.json").read_text())
    assert set(report["side_by_side"]["PixCorr"]) == {"deep (real)", "ridge (real)",
                                                       "deep (shuffled)"}
    assert report["seeds"]["decoder_training"] == 0 and report["split"]["n_test_images"] == 40
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["n_images"] == 40 and "never ground truth" in resolved["best_of_n"]

    # A second run reuses the cached decoders and gives the same numbers.
    again = CliRunner().invoke(main, ["reconstruct", "--config", str(tiny_config), "--out",
                                      str(tmp_path / "again"), "--quiet", "--n-samples", "3"])
    assert again.exit_code == 0, again.output
    rows2 = pd.DataFrame(json.loads((tmp_path / "again" / "metrics.json").read_text())["metrics"])
    assert np.allclose(rows.value, rows2.value)


def test_pixel_generator_needs_no_pretrained_weights(tiny_config, tmp_path):
    out = tmp_path / "none"
    result = CliRunner().invoke(main, ["reconstruct", "--config", str(tiny_config), "--out",
                                       str(out), "--quiet", "--generator", "none",
                                       "--no-control", "--n-images", "12"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "metrics.csv")
    assert set(rows.condition) == {"real"} and (rows.n_images == 12).all()
