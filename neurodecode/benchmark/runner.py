"""Run a benchmark: pipelines x dataset x evaluation, in parallel, resumable."""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from neurodecode._files import atomic_path
from neurodecode.benchmark import evaluation as _evaluation
from neurodecode.benchmark.datasets import load_dataset
from neurodecode.benchmark.pipelines import load_pipelines
from neurodecode.benchmark.report import save_plots
from neurodecode.benchmark.store import ResultStore
from neurodecode.data.errors import DataError

BACKENDS = ("loky", "dask")
COLUMNS = [
    "dataset", "subject", "session", "pipeline", "evaluation", "score", "metric", "fit_time",
    "n_train", "n_test", "n_channels", "n_classes", "seed", "versions", "task",
]  # fmt: skip
_PACKAGES = ("neurodecode", "numpy", "scipy", "scikit-learn", "pyriemann", "mne", "moabb")


def run_benchmark(
    pipelines: str | Path | list,
    dataset: str,
    out: str | Path,
    *,
    subjects: list | None = None,
    paradigm: str | None = None,
    events: list[str] | None = None,
    evaluation: str = "within-session",
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    seed: int = 42,
    dataset_params: dict[str, Any] | None = None,
    quiet: bool = False,
    plots: bool = True,
) -> pd.DataFrame:
    """Evaluate pipeline files on a dataset and write ``out/results.csv``.

    Everything that can be wrong with the inputs (pipeline files, dataset, subjects,
    events, evaluation, backend) is checked before any model is fitted. Results are cached
    per job in ``out/store`` by content hash: a repeated run computes nothing and an
    interrupted one resumes where it stopped.

    Parameters
    ----------
    pipelines : path or list of paths
        MOABB-schema YAML files or folders of them.
    dataset : str
        Synthetic world name (``"synthetic-mi"``) or MOABB dataset code.
    out : path
        Output folder: ``results.csv``, ``store/``, ``scores.png``, ``time_vs_score.png``.
    subjects, paradigm, events, dataset_params
        See :func:`~neurodecode.benchmark.datasets.load_dataset`.
    evaluation : {"within-session", "cross-session", "cross-subject"}
    n_jobs : int
        Parallel jobs (joblib); -1 uses all cores (or all dask workers).
    backend : {"loky", "dask"}
        ``"dask"`` sends jobs to the ``dask.distributed`` scheduler at ``scheduler``.
    scheduler : str, optional
        Dask scheduler address, e.g. ``"tcp://10.0.0.1:8786"``.
    seed : int
        Seeds the folds, the inner grid-search folds and estimators' ``random_state``.
    quiet : bool
        No progress bar.
    plots : bool
        Save the PNG figures.

    Returns
    -------
    DataFrame
        The rows of ``results.csv`` (columns :data:`COLUMNS`); ``attrs["n_computed"]`` and
        ``attrs["n_cached"]`` count the jobs run now and found in the store.
    """
    if backend not in BACKENDS:
        raise DataError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "dask" and not scheduler:
        raise DataError("--backend dask needs --scheduler ADDRESS (a dask.distributed scheduler)")
    if evaluation not in _evaluation.EVALUATIONS:
        raise DataError(
            f"unknown evaluation {evaluation!r}; expected one of {_evaluation.EVALUATIONS}"
        )
    specs = load_pipelines(pipelines)
    data = load_dataset(dataset, subjects, paradigm, events, dataset_params)
    usable = [s for s in specs if data.paradigm in s.paradigms]
    if not usable:
        raise DataError(
            f"none of the pipelines applies to paradigm {data.paradigm}: "
            + ", ".join(f"{s.name} ({'/'.join(s.paradigms)})" for s in specs)
        )
    jobs = _evaluation.build_jobs(evaluation, usable, data, seed)
    store = ResultStore(Path(out) / "store")
    pending = [job for job in jobs if job.key not in store]
    versions = _versions()
    for job in pending:
        job.row["versions"] = versions
    _run(pending, store, n_jobs, backend, scheduler, quiet)
    rows = [row for job in jobs for row in store.get(job.key)]
    results = pd.DataFrame(rows, columns=COLUMNS)
    out = Path(out)
    with atomic_path(out / "results.csv") as tmp:
        results.to_csv(tmp, index=False)
    if plots:
        save_plots(results, out)
    results.attrs.update(n_computed=len(pending), n_cached=len(jobs) - len(pending))
    return results


def _run(jobs: list, store: ResultStore, n_jobs: int, backend: str, scheduler: str | None,
         quiet: bool) -> None:  # fmt: skip
    """Execute ``jobs`` through joblib, storing each job's rows as soon as it finishes."""
    if not jobs:
        return
    from joblib import Parallel, delayed, parallel_config
    from tqdm.auto import tqdm

    client = None
    if backend == "dask":
        from distributed import Client

        client = Client(scheduler)
    try:
        with parallel_config(backend=backend, n_jobs=n_jobs):
            results = Parallel(return_as="generator_unordered")(
                delayed(_execute_keyed)(job) for job in jobs
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # tqdm's notebook hint
                bar = tqdm(results, total=len(jobs), desc="benchmark", unit="job",
                           disable=quiet)  # fmt: skip
            for key, rows in bar:
                store.put(key, rows)
    finally:
        if client is not None:
            client.close()


def _execute_keyed(job: _evaluation.Job) -> tuple[str, list[dict]]:
    return job.key, _evaluation.execute(job)


def _versions() -> str:
    """``name=version`` of the packages that decide the numbers, ``;``-separated."""
    import neurodecode

    parts = []
    for name in _PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = neurodecode.__version__ if name == "neurodecode" else None
        if version:
            parts.append(f"{name}={version}")
    return ";".join(parts)
