"""MOABB's three evaluations, as independent jobs that each yield result rows.

- ``within-session``: per subject and session, 5-fold stratified shuffled cross-validation;
  the score is the mean over folds.
- ``cross-session``: per subject, train on all other sessions, test on the held-out one.
- ``cross-subject``: train on all other subjects, test on each session of the held-out one.

Pipelines with a ``param_grid`` are tuned inside each training set by a 3-fold stratified
shuffled grid search (nested cross-validation). Scores are ROC-AUC for two classes and
accuracy otherwise, and the metric's name goes in every row. Every random choice takes the
recorded ``seed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from neurodecode._files import content_hash
from neurodecode.benchmark.datasets import BenchmarkData
from neurodecode.benchmark.pipelines import PipelineSpec
from neurodecode.data.errors import DataError

EVALUATIONS = ("within-session", "cross-session", "cross-subject")
N_FOLDS = 5
N_INNER_FOLDS = 3


def metric_for(y: np.ndarray) -> str:
    """``"roc_auc"`` for two classes, ``"accuracy"`` otherwise (MOABB's convention)."""
    return "roc_auc" if len(np.unique(y)) == 2 else "accuracy"


def make_estimator(spec: PipelineSpec, metric: str, seed: int) -> Any:
    """A fresh estimator for ``spec``: seeded, and wrapped in a grid search if it has a grid."""
    pipeline = clone(spec.pipeline)
    seeded = {k: seed for k, v in pipeline.get_params().items()
              if k.endswith("random_state") and v is None}  # fmt: skip
    pipeline.set_params(**seeded)
    if not spec.param_grid:
        return pipeline
    inner = StratifiedKFold(N_INNER_FOLDS, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, spec.param_grid, cv=inner, scoring=metric, refit=True,
                        error_score="raise")  # fmt: skip


@dataclass
class Job:
    """One unit of work and everything it needs; its rows are cached under ``key``.

    ``kind == "cv"``: cross-validate on ``X``, ``y`` (within-session).
    ``kind == "split"``: fit on ``X``, ``y``, score on each entry of ``tests``.
    """

    key: str
    kind: str
    spec: PipelineSpec
    seed: int
    X: np.ndarray
    y: np.ndarray
    row: dict[str, Any]
    tests: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def build_jobs(
    evaluation: str, specs: list[PipelineSpec], data: BenchmarkData, seed: int
) -> list[Job]:
    """All jobs of ``evaluation`` for ``specs`` on ``data``, in a fixed order.

    Keys hash the evaluation, the pipeline file's content, the dataset's identity, the seed
    and the exact arrays used, so any change recomputes and nothing else does.
    """
    if evaluation not in EVALUATIONS:
        raise DataError(f"unknown evaluation {evaluation!r}; expected one of {EVALUATIONS}")
    units = _units(evaluation, data)
    jobs = []
    for spec in specs:
        for kind, row, X, y, tests, fingerprint in units:
            key = content_hash(evaluation, spec.config, data.identity, row, seed, fingerprint)
            jobs.append(Job(key, kind, spec, seed, X, y,
                            {"dataset": data.name, "pipeline": spec.name,
                             "evaluation": evaluation, **row}, tests))  # fmt: skip
    return jobs


def _units(evaluation: str, data: BenchmarkData) -> list[tuple]:
    """(kind, row fields, X, y, tests, fingerprint) per subject/session unit."""
    units = []
    sessions = {s: d.metadata["session"].astype(str).to_numpy() for s, d in data.subjects.items()}
    if evaluation == "within-session":
        for s, d in data.subjects.items():
            for ses in _unique(sessions[s]):
                m = sessions[s] == ses
                X, y = np.asarray(d.X[m]), d.y[m]
                units.append(("cv", {"subject": s, "session": ses}, X, y, {},
                              content_hash(X, y.astype(str))))  # fmt: skip
    elif evaluation == "cross-session":
        for s, d in data.subjects.items():
            names = _unique(sessions[s])
            if len(names) < 2:
                raise DataError(f"{data.name}: subject {s} has one session; cross-session "
                                "evaluation needs at least 2")  # fmt: skip
            X = np.asarray(d.X)
            for ses in names:
                m = sessions[s] == ses
                units.append(("split", {"subject": s, "session": ses}, X[~m], d.y[~m],
                              {ses: (X[m], d.y[m])},
                              content_hash(X, d.y.astype(str), sessions[s], ses)))  # fmt: skip
    else:
        if len(data.subjects) < 2:
            raise DataError(f"{data.name}: cross-subject evaluation needs at least 2 subjects")
        fps = {s: content_hash(np.asarray(d.X), d.y.astype(str), sessions[s])
               for s, d in data.subjects.items()}  # fmt: skip
        for s, d in data.subjects.items():
            others = [o for o in data.subjects if o != s]
            X = np.concatenate([np.asarray(data.subjects[o].X) for o in others])
            y = np.concatenate([data.subjects[o].y for o in others])
            tests = {ses: (np.asarray(d.X[sessions[s] == ses]), d.y[sessions[s] == ses])
                     for ses in _unique(sessions[s])}  # fmt: skip
            units.append(("split", {"subject": s, "session": None}, X, y, tests,
                          content_hash(s, [fps[o] for o in data.subjects])))  # fmt: skip
    return units


def _unique(values: np.ndarray) -> list[str]:
    return list(dict.fromkeys(values.tolist()))


def execute(job: Job) -> list[dict[str, Any]]:
    """Run one job; return its result rows (score, metric, fit time, sizes...)."""
    job = _encode_labels(job)
    metric = metric_for(job.y)
    scorer = get_scorer(metric)
    n_channels = int(job.X.shape[1])
    base = {**job.row, "metric": metric, "n_channels": n_channels,
            "n_classes": int(len(np.unique(job.y))), "seed": job.seed, "task": job.key}  # fmt: skip
    if job.kind == "cv":
        folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=job.seed)
        scores, times, n_train, n_test = [], [], [], []
        for train, test in folds.split(job.X, job.y):
            est, seconds = _fit(job, metric, job.X[train], job.y[train])
            scores.append(scorer(est, job.X[test], job.y[test]))
            times.append(seconds)
            n_train.append(len(train))
            n_test.append(len(test))
        return [{**base, "score": float(np.mean(scores)), "fit_time": float(np.mean(times)),
                 "n_train": float(np.mean(n_train)), "n_test": float(np.mean(n_test))}]  # fmt: skip
    est, seconds = _fit(job, metric, job.X, job.y)
    rows = []
    for session, (X_test, y_test) in job.tests.items():
        rows.append({**base, "session": session, "score": float(scorer(est, X_test, y_test)),
                     "fit_time": seconds, "n_train": float(len(job.y)),
                     "n_test": float(len(y_test))})  # fmt: skip
    return rows


def _encode_labels(job: Job) -> Job:
    """The job with its labels replaced by their index among the sorted label values.

    MOABB's evaluations do the same (``LabelEncoder``); deep-learning estimators
    (braindecode's ``EEGClassifier``, skorch) need integer classes, and scores are unchanged.
    """
    from dataclasses import replace

    ys = [np.asarray(y) for y in [job.y]] + [np.asarray(y) for _, y in job.tests.values()]
    classes = np.unique(np.concatenate(ys))

    def code(y):
        return np.searchsorted(classes, np.asarray(y))

    return replace(job, y=code(job.y), tests={k: (X, code(y)) for k, (X, y) in job.tests.items()})


def _fit(job: Job, metric: str, X: np.ndarray, y: np.ndarray) -> tuple[Any, float]:
    est = make_estimator(job.spec, metric, job.seed)
    start = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - start
