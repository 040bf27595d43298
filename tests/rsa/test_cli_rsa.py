"""`neurodecode rsa ...` end to end on a written synthetic-rsa folder."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from neurodecode import synth
from neurodecode.cli import main


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rsa_world")
    synth.write("synthetic-rsa", out, n_subjects=4, seed=0, n_conditions=10, n_runs=3,
                n_voxels=27, noise=0.3)
    return out


def _run(*args):
    result = CliRunner().invoke(main, ["rsa", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def test_rdm_compare_and_searchlight(world_dir, tmp_path):
    betas = world_dir / "sub-01" / "sub-01_region-ring_betas.nii.gz"
    mask = world_dir / "mask.nii.gz"
    _run("rdm", betas, "--mask", mask, "--out", tmp_path / "a", "--runs", "run")
    table = pd.read_csv(tmp_path / "a" / "rdm.tsv", sep="\t", index_col=0)
    assert table.shape == (10, 10) and (tmp_path / "a" / "mds.png").is_file()
    truth = np.array(json.loads((world_dir / "world.json").read_text())["truth"]["region_rdms"]
                     ["ring"])
    iu = np.triu_indices(10, 1)
    assert np.corrcoef(table.to_numpy()[iu], truth)[0, 1] > 0.9
    other = world_dir / "sub-02" / "sub-02_region-line_betas.nii.gz"
    _run("rdm", other, "--mask", mask, "--out", tmp_path / "b", "--method", "correlation")
    same = _run("compare", tmp_path / "a" / "rdm.tsv", tmp_path / "a" / "rdm.tsv")
    assert same.strip() == "corr: 1.000000"
    topo = _run("compare", tmp_path / "a" / "rdm.tsv", tmp_path / "b" / "rdm.tsv",
                "--method", "spearman", "--transform", "topology-sensitive")
    assert topo.startswith("spearman: ")
    _run("searchlight", betas, "--mask", mask, "--model", tmp_path / "a" / "rdm.tsv",
         "--out", tmp_path / "maps", "--radius", "3", "--quiet")
    img = nib.load(tmp_path / "maps" / "rdm_map.nii.gz")
    assert np.nanmean(img.get_fdata()) > 0.5  # the ring region matches its own RDM


def test_identify_writes_accuracies(world_dir, tmp_path):
    out = _run("identify", world_dir, "--out", tmp_path, "--transform", "rdm",
               "--transform", "topology-sensitive", "--bootstrap", "20")
    result = json.loads((tmp_path / "identification.json").read_text())
    assert result["chance"] == 0.25
    assert [r["transform"] for r in result["results"]] == ["rdm", "topology-sensitive"]
    assert result["results"][0]["accuracy"] == 1.0
    assert "topology-sensitive" in out


def test_bad_input_is_reported(tmp_path):
    (tmp_path / "x.tsv").write_text("a\tb\nx\t0\t1\n")
    result = CliRunner().invoke(main, ["rsa", "compare", str(tmp_path / "x.tsv"),
                                       str(tmp_path / "x.tsv")])
    assert result.exit_code != 0 and "must be square" in result.output
    result = CliRunner().invoke(main, ["rsa", "identify", str(tmp_path), "--out",
                                       str(tmp_path / "o")])
    assert result.exit_code != 0 and "world.json" in result.output
