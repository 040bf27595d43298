"""The main job says what it does and gives every metric a chance level (issue 14).

Before issue 14 the job printed no stage messages, the shuffled control's training bar was
indistinguishable from the real one, and ``chance`` was empty for PixCorr and SSIM (a
shuffled SSIM of .63 looked good). Both tests failed then (no chance_from_control; no stage
lines on stderr).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from neurodecode.reconstruct.pipeline import chance_from_control


def test_chance_comes_from_the_shuffled_control_where_no_closed_form_exists():
    rows = []
    for condition, pix, two_way in (("real", 0.68, 0.99), ("shuffled", 0.05, 0.52)):
        for stage in ("reconstruction", "low-level"):
            rows += [
                {"condition": condition, "stage": stage, "metric": "PixCorr",
                 "value": pix + (stage == "low-level") * 0.1, "chance": np.nan},
                {"condition": condition, "stage": stage, "metric": "SSIM", "value": 0.63,
                 "chance": np.nan},
                {"condition": condition, "stage": stage, "metric": "two-way identification",
                 "value": two_way, "chance": 0.5},
            ]
    out = chance_from_control(pd.DataFrame(rows)).set_index(["condition", "stage", "metric"])
    assert out["chance"].notna().all()
    assert out.loc[("real", "reconstruction", "PixCorr"), "chance"] == 0.05
    assert out.loc[("real", "low-level", "PixCorr"), "chance"] == pytest.approx(0.15)
    assert out.loc[("real", "reconstruction", "SSIM"), "chance_source"] == "shuffled control"
    assert out.loc[("real", "reconstruction", "two-way identification"), "chance"] == 0.5
    assert out.loc[("real", "reconstruction", "two-way identification"),
                   "chance_source"] == "closed form"
    # Without a control run nothing is invented
    alone = chance_from_control(pd.DataFrame([r for r in rows if r["condition"] == "real"]))
    assert alone.loc[alone["metric"] == "PixCorr", "chance"].isna().all()


@pytest.mark.slow  # a whole (tiny) main job: 13 s of CPU, 8 of them imports
def test_main_job_prints_its_stages(tmp_path, monkeypatch):
    from neurodecode.cli import main

    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    config = {
        "name": "tiny-stages",
        "data": {"dataset": "synthetic-vision", "subjects": [1, 2],
                 "params": {"seed": 0, "n_subjects": 2, "n_train": 60, "n_test": 12}},
        "targets": [{"space": "world-embed", "head": "linear"},
                    {"space": "pixels-16", "head": "spatial"}],
        "model": {"width": 32, "depth": 1, "adapter": {"kind": "linear"}},
        "train": {"epochs": 1, "batch_size": 30, "lr": 0.003,
                  "losses": [{"name": "mse", "head": "world-embed"},
                             {"name": "mse", "head": "pixels-16"}]},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, [
        "reconstruct", "--config", str(path), "--generator", "none", "--n-images", "4",
        "--no-baseline", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output + result.stderr
    stages = [line for line in result.stderr.splitlines() if line.startswith("[")]
    text = "\n".join(stages)
    for stage in ("build data", "train the decoder", "train the shuffled control",
                  "generate 4 images", "score"):
        assert stage in text, text
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    real = metrics[metrics["condition"] == "real"]
    assert real["chance"].notna().all()
    saved = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert saved["modality"] == "fmri"
