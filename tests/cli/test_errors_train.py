"""`train --resume` refuses a changed config, before any data is loaded (issue 14).

Before issue 14, resuming after changing width and epochs reloaded the old model and
schedule while config.json recorded the new values (a false record); these tests failed.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from click.testing import CliRunner

from neurodecode.errors import DataError
from neurodecode.training.experiment import ExperimentConfig, check_resume_config

SMALL = {
    "name": "resume-test",
    "data": {"dataset": "synthetic-vision", "subjects": [1, 2]},
    "targets": [{"space": "world-embed", "head": "linear"}],
    "model": {"width": 64, "depth": 1, "adapter": {"kind": "linear"}},
    "train": {"epochs": 4, "batch_size": 32, "lr": 0.003,
              "losses": [{"name": "mse", "head": "world-embed"}]},
}


def _started(out, d):
    """A run folder as `train` leaves it after an epoch (config.json records the experiment)."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = ExperimentConfig.from_dict(copy.deepcopy(d))
    (out / "config.json").write_text(json.dumps({"decoder": {}, "experiment": cfg.to_dict()}))


def test_same_config_may_resume(tmp_path):
    _started(tmp_path / "run", SMALL)
    check_resume_config(ExperimentConfig.from_dict(copy.deepcopy(SMALL)), tmp_path / "run")
    check_resume_config(ExperimentConfig.from_dict(copy.deepcopy(SMALL)), tmp_path / "none")


def test_changed_config_is_refused_naming_the_changes(tmp_path):
    _started(tmp_path / "run", SMALL)
    changed = copy.deepcopy(SMALL)
    changed["model"]["width"] = 128
    with pytest.raises(DataError, match=r"--resume: the run in .*run was started with a "
                                        r"different config \(model\.width: 64 -> 128\)"):
        check_resume_config(ExperimentConfig.from_dict(changed), tmp_path / "run")


def test_cli_resume_with_other_epochs_and_width_fails_before_data(tmp_path, monkeypatch):
    from neurodecode.cli import main
    from neurodecode.training import experiment

    def refuse(*args, **kwargs):
        raise AssertionError("data were loaded")

    monkeypatch.setattr(experiment, "load_dataset", refuse)
    _started(tmp_path / "run", SMALL)
    changed = copy.deepcopy(SMALL)
    changed["model"]["width"] = 32
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(changed))
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out",
                                       str(tmp_path / "run"), "--resume", "--epochs", "9"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert "model.width: 64 -> 32" in line and "train.epochs: 4 -> 9" in line
    assert "without --resume" in line


def test_cli_train_unwritable_out_fails_before_data(tmp_path, monkeypatch):
    from neurodecode.cli import main
    from neurodecode.training import experiment

    def refuse(*args, **kwargs):
        raise AssertionError("data were loaded")

    monkeypatch.setattr(experiment, "load_dataset", refuse)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    (tmp_path / "blocker").write_text("a file")
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out",
                                       str(tmp_path / "blocker" / "run")])
    assert result.exit_code == 1, result.output
    assert "--out" in result.output and "cannot create this folder" in result.output
    assert "blocker is a file, not a folder" in result.output


def test_cli_adapt_unwritable_out_fails_before_work(tmp_path):
    # Before issue 14 `adapt` trained first and failed when saving.
    from neurodecode.cli import main

    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "blocker").write_text("a file")
    result = CliRunner().invoke(main, ["adapt", "--checkpoint", str(tmp_path / "ckpt"),
                                       "--config", str(path), "--subject", "1", "--out",
                                       str(tmp_path / "blocker" / "run")])
    assert result.exit_code == 2, result.output
    assert "blocker is a file, not a folder" in result.output
