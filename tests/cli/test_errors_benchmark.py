"""`benchmark` on a MOABB dataset downloads only when asked (issue 14).

Before issue 14, `benchmark --dataset BNCI2014_001` started a MOABB download without any
opt-in (offline: a ConnectionError traceback after ~50 s, and ~/mne_data created). Both
tests failed then (no --allow-download option; a network attempt instead of a DataError).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from neurodecode.cli import main

PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "TS_LR.yml"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.delenv("NEURODECODE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER", raising=False)


def _run(tmp_path):
    pytest.importorskip("moabb")
    result = CliRunner().invoke(main, ["benchmark", "--pipelines", str(PIPELINE), "--dataset",
                                       "BNCI2014_001", "--subjects", "1", "--out",
                                       str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    return line


def test_no_mne_data_folder_refused_before_loading(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    line = _run(tmp_path)
    assert "--allow-download" in line and f"MNE_DATA ({tmp_path / 'mne_data'})" in line
    assert not (tmp_path / "mne_data").exists()


def test_missing_files_are_refused_instead_of_downloaded(tmp_path, monkeypatch, offline):
    data = tmp_path / "mne_data"
    data.mkdir()
    monkeypatch.setenv("MNE_DATA", str(data))
    line = _run(tmp_path)
    assert "A01T.mat is missing" in line and "--allow-download" in line
    assert not [p for p in data.rglob("*") if p.is_file()]  # nothing was fetched


def test_unwritable_out_is_refused_before_any_fold(tmp_path):
    # Before issue 14: a NotADirectoryError traceback after the first fold was computed.
    (tmp_path / "blocker").write_text("a file")
    result = CliRunner().invoke(main, ["benchmark", "--pipelines", str(PIPELINE), "--dataset",
                                       "synthetic-mi", "--out", str(tmp_path / "blocker" / "o")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--out'" in result.output
    assert "blocker is a file, not a folder" in result.output
