"""Every command takes --dataset PATH: train, reconstruct, rsa and confounds run end
to end through the CLI on folders in the documented bring-your-own format, reconstruct on a
folder in NSD's published layout; `data check` validates, `data convert` writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from layouts import own_dataset, write_nsd  # noqa: E402

from neurodecode.cli import main  # noqa: E402
from neurodecode.data.folder import write_trial_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A small decoder towards 16x16 pixels (no world embedding: real images)."""
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump({
        "name": "own-data", "data": {"dataset": "synthetic-vision", "subjects": [1]},
        "targets": [{"space": "pixels-16", "head": "linear"}],
        "model": {"width": 32, "depth": 1, "adapter": {"kind": "linear"}},
        "train": {"epochs": 2, "batch_size": 16, "lr": 0.003, "seed": 0,
                  "losses": [{"name": "mse", "head": "pixels-16"}]},
    }))
    return path


def _own(tmp_path, modality):
    root = tmp_path / f"own-{modality}"
    write_trial_folder(own_dataset(modality), root)
    return root


def test_data_check_and_convert(tmp_path):
    root = _own(tmp_path, "fmri")
    result = _run("data", "check", root)
    assert result.exit_code == 0, result.output
    assert "valid (folder layout)" in result.output
    assert "subject 1: 30 trials; fmri 30; 2 labels; 12 test, 18 train" in result.output
    assert "stimuli: 24 with images" in result.output
    (root / "sub-2" / "trials.tsv").write_text("stimulus_id\n1\n")
    bad = CliRunner().invoke(main, ["data", "check", str(root)])
    assert bad.exit_code == 1 and "sub-2/trials.tsv: 1 trial rows for 30 trials" in bad.output
    assert "Traceback" not in bad.output
    # convert NSD's layout into the bring-your-own format; the copy checks and equals it
    write_nsd(tmp_path / "nsd", fmt="nifti")
    result = _run("data", "convert", tmp_path / "nsd", tmp_path / "conv",
                  "--param", "sessions=[2]")
    assert result.exit_code == 0, result.output
    from neurodecode.datasets import open_dataset

    a = open_dataset(tmp_path / "nsd", sessions=[2])["1"]
    b = open_dataset(tmp_path / "conv")["1"]
    np.testing.assert_allclose(np.asarray(b.X), np.asarray(a.X), rtol=1e-6)
    assert list(b.metadata["split"]) == list(a.metadata["split"])
    assert (tmp_path / "conv" / "sub-1" / "mask.nii.gz").exists()


@pytest.mark.slow
def test_train_and_reconstruct_on_an_own_folder(tmp_path, config):
    root = _own(tmp_path, "fmri")
    out = tmp_path / "train"
    result = _run("train", "--config", config, "--dataset", root, "--subjects", "1,2",
                  "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())["retrieval"]
    assert [m["subject"] for m in metrics] == ["1", "2"] and metrics[0]["set_size"] == 6
    rec = tmp_path / "rec"
    result = _run("reconstruct", "--dataset", root, "--subject", "2", "--config", config,
                  "--generator", "none", "--no-control", "--out", rec, "--quiet")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(rec / "metrics.csv")
    assert set(rows.condition) == {"real"} and (rows.n_images == 6).all()  # 6 test images
    assert yaml.safe_load((rec / "config.yaml").read_text())["dataset"] == str(root)


@pytest.mark.slow
def test_reconstruct_on_a_folder_in_nsd_layout(tmp_path, config):
    write_nsd(tmp_path / "nsd", fmt="hdf5")
    out = tmp_path / "rec"
    result = _run("reconstruct", "--dataset", tmp_path / "nsd", "--subject", "1",
                  "--config", config, "--generator", "none", "--no-control", "--out", out,
                  "--quiet")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "metrics.csv")
    assert (rows.n_images == 10).all()  # the shared images, repetitions averaged
    assert (out / "reconstructions.png").exists()


def test_rsa_on_an_own_folder(tmp_path):
    root = _own(tmp_path, "fmri")
    result = _run("rsa", "rdm", "--dataset", root, "--subject", "1", "--method",
                  "correlation", "--out", tmp_path / "rsa")
    assert result.exit_code == 0, result.output
    rdm = pd.read_csv(tmp_path / "rsa" / "rdm.tsv", sep="\t", index_col=0)
    assert rdm.shape == (4, 4) and np.allclose(np.diag(rdm), 0)  # conditions c0..c3


def test_confounds_on_an_own_folder(tmp_path):
    root = _own(tmp_path, "fc")
    result = _run("confounds", "fit", "--dataset", root, "--continuous", "age",
                  "--categorical", "sex", "--epochs", "2", "--latent-dim", "2",
                  "--hidden-dim", "8", "--out", tmp_path / "vae", "--quiet")
    assert result.exit_code == 0, result.output
    result = _run("confounds", "transform", "--dataset", root, "--model", tmp_path / "vae",
                  "--out", tmp_path / "latents.csv")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "latents.csv")) == 60


def test_bad_dataset_is_one_clean_message(tmp_path):
    result = CliRunner().invoke(main, ["rsa", "rdm", "--dataset", str(tmp_path), "--out",
                                       str(tmp_path / "o")])
    assert result.exit_code == 1 and "not a layout neurodecode knows" in result.output
    assert "Traceback" not in result.output
