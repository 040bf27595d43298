"""Real EEG (PhysioNet EEGMMIDB subject 1, imagery runs), read offline through MOABB's reader.

- parity: MOABB's own ``WithinSessionEvaluation`` and neurodecode's benchmark, configured
  alike, give the same folds and the same per-fold scores;
- rank safety: every pipeline in ``pipelines/`` runs on average-referenced (rank-deficient)
  real EEG for left/right and hands/feet imagery.

Skipped when ``../shared/data/eegmmidb_S001_imagery`` (or MOABB) is absent.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from neurodecode.benchmark import load_pipelines, run_benchmark
from neurodecode.benchmark.datasets import make_moabb_paradigm
from neurodecode.benchmark.moabb_folds import FoldReportingKFold

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eegmmidb_S001_imagery"
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
# The 21 sensorimotor channels of the montage (FC5..CP6): where motor imagery lives.
MOTOR = ["FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4",
         "C6", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6"]  # fmt: skip
# The eight MOABB-style covariance pipelines (deep-learning pipelines are tested elsewhere).
COVARIANCE = ["ACM_TS_SVM_auto.yml", "ACM_TS_SVM_grid.yml", "CSP_LDA.yml", "FgMDM.yml", "MDM.yml",
              "TS_LR.yml", "TS_SVM.yml", "XdawnCov_TS_SVM.yml"]  # fmt: skip
CENTRAL = ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"]
TASKS = {"left/right": ["left_hand", "right_hand"], "hands/feet": ["hands", "feet"]}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent"),
]


@pytest.fixture(scope="module")
def physionet(tmp_path_factory):
    """PhysionetMI (imagery) readable offline: the files laid out as MNE's eegbci reader
    expects under a private MNE_DATA (see the data folder's README)."""
    pytest.importorskip("moabb")
    root = tmp_path_factory.mktemp("mne_data")
    target = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    target.mkdir(parents=True)
    for f in DATA.glob("S001R*.edf*"):
        (target / f.name).symlink_to(f)
    saved = {k: os.environ.get(k) for k in ("MNE_DATA", "MOABB_DOWNLOAD_PROVIDER")}
    os.environ.update(MNE_DATA=str(root), MOABB_DOWNLOAD_PROVIDER="upstream")
    from moabb.datasets import PhysionetMI

    dataset = PhysionetMI(imagined=True, executed=False)
    dataset.subject_list = [1]
    yield dataset
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_per_fold_scores_equal_moabb_within_session(physionet, tmp_path):
    import moabb
    from moabb.evaluations import WithinSessionEvaluation

    moabb.set_log_level("error")
    files = [PIPELINES / f for f in ("TS_LR.yml", "CSP_LDA.yml", "MDM.yml")]
    specs = load_pipelines(files)
    evaluation = WithinSessionEvaluation(
        paradigm=make_moabb_paradigm("LeftRightImagery", TASKS["left/right"]),
        datasets=[physionet], random_state=42, overwrite=True, hdf5_path=str(tmp_path / "m"),
        cv_class=FoldReportingKFold,
    )  # fmt: skip
    theirs = evaluation.process({s.name: s.pipeline for s in specs})
    ours = run_benchmark(files, "PhysionetMI", tmp_path / "ours", subjects=[1],
                         paradigm="LeftRightImagery", seed=42, quiet=True, plots=False)  # fmt: skip
    assert len(ours) == 3 * 5 and (ours["status"] == "ok").all()
    assert (ours["n_channels"] == 64).all() and (ours["data_rank"] == 64).all()
    for spec in specs:
        a = theirs[theirs["pipeline"] == spec.name].sort_values("fold")
        b = ours[ours["pipeline"] == spec.name].sort_values("fold")
        assert list(a["fold"]) == list(b["fold"]) == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(a["samples"], b["n_train"])  # the same splits
        np.testing.assert_array_equal(a["samples_test"], b["n_test"])
        np.testing.assert_allclose(b["score"], a["score"], rtol=0, atol=1e-6, err_msg=spec.name)
    # the folds differ from fold to fold: a real comparison, not of constants
    assert ours.groupby("pipeline")["score"].nunique().min() > 1


@pytest.fixture(scope="module")
def epochs(physionet):
    """MOABB's epochs (X, y, channel names) of each task, read once."""
    out = {}
    for task, events in TASKS.items():
        paradigm = make_moabb_paradigm("MotorImagery", events)
        ep, y, _ = paradigm.get_data(physionet, subjects=[1], return_epochs=True)
        X = ep.get_data(copy=False)
        assert X.shape[1] == len(ep.ch_names) == 64
        out[task] = X, y, list(ep.ch_names)
    return out


def _car(X):
    """Average reference: rank = channels - 1, as in much real EEG."""
    return X - X.mean(axis=1, keepdims=True)


# The corner of MOABB's ACM grid where rank fails first (order 10 x lag 10).
CORNER = {"augmentedcovariances__order": 10, "augmentedcovariances__lag": 10}


@pytest.mark.parametrize("task", list(TASKS))
def test_every_pipeline_runs_on_rank_deficient_real_eeg(epochs, task):
    from sklearn.metrics import get_scorer

    from neurodecode.riemann import data_rank

    specs = load_pipelines([PIPELINES / f for f in COVARIANCE])
    X64, y, names = epochs[task]
    full = _car(X64)
    motor = _car(X64[:, [names.index(c) for c in MOTOR]])
    central = _car(X64[:, [names.index(c) for c in CENTRAL]])
    assert data_rank(full) == 63 and data_rank(motor) == 20  # CAR removes one dimension
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=42).split(full, y))
    scorer = get_scorer("roc_auc")
    for spec in specs:
        # Augmented covariances of all 64 channels take minutes per fit on 2 shared cores
        # (256+ rows); ACM auto runs on the 21 sensorimotor channels and the grid pipeline at
        # its worst corner (order 10: 70 rows from 7 dimensions, band-passed) on 8 central
        # ones. Grids are not searched here: rank safety is a property of each fit.
        X = {"ACM+TS+SVM (auto)": motor, "ACM+TS+SVM (grid)": central}.get(spec.name, full)
        est = spec.pipeline
        if spec.name == "ACM+TS+SVM (grid)":
            est = est.set_params(**CORNER)
        est.fit(X[train], y[train])
        score = scorer(est, X[test], y[test])
        assert 0.0 <= score <= 1.0, spec.name
        if spec.name == "ACM+TS+SVM (auto)":
            acm = est.named_steps["augmentedcovariances"]
            assert acm.rank_ == 20 and acm.projection_.shape == (20, 21)
            assert 2 * acm.order_ * acm.rank_ <= X.shape[-1] - acm.order_ * acm.lag_
    # MOABB's matrices (no rank safety) are singular on the same data: the failure is real.
    from neurodecode.riemann import AugmentedCovariances

    unsafe = AugmentedCovariances(order=10, lag=10, rank_safe=False).fit(central[train])
    eig = np.linalg.eigvalsh(unsafe.transform(central[train[:3]]))
    assert (eig[:, 0] / eig[:, -1]).max() < 1e-12
