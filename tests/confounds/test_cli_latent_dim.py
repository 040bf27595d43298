"""``confounds fit --latent-dim``: an integer or ``auto`` (the sample-size-aware size of
``DemoVAE(latent_dim="auto")``), anything else refused in one line naming the option."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from neurodecode.cli import main
from neurodecode.synth import fc_demographics


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    world = fc_demographics.make(n_subjects=24, seed=3, n_rois=14)
    fc_demographics.write(world, root)
    return root, world


def _fit(root, latent_dim, out):
    return CliRunner().invoke(main, [
        "confounds", "fit", "--data", str(root), "--phenotypic", str(root / "phenotypic.csv"),
        "--atlas", "synth", "--id-column", "participant_id", "--continuous", "age",
        "--epochs", "1", "--hidden-dim", "8", "--latent-dim", latent_dim, "--quiet",
        "--out", str(out)])


def test_auto_is_accepted_recorded_and_matches_the_python_api(folder, tmp_path):
    from neurodecode.confounds.demovae import DemoVAE, auto_latent_dims

    root, world = folder
    res = _fit(root, "auto", tmp_path / "m")
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["latent_dim"] == "auto"
    chosen = config["latent_dim_"]
    # 24 participants, one continuous demographic (1 direction projected out): 2, 4, 8
    assert auto_latent_dims(24, 1) == [2, 4, 8]
    assert chosen in (2, 4, 8)
    assert f"--latent-dim auto: chose {chosen} of sizes [2, 4, 8]" in res.output
    # the same choice as the Python API with the same settings and data
    data = world.subjects["group"]
    api = DemoVAE(continuous=["age"], latent_dim="auto", hidden_dim=8, n_epochs=1,
                  random_state=0, verbose=False).fit(data.X, demographics=data.metadata)
    assert api.latent_dim_ == chosen
    # the saved model loads at the chosen size and transforms
    res = CliRunner().invoke(main, [
        "confounds", "transform", "--data", str(root), "--phenotypic",
        str(root / "phenotypic.csv"), "--atlas", "synth", "--id-column", "participant_id",
        "--model", str(tmp_path / "m"), "--out", str(tmp_path / "z.csv")])
    assert res.exit_code == 0, res.output
    header = (tmp_path / "z.csv").read_text().splitlines()[0].split(",")
    assert len(header) == 1 + chosen


@pytest.mark.parametrize("value", ["big", "0", "-3", "4.5", ""])
def test_bad_latent_dim_is_refused_in_one_line_before_any_work(tmp_path, value):
    # an empty --data folder: the value is refused while parsing, before any data is read
    res = CliRunner().invoke(main, ["confounds", "fit", "--data", str(tmp_path), "--out",
                                    str(tmp_path / "m"), "--latent-dim", value])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: Invalid value for '--latent-dim': {value!r} is not a positive "
                      "integer or 'auto'"], res.output
    assert "Traceback" not in res.output and not (tmp_path / "m" / "config.json").exists()


def test_integer_and_any_case_auto_convert():
    from neurodecode.cli.confounds import LatentDim

    kind = LatentDim()
    assert kind.convert("16", None, None) == 16 and kind.convert(8, None, None) == 8
    assert kind.convert("AUTO", None, None) == "auto" and kind.convert(" auto", None, None) == "auto"
