"""Deep pipelines (braindecode's EEGClassifier, HiSTN) in the same benchmark as TS+LR."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from neurodecode.errors import DataError
from neurodecode.models._braindecode import ensure_braindecode

try:
    ensure_braindecode()
except DataError:
    pytest.skip("braindecode is not installed (pip install neurodecode[deep])", allow_module_level=True)

import torch  # noqa: E402

from neurodecode.benchmark import run_benchmark  # noqa: E402
from neurodecode.cli import main  # noqa: E402

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks train fastest on one thread; two threads on a busy 2-core machine made
    a HiSTN fit 13 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _short(name: str, tmp_path: Path, epochs: int) -> Path:
    """A copy of a shipped pipeline file with fewer epochs (same name and steps)."""
    config = yaml.safe_load((PIPELINES / name).read_text())
    step = config["pipeline"][-1]
    step["parameters"]["max_epochs"] = epochs
    out = tmp_path / name
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


@pytest.mark.slow
def test_cli_puts_histn_and_ts_lr_in_one_table(tmp_path):
    histn = _short("HiSTN.yml", tmp_path, epochs=5)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "benchmark", "--pipelines", str(histn), str(PIPELINES / "TS_LR.yml"),
        "--dataset", "synthetic-emotion-eeg", "--subjects", "1", "2",
        "--evaluation", "cross-subject", "--dataset-param", "n_clips=5",
        "--dataset-param", "segments_per_clip=4", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "HiSTN" in result.output and "TS+LR" in result.output
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["pipeline"]) == {"HiSTN", "TS+LR"}
    assert set(rows["dataset"].str.split(":").str[0]) == {"synthetic-emotion-eeg"}
    # the same evaluation rows for both: held-out subject x session
    keys = ["subject", "session", "evaluation", "metric", "n_test"]
    by = {p: rows[rows["pipeline"] == p][keys].sort_values(keys).reset_index(drop=True)
          for p in ("HiSTN", "TS+LR")}  # fmt: skip
    pd.testing.assert_frame_equal(by["HiSTN"], by["TS+LR"])
    assert set(rows["metric"]) == {"accuracy"} and (rows["n_classes"] > 2).all()  # ratings
    assert rows["score"].between(0, 1).all()


@pytest.mark.slow
def test_eegnet_rows_beside_ts_lr_reproducible_with_string_labels(tmp_path):
    """EEGNet through braindecode's EEGClassifier on synthetic-mi (labels are strings):
    same folds and rows as TS+LR, and the same seed gives the same scores."""
    eegnet = _short("EEGNet.yml", tmp_path, epochs=3)
    params = {"n_trials_per_class": 10, "n_sessions": 1,
              "channels": ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"]}  # fmt: skip

    def run(out):
        return run_benchmark([eegnet, PIPELINES / "TS_LR.yml"], "synthetic-mi", tmp_path / out,
                             subjects=["1"], events=["left_hand", "right_hand"],
                             dataset_params=params, quiet=True, plots=False)  # fmt: skip

    first, second = run("a"), run("b")
    assert set(first["pipeline"]) == {"EEGNet", "TS+LR"}
    assert (first["metric"] == "roc_auc").all()
    deep = first[first["pipeline"] == "EEGNet"]
    assert np.isfinite(deep["score"]).all(), deep.get("error")
    keys = [c for c in ("subject", "session", "fold", "n_train", "n_test") if c in first]
    np.testing.assert_array_equal(deep[keys].to_numpy(),
                                  first[first["pipeline"] == "TS+LR"][keys].to_numpy())
    np.testing.assert_allclose(second[second["pipeline"] == "EEGNet"]["score"], deep["score"])
