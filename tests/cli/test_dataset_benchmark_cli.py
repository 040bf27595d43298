"""benchmark --dataset PATH: a local folder in the bring-your-own format goes through
open_dataset (MOABB datasets keep MOABB's own preprocessing)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from layouts import own_dataset  # noqa: E402

from neurodecode.cli import main  # noqa: E402
from neurodecode.data.folder import write_trial_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_benchmark_on_an_own_eeg_folder(tmp_path):
    root = tmp_path / "own-eeg"
    write_trial_folder(own_dataset("eeg"), root)
    out = tmp_path / "bench"
    result = _run("benchmark", "--pipelines", REPO / "pipelines" / "CSP_LDA.yml", "--dataset",
                  root, "--paradigm", "MotorImagery", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert set(table["subject"].astype(str)) == {"1", "2"}
    assert (table["metric"] == "roc_auc").all()
    assert table["score"].mean() > 0.9  # the planted 10 Hz rhythm of the "warm" trials
    # the same folder with shuffled labels falls to chance
    data = own_dataset("eeg")
    rng = np.random.default_rng(0)
    for d in data.subjects.values():
        d.y = rng.permutation(d.y)
    write_trial_folder(data, tmp_path / "shuffled")
    result = _run("benchmark", "--pipelines", REPO / "pipelines" / "CSP_LDA.yml", "--dataset",
                  tmp_path / "shuffled", "--paradigm", "MotorImagery", "--out",
                  tmp_path / "bench-shuffled", "--quiet")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "bench-shuffled" / "results.csv")["score"].mean() < 0.75


