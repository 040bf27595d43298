"""ACM auto order/lag come from the training fold only, through the benchmark's own CV path."""

from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedKFold

from neurodecode.benchmark import load_dataset
from neurodecode.benchmark.evaluation import N_FOLDS, build_jobs, execute
from neurodecode.benchmark.pipelines import load_pipeline
from neurodecode.riemann import AugmentedCovariances

SEED = 42


def _fits(monkeypatch, spec, data) -> list[dict]:
    """Run one within-session job; return what every AugmentedCovariances.fit estimated."""
    seen: list[dict] = []
    original = AugmentedCovariances.fit

    def recording_fit(self, X, y=None):
        out = original(self, X, y)
        seen.append({"n": len(X), "lag": self.lag_, "order": self.order_,
                     "order_estimate": self.order_estimate_, "rank": self.rank_,
                     "projection": None if self.projection_ is None else self.projection_.copy(),
                     "ridge": self.ridge_})  # fmt: skip
        return out

    (job,) = build_jobs("within-session", spec, "1", {"1": data}, "key", "synthetic-mi", SEED)
    with monkeypatch.context() as patch:
        patch.setattr(AugmentedCovariances, "fit", recording_fit)
        rows = execute(job)
    assert [r["status"] for r in rows] == ["ok"] * N_FOLDS
    return seen


def test_auto_order_and_lag_ignore_the_test_fold(monkeypatch, pipelines_dir, small_mi):
    spec = load_pipeline(pipelines_dir / "ACM_TS_SVM_auto.yml")
    data = load_dataset("synthetic-mi", subjects=[1],
                        params={**small_mi, "n_sessions": 1, "duration": 2.0}).subjects["1"]  # fmt: skip
    X = np.asarray(data.X, dtype=float)
    codes = np.unique(data.y, return_inverse=True)[1]
    _, test0 = next(StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(X, codes))
    # Fold 0's test trials become something else entirely: a strong slow rhythm with white
    # noise, not average-referenced (full rank), 100 times the amplitude of the EEG.
    rng = np.random.default_rng(0)
    t = np.arange(X.shape[-1])
    other = np.array(data.X, copy=True)  # same dtype: untouched trials stay bit-identical
    other[test0] = 100 * X.std() * (np.sin(2 * np.pi * t / 40 + rng.uniform(0, 6.3, (len(test0),
                                    X.shape[1], 1))) + rng.standard_normal((len(test0),
                                    *X.shape[1:])))  # fmt: skip
    before = _fits(monkeypatch, spec, data)
    after = _fits(monkeypatch, spec, replace(data, X=other))
    assert len(before) == len(after) == N_FOLDS  # one fit per outer fold (no grid)
    assert before[0]["n"] == len(X) - len(test0)
    # fold 0 trains without its test trials: every estimate is identical
    for key in ("lag", "order", "order_estimate", "rank", "ridge"):
        assert before[0][key] == after[0][key], key
    np.testing.assert_array_equal(before[0]["projection"], after[0]["projection"])
    # the other folds train on those trials, and the estimates see them (the check can fail)
    assert before[0]["rank"] == len(small_mi["channels"]) - 1  # average reference
    for k in range(1, N_FOLDS):
        assert after[k]["rank"] == before[k]["rank"] + 1
    assert any((b["lag"], b["order"]) != (a["lag"], a["order"])
               for b, a in zip(before[1:], after[1:], strict=True))

