"""Benchmark scores equal the same sklearn/pyRiemann pipelines run by hand on the same folds."""

import numpy as np
import pytest
from pyriemann.classification import MDM
from pyriemann.estimation import Covariances
from pyriemann.spatialfilters import CSP
from pyriemann.tangentspace import TangentSpace
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from neurodecode.benchmark import load_dataset, run_benchmark

BY_HAND = {
    "TS+LR": lambda: make_pipeline(
        Covariances("oas"), TangentSpace(metric="riemann"), LogisticRegression(C=1.0, max_iter=1000)
    ),
    "MDM": lambda: make_pipeline(Covariances("oas"), MDM(metric="riemann")),
    "CSP+LDA": lambda: make_pipeline(
        Covariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis(solver="svd")
    ),
}


def _by_hand(name, X, y, seed=42):
    """Per-fold scores and (train, test) indices of the pipeline run by hand."""
    scores, splits = [], []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        clf = BY_HAND[name]().fit(X[train], y[train])
        if len(np.unique(y)) == 2:
            positive = y[test] == clf.classes_[1]
            if hasattr(clf, "decision_function"):
                s = clf.decision_function(X[test])
            else:
                s = clf.predict_proba(X[test])[:, 1]
            scores.append(roc_auc_score(positive, s))
        else:
            scores.append(accuracy_score(y[test], clf.predict(X[test])))
        splits.append((len(train), len(test)))
    return scores, splits


@pytest.mark.parametrize(
    ("paradigm", "metric"), [("MotorImagery", "accuracy"), ("LeftRightImagery", "roc_auc")]
)
@pytest.mark.slow
def test_within_session_scores_equal_hand_run(tmp_path, fast_pipelines, small_mi, paradigm, metric):
    results = run_benchmark(
        fast_pipelines, "synthetic-mi", tmp_path, subjects=[1], paradigm=paradigm,
        dataset_params=small_mi, quiet=True, plots=False,
    )  # fmt: skip
    data = load_dataset("synthetic-mi", [1], paradigm, None, small_mi).subjects["1"]
    assert len(results) == 3 * 2 * 5  # pipelines x sessions x folds: one row per fold
    assert results["score"].nunique() > 1  # real, varied scores (not a constant)
    assert (results["metric"] == metric).all() and (results["status"] == "ok").all()
    for (pipeline, session), rows in results.groupby(["pipeline", "session"]):
        m = data.metadata["session"].to_numpy() == session
        scores, splits = _by_hand(pipeline, data.X[m], data.y[m])
        assert list(rows["fold"]) == [0, 1, 2, 3, 4]
        np.testing.assert_allclose(rows["score"], scores, rtol=0, atol=1e-9)
        assert list(zip(rows["n_train"], rows["n_test"], strict=True)) == splits
        assert (rows["n_train"] + rows["n_test"] == m.sum()).all()
        assert (rows["seed"] == 42).all() and rows["versions"].str.contains("pyriemann=").all()


def test_cross_session_and_cross_subject_rows(tmp_path, fast_pipelines, small_mi):
    cross_session = run_benchmark(
        fast_pipelines[:1], "synthetic-mi", tmp_path / "cs", subjects=[1, 2],
        paradigm="LeftRightImagery", evaluation="cross-session", dataset_params=small_mi,
        quiet=True, plots=False,
    )  # fmt: skip
    assert sorted(zip(cross_session["subject"], cross_session["session"], strict=True)) == [
        ("1", "1"), ("1", "2"), ("2", "1"), ("2", "2"),
    ]  # fmt: skip
    assert (cross_session[["n_train", "n_test"]] == 20).all().all()  # 2 classes x 10 trials
    assert (cross_session["metric"] == "roc_auc").all()
    cross_subject = run_benchmark(
        fast_pipelines[:1], "synthetic-mi", tmp_path / "cx", subjects=[1, 2],
        evaluation="cross-subject", dataset_params=small_mi, quiet=True, plots=False,
    )  # fmt: skip
    assert len(cross_subject) == 4  # held-out subject x its sessions
    assert (cross_subject["n_train"] == 80).all() and (cross_subject["n_test"] == 40).all()
    assert (cross_subject["metric"] == "accuracy").all()


@pytest.mark.slow
def test_grid_pipelines_are_tuned_inside_the_training_folds(tmp_path, pipelines_dir, small_mi):
    # TS+SVM carries a param_grid: the nested search must run and give a valid AUC.
    results = run_benchmark(
        [pipelines_dir / "TS_SVM.yml"], "synthetic-mi", tmp_path, subjects=[1],
        paradigm="LeftRightImagery", dataset_params={**small_mi, "n_sessions": 1},
        quiet=True, plots=False,
    )  # fmt: skip
    assert results["score"].between(0, 1).all() and (results["metric"] == "roc_auc").all()
