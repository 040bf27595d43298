"""MOABB's three evaluations, as independent jobs that each yield one result row per fold.

- ``within-session``: per subject and session, 5-fold stratified shuffled cross-validation
  (``StratifiedKFold(5, shuffle=True, random_state=seed)``, a fresh splitter per session, as
  MOABB's ``WithinSessionSplitter``); one row per fold, with its index and sizes, so that
  every score can be traced to its split.
- ``cross-session``: per subject, train on all other sessions, test on the held-out one.
- ``cross-subject``: train on all other subjects, test on each session of the held-out one.

Pipelines with a ``param_grid`` are tuned inside each training set by a 3-fold stratified
shuffled grid search (nested cross-validation). Scores are ROC-AUC for two classes and
accuracy otherwise, and the metric's name goes in every row. Every random choice takes the
recorded ``seed``.

Configured alike (same MOABB paradigm and preprocessing, same seed as MOABB's
``random_state``), the within-session folds and per-fold scores are MOABB's
(``tests/benchmark/test_real_eegmmidb.py``). Intentional differences, and ``compat="moabb"``,
which restores MOABB's behaviour:

- estimators whose ``random_state`` is unset get the seed (reproducible runs); MOABB leaves
  them unseeded. ``compat="moabb"`` leaves them as the pipeline file says.
- a grid candidate that fails makes its fold fail with its error; MOABB's grid search scores
  it NaN and silently picks among the others. ``compat="moabb"`` does what MOABB does.
- a fold that fails gives a row with ``status="failed"`` and an error naming the pipeline,
  subject, session, fold and reason; the benchmark goes on (MOABB raises and stops, or with
  ``error_score`` records a bare number). This holds in both modes.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodecode._files import content_hash
from neurodecode.benchmark.pipelines import PipelineSpec
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

# scikit-learn (and through it scipy.stats) is imported by the functions that fit, not here:
# a benchmark rerun that finds every result in its store never needs it (1.6 s of a 2.3 s
# fresh-process rerun)

EVALUATIONS = ("within-session", "cross-session", "cross-subject")
COMPAT = ("neurodecode", "moabb")
N_FOLDS = 5
N_INNER_FOLDS = 3
# Bumped whenever the rows of a job change meaning, so old stores are not reused.
KEY_VERSION = 2


def metric_for(y: np.ndarray) -> str:
    """``"roc_auc"`` for two classes, ``"accuracy"`` otherwise (MOABB's convention)."""
    return "roc_auc" if len(np.unique(y)) == 2 else "accuracy"


def make_estimator(spec: PipelineSpec, metric: str, seed: int, compat: str = "neurodecode") -> Any:
    """A fresh estimator for ``spec``: seeded, and wrapped in a grid search if it has a grid."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    pipeline = clone(spec.pipeline)
    if compat != "moabb":
        seeded = {k: seed for k, v in pipeline.get_params().items()
                  if k.endswith("random_state") and v is None}  # fmt: skip
        pipeline.set_params(**seeded)
    if not spec.param_grid:
        return pipeline
    inner = StratifiedKFold(N_INNER_FOLDS, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, spec.param_grid, cv=inner, scoring=metric, refit=True,
                        error_score=np.nan if compat == "moabb" else "raise")  # fmt: skip


def group_key(evaluation: str, spec: PipelineSpec, identity: dict, subject: str, seed: int,
              compat: str, subjects: list[str] | None = None) -> str:  # fmt: skip
    """Key of all rows of one pipeline on one subject (its sessions, or as held-out subject).

    Computed from descriptions only (the pipeline file, the dataset's identity, the subject,
    the seed), never from the data, so that a store can be asked what is missing before any
    data is loaded or generated. ``subjects`` (the whole list) enters cross-subject keys,
    whose training sets depend on it.
    """
    return content_hash(KEY_VERSION, evaluation, spec.config, identity, subject, seed, compat,
                        subjects if evaluation == "cross-subject" else None)  # fmt: skip


def group_keys(evaluation: str, spec: PipelineSpec, identity: dict, subjects: list[str],
               seed: int, compat: str) -> dict[str, str]:  # fmt: skip
    """:func:`group_key` of every subject in ``subjects``, equal to it key for key; the
    description common to all (pipeline file, dataset identity) is hashed once, not once
    per subject."""
    import hashlib

    from neurodecode._files import _update

    common = hashlib.sha256()
    for part in (KEY_VERSION, evaluation, spec.config, identity):
        _update(common, part)
    keys = {}
    for subject in subjects:
        h = common.copy()
        for part in (subject, seed, compat, subjects if evaluation == "cross-subject" else None):
            _update(h, part)
        keys[subject] = h.hexdigest()[:16]
    return keys


@dataclass
class Job:
    """One unit of work (a pipeline on one subject/session) and what it needs.

    ``kind == "cv"``: cross-validate on ``train`` (within-session).
    ``kind == "split"``: fit on the concatenation of ``train`` (built only when the job runs,
    so that a cross-subject benchmark never holds N copies of N-1 subjects), score on each
    entry of ``tests``.
    """

    key: str
    kind: str
    spec: PipelineSpec
    seed: int
    train: list[tuple[np.ndarray, np.ndarray]]
    row: dict[str, Any]
    tests: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    compat: str = "neurodecode"

    @property
    def y(self) -> np.ndarray:
        return np.concatenate([y for _, y in self.train])


def build_jobs(
    evaluation: str, spec: PipelineSpec, subject: str, data: dict[str, TrialData],
    gkey: str, label: str, seed: int, compat: str = "neurodecode",
    ranks: dict | None = None,
) -> list[Job]:  # fmt: skip
    """The jobs of ``spec`` for ``subject`` under ``evaluation``, in a fixed order.

    ``data`` holds the loaded subjects (for cross-subject, all of them); arrays are referenced,
    not copied. Job keys derive from ``gkey`` (see :func:`group_key`) and the session.
    ``ranks``: a dict shared by the calls of one benchmark, so that the data rank of each
    training set (a row field) is computed once, not once per pipeline.
    """
    if evaluation not in EVALUATIONS:
        raise DataError(f"unknown evaluation {evaluation!r}; expected one of {EVALUATIONS}")
    d = data[subject]
    sessions = d.metadata["session"].astype(str).to_numpy()
    names = _unique(sessions)
    X = np.asarray(d.X)
    units = []
    if evaluation == "within-session":
        for ses in names:
            m = sessions == ses
            units.append(("cv", ses, [(X[m], d.y[m])], {}))
    elif evaluation == "cross-session":
        if len(names) < 2:
            raise DataError(f"{label}: subject {subject} has one session; cross-session "
                            "evaluation needs at least 2")  # fmt: skip
        for ses in names:
            m = sessions == ses
            units.append(("split", ses, [(X[~m], d.y[~m])], {ses: (X[m], d.y[m])}))
    else:
        others = [o for o in data if o != subject]
        if not others:
            raise DataError(f"{label}: cross-subject evaluation needs at least 2 subjects")
        train = [(np.asarray(data[o].X), data[o].y) for o in others]
        tests = {ses: (X[sessions == ses], d.y[sessions == ses]) for ses in names}
        units.append(("split", None, train, tests))
    from neurodecode.riemann.augmented import data_rank

    ranks = {} if ranks is None else ranks
    jobs = []
    for kind, ses, train, tests in units:
        unit = (evaluation, subject, ses)
        if unit not in ranks:
            ranks[unit] = data_rank(train[0][0])
        jobs.append(Job(content_hash(gkey, ses), kind, spec, seed, train,
                        {"dataset": label, "pipeline": spec.name, "evaluation": evaluation,
                         "subject": subject, "session": ses, "data_rank": ranks[unit]},
                        tests, compat))  # fmt: skip
    return jobs


def _unique(values: np.ndarray) -> list[str]:
    return list(dict.fromkeys(values.tolist()))


def execute(job: Job) -> list[dict[str, Any]]:
    """Run one job; return its rows: one per fold (within-session) or per test session.

    A fold that raises gives a row with ``status="failed"``, a NaN score and an ``error``
    naming the pipeline, subject, session, fold and reason; the other folds still run.
    """
    from sklearn.model_selection import StratifiedKFold

    from neurodecode.riemann.augmented import data_rank

    job = _encode_labels(job)
    rank = job.row.get("data_rank")  # computed by build_jobs once per training set
    y = job.y
    metric = metric_for(y)
    scorer = Scorer(metric)
    X0 = job.train[0][0]
    base = {**job.row, "metric": metric, "n_channels": int(X0.shape[1]),
            "data_rank": data_rank(X0) if rank is None else rank, "n_classes": int(len(np.unique(y))),
            "seed": job.seed, "task": job.key, "status": "ok", "error": ""}  # fmt: skip
    rows = []
    # seeded (and wrapped in its grid search) once per job; each fold fits a clone of it
    template = make_estimator(job.spec, metric, job.seed, job.compat)
    if job.kind == "cv":
        X, y = job.train[0]
        folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=job.seed)
        for fold, (train, test) in enumerate(folds.split(X, y)):
            row = {**base, "fold": fold, "n_train": len(train), "n_test": len(test)}
            rows.append(_fit_score(job, template, scorer, row, X[train], y[train],
                                   {job.row["session"]: (X[test], y[test])})[0])  # fmt: skip
        return rows
    X = np.concatenate([x for x, _ in job.train]) if len(job.train) > 1 else job.train[0][0]
    row = {**base, "fold": 0, "n_train": len(y)}
    return _fit_score(job, template, scorer, row, X, y, job.tests)


def _encode_labels(job: Job) -> Job:
    """The job with its labels replaced by their index among the sorted label values.

    MOABB's evaluations do the same (``LabelEncoder``); deep-learning estimators
    (braindecode's ``EEGClassifier``, skorch) need integer classes, and scores are unchanged.
    """
    from dataclasses import replace

    ys = [np.asarray(y) for _, y in job.train] + [np.asarray(y) for _, y in job.tests.values()]
    classes = np.unique(np.concatenate(ys))

    def code(y):
        return np.searchsorted(classes, np.asarray(y))

    return replace(job, train=[(X, code(y)) for X, y in job.train],
                   tests={k: (X, code(y)) for k, (X, y) in job.tests.items()})


class Scorer:
    """The fold score, equal to scikit-learn's ``get_scorer(metric)`` without its per-call cost.

    ``roc_auc``: the estimator's ``decision_function`` (else ``predict_proba`` of the second
    class), as scikit-learn's scorer picks it, and the area under the ROC curve as the
    Mann-Whitney statistic with mid-ranks for ties, U / (n_pos n_neg) (Hanley & McNeil 1982,
    https://doi.org/10.1148/radiology.143.1.7063747), which equals the trapezoidal area of
    ``roc_auc_score`` exactly in theory and to rounding in practice (tested against it).
    ``roc_auc_score`` took 3 ms per call on 10 test trials (input checks, the whole curve),
    more than a CSP+LDA decision; over 80 folds that was 0.24 s of a 4 s benchmark.
    ``accuracy``: the fraction of ``predict`` equal to the labels. Other metrics go through
    scikit-learn's scorer. Errors are scikit-learn's: one class only, or non-finite scores,
    raise ``ValueError``.
    """

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self._other = None
        if metric not in ("roc_auc", "accuracy"):
            from sklearn.metrics import get_scorer

            self._other = get_scorer(metric)

    def __call__(self, est: Any, X: np.ndarray, y: np.ndarray) -> float:
        if self._other is not None:
            return float(self._other(est, X, y))
        y = np.asarray(y)
        if self.metric == "accuracy":
            return float(np.mean(np.asarray(est.predict(X)) == y))
        if hasattr(est, "decision_function"):
            s = np.asarray(est.decision_function(X), dtype=float)
        else:
            s = np.asarray(est.predict_proba(X), dtype=float)[:, 1]
        return roc_auc(y, s)


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Binary ROC AUC of scores ``s`` for labels ``y`` (positive: the larger label value)."""
    from scipy.stats import rankdata

    s = np.ravel(s)
    if s.shape[0] != len(y):
        raise ValueError(f"{s.shape[0]} scores for {len(y)} labels")
    if not np.all(np.isfinite(s)):
        raise ValueError("Input contains NaN or infinity (the estimator's scores)")
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined "
                         "in that case.")  # fmt: skip
    positive = y == classes[1]
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    ranks = rankdata(s)  # mid-ranks for ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _fit_score(job: Job, template: Any, scorer, row: dict, X: np.ndarray, y: np.ndarray,
               tests: dict) -> list[dict[str, Any]]:  # fmt: skip
    """Fit a clone of ``template`` on ``X, y`` and score each test set; failures become
    failed rows."""
    from sklearn.base import clone

    est = clone(template)
    start = time.perf_counter()
    try:
        est.fit(X, y)
        error = None
    except Exception as err:  # noqa: BLE001 - any pipeline error is recorded, not fatal
        error = err
    seconds = time.perf_counter() - start
    rows = []
    for session, (X_test, y_test) in tests.items():
        out = {**row, "session": session, "n_test": len(y_test), "fit_time": seconds}
        if error is None:
            try:
                out["score"] = float(scorer(est, X_test, y_test))
            except Exception as err:  # noqa: BLE001
                error = err
        if error is not None:
            out.update(score=float("nan"), status="failed", error=describe_failure(job, out, error))
        rows.append(out)
    return rows


def describe_failure(job: Job, row: dict, error: BaseException) -> str:
    """One line: which pipeline failed on which subject/session/fold, and why."""
    where = f"subject {row['subject']}"
    if row.get("session") is not None:
        where += f", session {row['session']}"
    if job.kind == "cv":
        where += f", fold {row['fold']}"
    origin = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    at = f" (in {origin.name})" if origin else ""
    return f"pipeline {job.spec.name!r} failed on {where}: {type(error).__name__}: {error}{at}"
