"""Truncated input files and colliding outputs reach the user as one line (issue 14).

Before issue 14: `rsa rdm` on a cut .nii.gz printed only "Aborted!" (click's answer to an
EOFError), a short .nii gave an OSError traceback, and `rsa searchlight` with two models
both named rdm.tsv said "wrote 2 maps" and wrote one. Every test here failed then.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from neurodecode import synth
from neurodecode.cli import main
from neurodecode.errors import DataError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("rsa_world")
    synth.write("synthetic-rsa", out, n_subjects=1, seed=0, n_conditions=10, n_runs=3,
                n_voxels=27, noise=0.3)
    return out


def _betas(world) -> Path:
    return next((world / "sub-01").glob("*_region-ring_betas.nii.gz"))


def _cut(world, tmp_path, how: str) -> Path:
    src = _betas(world)
    data = src.read_bytes()
    raw = gzip.decompress(data)
    name = {"gz-stream": "cut_betas.nii.gz", "gz-volume": "short_betas.nii.gz",
            "nii": "short_betas.nii"}[how]
    path = tmp_path / name
    if how == "gz-stream":  # the compressed stream itself is cut (header kept)
        stored = gzip.compress(raw, compresslevel=0)
        path.write_bytes(stored[: len(stored) * 4 // 5])
    elif how == "gz-volume":  # a complete gzip of a cut image
        path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    else:
        path.write_bytes(raw[: len(raw) // 2])
    sidecar = src.with_name(src.name.replace(".nii.gz", ".tsv"))
    (tmp_path / path.name.split(".")[0]).with_suffix(".tsv").write_text(sidecar.read_text())
    return path


@pytest.mark.parametrize("how, found", [("gz-stream", "EOFError"), ("gz-volume", "OSError"),
                                        ("nii", "OSError")])
def test_truncated_nifti_is_one_line_naming_the_file(world, tmp_path, how, found):
    path = _cut(world, tmp_path, how)
    result = CliRunner().invoke(main, ["rsa", "rdm", str(path), "--mask",
                                       str(world / "mask.nii.gz"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert "Aborted!" not in result.output and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith(f"Error: {path}: cannot read the voxel data ({found}")
    assert "truncated or damaged" in line


def test_searchlight_models_with_the_same_file_name_get_distinct_maps(tmp_path):
    from neurodecode.cli.rsa import model_keys

    a, b = tmp_path / "early" / "rdm.tsv", tmp_path / "late" / "rdm.tsv"
    c = tmp_path / "other.tsv"
    assert model_keys((a, b, c)) == {"early-rdm": a, "late-rdm": b, "other": c}
    assert model_keys((c,)) == {"other": c}
    with pytest.raises(DataError, match=r"--model .*other.tsv: the same RDM as --model"):
        model_keys((c, c))


def test_searchlight_cli_writes_one_map_per_model(world, tmp_path):
    betas, mask = _betas(world), world / "mask.nii.gz"
    for region, folder in (("ring", "a"), ("line", "b")):
        src = next((world / "sub-01").glob(f"*_region-{region}_betas.nii.gz"))
        result = CliRunner().invoke(main, ["rsa", "rdm", str(src), "--mask", str(mask),
                                           "--out", str(tmp_path / folder)])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [
        "rsa", "searchlight", str(betas), "--mask", str(mask), "--model",
        str(tmp_path / "a" / "rdm.tsv"), "--model", str(tmp_path / "b" / "rdm.tsv"),
        "--out", str(tmp_path / "maps"), "--radius", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "maps").glob("*_map.nii.gz")}
    assert {"a-rdm_map.nii.gz", "b-rdm_map.nii.gz"} <= written
    assert "rdm_map.nii.gz" not in written
