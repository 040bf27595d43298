import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from neurodecode.cli import main
from neurodecode.synth import fc_demographics


@pytest.mark.slow
def test_fit_transform_sample(tmp_path):
    world = fc_demographics.make(n_subjects=40, seed=0, n_rois=14)
    fc_demographics.write(world, tmp_path / "data")
    data = ["--data", str(tmp_path / "data"), "--phenotypic",
            str(tmp_path / "data" / "phenotypic.csv"), "--atlas", "synth",
            "--id-column", "participant_id"]
    runner = CliRunner()
    res = runner.invoke(main, ["confounds", "fit", *data, "--continuous", "age",
                               "--categorical", "sex", "--categorical", "site", "--epochs", "2",
                               "--hidden-dim", "16", "--latent-dim", "4", "--quiet",
                               "--out", str(tmp_path / "model")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "model" / "model.safetensors").is_file()
    res = runner.invoke(main, ["confounds", "transform", *data, "--model",
                               str(tmp_path / "model"), "--out", str(tmp_path / "z.csv")])
    assert res.exit_code == 0, res.output
    latents = pd.read_csv(tmp_path / "z.csv")
    assert latents.shape == (40, 5)
    assert list(latents.participant_id) == list(world.subjects["group"].metadata.participant_id)
    res = runner.invoke(main, ["confounds", "sample", "--model", str(tmp_path / "model"),
                               "--n", "7", "--out", str(tmp_path / "syn")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "syn" / "synthetic_edges.npy").shape == (7, 91)
    assert len(pd.read_csv(tmp_path / "syn" / "synthetic_demographics.csv")) == 7
    res = runner.invoke(main, ["confounds", "sample", "--model", str(tmp_path / "model"),
                               "--out", str(tmp_path / "syn2")])
    assert res.exit_code != 0 and "exactly one of --n and --demographics" in res.output


@pytest.fixture(scope="module")
def real_like(tmp_path_factory):
    """A folder as real data come: 4 participants with zero-variance ROIs, one file missing,
    one participant without an age, ids in a differently named column."""
    root = tmp_path_factory.mktemp("real")
    world = fc_demographics.make(n_subjects=24, seed=2, n_rois=14,
                                 zero_variance_participants=4, zero_variance_rois=2)
    fc_demographics.write(world, root)
    (root / "world.json").unlink()  # a plain ABIDE-style folder
    table = pd.read_csv(root / "phenotypic.csv").rename(columns={"participant_id": "FILE_ID"})
    table.loc[3, "age"] = np.nan
    table.to_csv(root / "phenotypic.csv", index=False)
    gone = table.FILE_ID[5]
    (root / f"{gone}_rois_synth.1D").unlink()
    return root, world, gone


def _fit(root, *extra, out):
    return CliRunner().invoke(main, [
        "confounds", "fit", "--data", str(root), "--phenotypic", str(root / "phenotypic.csv"),
        "--atlas", "synth", "--continuous", "age", "--categorical", "sex",
        "--categorical", "site", "--epochs", "1", "--hidden-dim", "8", "--latent-dim", "2",
        "--quiet", "--out", str(out), *extra])


def test_real_data_options_and_their_errors(real_like, tmp_path):
    root, world, gone = real_like
    res = _fit(root, out=tmp_path / "m")
    assert res.exit_code != 0 and "--missing skip" in res.output, res.output
    assert f"{gone}_rois_synth.1D: ROI time series file not found" in res.output
    res = _fit(root, "--missing", "skip", out=tmp_path / "m")
    assert res.exit_code != 0 and "zero variance" in res.output, res.output
    assert "--zero-variance" in res.output
    res = _fit(root, "--missing", "skip", "--zero-variance", "zero", out=tmp_path / "m")
    assert res.exit_code == 0, res.output
    assert "left out 1 participants lacking a demographic value" in res.output
    assert "left out 1 participants without a time series file" in res.output
    res = _fit(root, "--missing", "skip", "--zero-variance", "drop", out=tmp_path / "d")
    assert res.exit_code == 0, res.output
    dropped = sorted({f"ROI{r + 1:03d}" for rois in world.truth["zero_variance_rois"].values()
                      for r in rois})
    assert f"dropped {len(dropped)} zero-variance ROIs: {dropped}" in res.output
    # transform reads no demographics: the row without an age is transformed too
    res = CliRunner().invoke(main, [
        "confounds", "transform", "--data", str(root), "--phenotypic",
        str(root / "phenotypic.csv"), "--atlas", "synth", "--missing", "skip",
        "--zero-variance", "zero", "--model", str(tmp_path / "m"), "--out",
        str(tmp_path / "z.csv")])
    assert res.exit_code == 0, res.output
    ids = pd.read_csv(tmp_path / "z.csv").FILE_ID.tolist()
    assert len(ids) == 23 and gone not in ids
    # a model fitted after dropping ROIs refuses data with all ROIs, saying why
    res = CliRunner().invoke(main, [
        "confounds", "transform", "--data", str(root), "--phenotypic",
        str(root / "phenotypic.csv"), "--atlas", "synth", "--missing", "skip",
        "--zero-variance", "zero", "--model", str(tmp_path / "d"), "--out",
        str(tmp_path / "z2.csv")])
    assert res.exit_code != 0 and "same atlas and --zero-variance" in res.output, res.output


@pytest.mark.parametrize("args, message", [
    (["--id-column", "SUB_ID"], "no column 'SUB_ID'"),
    (["--categorical", "age"], "declared both continuous and categorical"),
    (["--continuous", "sex"], "continuous column 'sex' has non-numeric values"),
    (["--categorical", "diagnosis", "--categorical", "participant_id"],
     "has 23 levels for 23 participants; declare it --continuous"),
    (["--continuous", "handedness"], "has no column(s) ['handedness']"),
])
def test_mismatches_are_explained(real_like, tmp_path, args, message):
    root = real_like[0]
    table = pd.read_csv(root / "phenotypic.csv").assign(participant_id=lambda t: t.FILE_ID)
    table.to_csv(tmp_path / "p.csv", index=False)
    res = CliRunner().invoke(main, [
        "confounds", "fit", "--data", str(root), "--phenotypic", str(tmp_path / "p.csv"),
        "--atlas", "synth", "--continuous", "age", "--missing", "skip",
        "--zero-variance", "zero", "--quiet", "--epochs", "1", "--out", str(tmp_path / "m"),
        *args])
    assert res.exit_code != 0 and message in res.output, res.output


def test_ids_that_match_no_file_are_explained(real_like, tmp_path):
    root = real_like[0]
    table = pd.read_csv(root / "phenotypic.csv")
    table.assign(FILE_ID=table.FILE_ID.str.replace("site", "S")).to_csv(tmp_path / "p.csv",
                                                                       index=False)
    res = CliRunner().invoke(main, [
        "confounds", "fit", "--data", str(root), "--phenotypic", str(tmp_path / "p.csv"),
        "--atlas", "synth", "--continuous", "age", "--missing", "skip", "--quiet",
        "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "has a file <id>_rois_synth.1D" in res.output, res.output
    assert "--id-column" in res.output


@pytest.mark.slow
def test_compare_reports_which_method_removes_what(tmp_path):
    world = fc_demographics.make(n_subjects=60, seed=4, n_rois=14, site_effect=2.0,
                                 zero_variance_participants=6, zero_variance_rois=2)
    fc_demographics.write(world, tmp_path / "d")
    (tmp_path / "d" / "world.json").unlink()
    res = CliRunner().invoke(main, [
        "confounds", "compare", "--data", str(tmp_path / "d"), "--phenotypic",
        str(tmp_path / "d" / "phenotypic.csv"), "--atlas", "synth", "--id-column",
        "participant_id", "--zero-variance", "zero", "--continuous", "age",
        "--categorical", "sex", "--categorical", "site", "--signal", "diagnosis",
        "--site", "site", "--method", "combat", "--method", "projection",
        "--permutations", "50", "--out", str(tmp_path / "compare.csv")])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "compare.csv").set_index(["method", "target"])
    assert sorted(set(table.index.get_level_values(0))) == ["combat", "projection", "raw"]
    assert table.loc[("raw", "site"), "status"] == "above chance"
    assert table.loc[("combat", "site"), "status"] == "at chance"  # site removed...
    assert table.loc[("combat", "sex"), "status"] == "above chance"  # ...sex protected
    assert table.loc[("raw", "diagnosis"), "retention"] == pytest.approx(1.0)
    assert np.isnan(table.loc[("raw", "site"), "retention"])
    res = CliRunner().invoke(main, [
        "confounds", "compare", "--data", str(tmp_path / "d"), "--phenotypic",
        str(tmp_path / "d" / "phenotypic.csv"), "--atlas", "synth", "--id-column",
        "participant_id", "--zero-variance", "zero", "--continuous", "age",
        "--site", "age", "--out", str(tmp_path / "c2.csv")])
    assert res.exit_code != 0 and "must be one of the categorical demographics" in res.output
