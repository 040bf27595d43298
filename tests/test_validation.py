"""Experiment configs are validated before any data is loaded, with file:line errors.

On the main branch before issue 14: ``lr: "1e-3"`` failed inside the optimizer with a
traceback, ``batch_size: 0`` raised ZeroDivisionError, ``width: -5`` failed in torch,
``epochs: 0`` exited 0 with chance metrics, unknown keys under ``model`` raised TypeError
without a line, and unknown loss names surfaced only after the data were built. Every test
below failed then.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from neurodecode.config import ConfigError, load_experiment_dict, validate_experiment
from neurodecode.errors import DataError
from neurodecode.training.experiment import ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "pipelines" / "recon" / "synthetic-default.yaml"


def _edited(tmp_path, old: str, new: str) -> Path:
    text = DEFAULT.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "exp.yaml"
    path.write_text(text.replace(old, new))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, message", [
    ("lr: 0.002", 'lr: "1e-3"', r"train\.lr: expected a number, found the string '1e-3' "
                                r"\(a quoted number"),
    ("lr: 0.002", "lr: -0.1", r"train\.lr: expected a number > 0, found -0\.1"),
    ("batch_size: 128", "batch_size: 0", r"train\.batch_size: expected an integer >= 1, found 0"),
    ("epochs: 12", "epochs: -3", r"train\.epochs: expected an integer >= 1, found -3"),
    ("epochs: 12", "epochs: 2.5", r"train\.epochs: expected an integer, found float 2\.5"),
    ("width: 256", "width: -5", r"model\.width: expected an integer >= 1, found -5"),
    ("depth: 2", "depht: 2", r"model\.depht: unknown key \(did you mean 'depth'\?\)"),
    ("{kind: mlp, dropout: 0.5}", "{kind: mpl, dropout: 0.5}",
     r"model\.adapter\.kind: expected one of \['anat', 'linear', 'mlp', 'pool'\], found 'mpl'"),
    ("{name: mse, head: pixels-16, weight: 10.0}", "{name: mes, head: pixels-16, weight: 10.0}",
     r"train\.losses\[3\]\.name: expected one of \[.*'mse'.*\], found 'mes'"),
    ("{name: mse, head: pixels-16, weight: 10.0}", "{name: mse, head: pixels-32, weight: 10.0}",
     r"train\.losses\[3\]\.head: 'pixels-32' is not a target space"),
    ("{name: mse, head: pixels-16, weight: 10.0}", "{name: voxel, weight: 1.0}",
     r"train\.losses\[3\]: loss 'voxel' needs model\.adapter\.builder: true"),
    ("{space: pixels-16, head: spatial, channels: 32}", "{space: pixels-16, head: conv}",
     r"targets\[1\]\.head: expected one of"),
])
def test_bad_values_are_refused_with_file_and_line(tmp_path, old, new, message):
    path = _edited(tmp_path, old, new)
    line = _line_of(path, new)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:{line}: {message}"):
        load_config(path)


def test_unquoted_exponent_is_a_number_quoted_text_is_not(tmp_path):
    # PyYAML (YAML 1.1) reads a plain 1e-3 as a string; written unquoted it means a number.
    cfg = load_config(_edited(tmp_path, "lr: 0.002", "lr: 2e-3"))
    assert cfg.train.lr == pytest.approx(2e-3) and isinstance(cfg.train.lr, float)


def test_every_shipped_config_validates():
    for path in sorted((ROOT / "pipelines" / "recon").glob("*.yaml")):
        d = load_experiment_dict(path)
        assert d["train"].get("epochs", 1) >= 1  # ridge-only configs leave the default


def test_several_problems_are_reported_together():
    d = {"name": "x", "data": {"datset": "synthetic-vision"},
         "targets": [{"space": "world-embed"}],
         "model": {"width": 0}, "train": {"batch_size": 0}, "extra": 1}
    with pytest.raises(ConfigError) as err:
        validate_experiment(d, "mine")
    text = str(err.value)
    for part in ("mine: extra: unknown section", "data.datset: unknown key (did you mean "
                 "'dataset'?)", "model.width: expected an integer >= 1",
                 "train.batch_size: expected an integer >= 1"):
        assert part in text
    assert "\n" not in text


def test_from_dict_validates_too():
    with pytest.raises(DataError, match=r"<dict>: train\.lr: expected a number, found the "
                                        r"string '1e-3'"):
        ExperimentConfig.from_dict({"name": "x", "data": {}, "targets": [{"space": "pixels-16"}],
                                    "train": {"lr": "1e-3"}})


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndata: {dataset: a\ntargets: []\n")
    with pytest.raises(DataError, match=r"broken.yaml:\d: not valid YAML"):
        load_config(path)


def test_cli_train_refuses_a_bad_config_in_one_line_before_loading_data(tmp_path, monkeypatch):
    from neurodecode.cli import main
    from neurodecode.training import experiment

    def no_data(*args, **kwargs):  # the config must be refused before any data is built
        raise AssertionError("data were loaded")

    monkeypatch.setattr(experiment, "load_dataset", no_data)
    path = _edited(tmp_path, "batch_size: 128", "batch_size: 0")
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"Error: {path}:{_line_of(path, 'batch_size')}: train.batch_size: expected an " \
           "integer >= 1, found 0" in result.output
    result = CliRunner().invoke(main, ["train", "--config", str(DEFAULT), "--out",
                                       str(tmp_path / "out"), "--epochs", "0"])
    assert result.exit_code == 2 and "--epochs" in result.output


# --------------------------------------------------------------------------- pipeline YAML
@pytest.mark.parametrize("old, new, line_of, message", [
    ("{C: 1.0, max_iter: 1000}", "{C: -1.0, max_iter: 1000}", "C: -1.0",
     r"LogisticRegression: The 'C' parameter of LogisticRegression must be a float in the "
     r"range \(0\.0, inf\]\. Got -1\.0 instead"),
    ("{C: 1.0, max_iter: 1000}", "{C: 1.0, max_iter: 1000, solver: lbgfs}", "solver",
     r"LogisticRegression: The 'solver' parameter of LogisticRegression must be a str among"),
])
def test_pipeline_parameter_values_are_checked_when_read(tmp_path, old, new, line_of, message):
    from neurodecode.benchmark.pipelines import load_pipeline

    text = (ROOT / "pipelines" / "TS_LR.yml").read_text()
    path = tmp_path / "p.yml"
    path.write_text(text.replace(old, new))
    with pytest.raises(DataError, match=rf"p\.yml:{_line_of(path, line_of)}: {message}"):
        load_pipeline(path)


def test_pipeline_grid_values_are_checked_when_read(tmp_path):
    from neurodecode.benchmark.pipelines import load_pipeline

    path = tmp_path / "grid.yml"
    path.write_text(
        "name: LR grid\nparadigms: [LeftRightImagery]\npipeline:\n"
        "  - {name: StandardScaler, from: sklearn.preprocessing}\n"
        "  - {name: LogisticRegression, from: sklearn.linear_model}\n"
        "param_grid:\n  logisticregression__C: [0.1, 0.0, 10.0]\n")
    with pytest.raises(DataError, match=r"grid\.yml:7: LogisticRegression: The 'C' parameter.*"
                                        r"Got 0\.0 instead"):
        load_pipeline(path)
    path.write_text(path.read_text().replace("0.0, 10.0", "1.0, 10.0"))
    assert load_pipeline(path).param_grid == {"logisticregression__C": [0.1, 1.0, 10.0]}
