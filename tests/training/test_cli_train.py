"""`neurodecode train` then `neurodecode adapt` from the command line."""

import json

import pytest
import yaml
from click.testing import CliRunner

from neurodecode.cli import main

pytestmark = pytest.mark.slow


def test_train_then_adapt_a_new_subject(tmp_path, monkeypatch, small_config_dict):
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    small_config_dict["train"]["epochs"] = 3
    full = tmp_path / "all.yaml"
    full.write_text(yaml.safe_dump(small_config_dict))
    small_config_dict["data"]["subjects"] = [2, 3]
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(small_config_dict))
    runner = CliRunner()
    trained = runner.invoke(main, ["train", "--config", str(sources), "--out",
                                   str(tmp_path / "pre"), "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert "subject 2: top-1" in trained.output and "subject 1" not in trained.output
    metrics = json.loads((tmp_path / "pre" / "metrics.json").read_text())
    assert metrics["decoder"] == "deep" and metrics["seed"] == 0
    # the ridge baseline, scored on the same split beside the decoder
    assert [m["subject"] for m in metrics["ridge_baseline"]] == ["2", "3"]
    assert min(m["two_way"] for m in metrics["ridge_baseline"]) > 0.9
    ridge = runner.invoke(main, ["train", "--config", str(sources), "--out",
                                 str(tmp_path / "ridge"), "--quiet", "--decoder", "ridge"])
    assert ridge.exit_code == 0, ridge.output
    saved = json.loads((tmp_path / "ridge" / "config.json").read_text())
    assert saved["decoder"]["decoder"] == "ridge"
    adapted = runner.invoke(main, ["adapt", "--checkpoint", str(tmp_path / "pre"), "--config",
                                   str(full), "--subject", "1", "--policy", "adapter_only",
                                   "--fraction", "0.5", "--out", str(tmp_path / "new"),
                                   "--quiet"])
    assert adapted.exit_code == 0, adapted.output
    report = json.loads((tmp_path / "new" / "adapt_report.json").read_text())
    assert report["policy"] == "adapter_only" and report["reinitialised"]
    assert all(name.startswith(("adapters.1.", "builders.1.")) for name in report["trainable"])
    assert report["metrics"]["top1_forward"] > 3 * report["metrics"]["chance_top1"]
    missing = runner.invoke(main, ["adapt", "--checkpoint", str(tmp_path / "pre"), "--config",
                                   str(full), "--subject", "9", "--out", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "subjects ['9'] not in" in missing.output
    assert "Traceback" not in missing.output
