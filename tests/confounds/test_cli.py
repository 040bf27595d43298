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
    assert res.exit_code != 0, res.output
    assert f"have ROIs {dropped} the model lacks" in res.output, res.output
    assert f"fitted with --zero-variance drop, which dropped {dropped}" in res.output


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


def _zero_roi(path, roi):
    """Make one ROI's time series constant in one participant's .1D file."""
    lines = path.read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    for row in rows:
        row[roi] = "0"
    path.write_text("\n".join([lines[0]] + ["\t".join(r) for r in rows]) + "\n")


def test_dropped_rois_are_stored_and_checked_at_transform(tmp_path):
    """A model fitted with --zero-variance drop remembers which ROIs its edges join: new data
    that dropped a different ROI (same edge count, so the old check passed them and edge k no
    longer joined the same two ROIs) or none are refused, naming the ROIs."""
    import json

    world = fc_demographics.make(n_subjects=16, seed=1, n_rois=14)
    fc_demographics.write(world, tmp_path / "fit")
    fc_demographics.write(world, tmp_path / "new")
    fc_demographics.write(world, tmp_path / "full")
    for folder in ("fit", "new", "full"):
        (tmp_path / folder / "world.json").unlink()  # plain ABIDE-style folders
    ids = world.subjects["group"].metadata.participant_id
    _zero_roi(tmp_path / "fit" / f"{ids[0]}_rois_synth.1D", 13)  # ROI014 outside the view
    _zero_roi(tmp_path / "new" / f"{ids[3]}_rois_synth.1D", 0)  # ROI001 instead

    def run(cmd, folder, *extra):
        return CliRunner().invoke(main, [
            "confounds", cmd, "--data", str(tmp_path / folder), "--phenotypic",
            str(tmp_path / folder / "phenotypic.csv"), "--atlas", "synth", "--id-column",
            "participant_id", "--zero-variance", "drop", *extra])

    res = run("fit", "fit", "--continuous", "age", "--epochs", "1", "--hidden-dim", "8",
              "--latent-dim", "2", "--quiet", "--out", str(tmp_path / "m"))
    assert res.exit_code == 0, res.output
    layout = json.loads((tmp_path / "m" / "config.json").read_text())["edge_layout"]
    assert layout["dropped_rois"] == ["ROI014"] and layout["zero_variance"] == "drop"
    assert layout["roi_names"] == [f"ROI{r:03d}" for r in range(1, 14)]
    res = run("transform", "fit", "--model", str(tmp_path / "m"), "--out",
              str(tmp_path / "z.csv"))
    assert res.exit_code == 0, res.output
    # 78 edges either way: before the layout was stored this went through misaligned
    res = run("transform", "new", "--model", str(tmp_path / "m"), "--out",
              str(tmp_path / "z2.csv"))
    assert res.exit_code != 0, res.output
    assert "lack ROIs ['ROI001']" in res.output and "have ROIs ['ROI014']" in res.output
    assert "dropped ['ROI014']" in res.output and "dropped ['ROI001']" in res.output
    assert not (tmp_path / "z2.csv").exists()
    res = run("transform", "full", "--model", str(tmp_path / "m"), "--out",
              str(tmp_path / "z3.csv"))
    assert res.exit_code != 0 and "have ROIs ['ROI014'] the model lacks" in res.output, \
        res.output
