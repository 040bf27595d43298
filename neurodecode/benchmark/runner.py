"""Run a benchmark: pipelines x dataset x evaluation, in parallel, resumable."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from neurodecode._files import atomic_path, write_json
from neurodecode.benchmark import evaluation as _evaluation
from neurodecode.benchmark.datasets import open_source
from neurodecode.benchmark.pipelines import load_pipeline, load_pipelines
from neurodecode.benchmark.report import FIGURES, figure_keys, save_plots
from neurodecode.benchmark.store import ResultStore
from neurodecode.data.errors import DataError

BACKENDS = ("loky", "dask")
COLUMNS = [
    "dataset", "subject", "session", "fold", "pipeline", "evaluation", "score", "metric",
    "fit_time", "n_train", "n_test", "n_channels", "data_rank", "n_classes", "seed", "status",
    "error", "versions", "task",
]  # fmt: skip
_PACKAGES = ("neurodecode", "numpy", "scipy", "scikit-learn", "pyriemann", "mne", "moabb")


def run_benchmark(
    pipelines: str | Path | list,
    dataset: Any,
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
    paradigm_params: dict[str, Any] | None = None,
    compat: str = "neurodecode",
    overwrite: bool = False,
    quiet: bool = False,
    plots: bool = True,
) -> pd.DataFrame:
    """Evaluate pipeline files on a dataset and write ``out/results.csv``.

    Everything that can be wrong with the inputs (pipeline files, dataset, subjects,
    events, evaluation, backend) is checked before any data is loaded or model fitted. The
    result store in ``out/store`` is asked first what is missing, per pipeline and subject,
    from the pipeline files and the dataset's description alone; only pipelines with missing
    results are then built (imported, instantiated and fully checked, still before any data)
    and only subjects with missing results loaded, so a repeated run builds no estimator,
    loads, copies and hashes no data, computes nothing and rewrites no output whose inputs
    did not change (``results.csv`` and each figure, see ``OUT/.outputs.json``), and an
    interrupted one resumes where it stopped. Measured against MOABB's evaluation in
    ``bench/benchmark_vs_moabb.py``.

    Parameters
    ----------
    pipelines : path or list of paths
        MOABB-schema YAML files or folders of them.
    dataset : str or moabb.datasets.base.BaseDataset
        Synthetic world name (``"synthetic-mi"``), MOABB dataset code, or a MOABB dataset
        object (read through MOABB's paradigm, as MOABB's evaluations read it).
    out : path
        Output folder: ``results.csv``, ``store/``, ``scores.png``, ``time_vs_score.png``.
    subjects, paradigm, events, dataset_params, paradigm_params
        See :func:`~neurodecode.benchmark.datasets.open_source`.
    evaluation : {"within-session", "cross-session", "cross-subject"}
    n_jobs : int
        Parallel jobs (joblib); -1 uses all cores (or all dask workers).
    backend : {"loky", "dask"}
        ``"dask"`` sends jobs to the ``dask.distributed`` scheduler at ``scheduler``.
    scheduler : str, optional
        Dask scheduler address, e.g. ``"tcp://10.0.0.1:8786"``.
    seed : int
        Seeds the folds, the inner grid-search folds and estimators' ``random_state``
        (MOABB's ``random_state``).
    compat : {"neurodecode", "moabb"}
        ``"moabb"`` restores MOABB's behaviour where neurodecode differs on purpose (see
        :mod:`neurodecode.benchmark.evaluation`).
    overwrite : bool
        Recompute everything, ignoring (and replacing) stored results. Result keys describe
        a MOABB dataset by its code, preprocessing and MOABB version, not by its files'
        content (hashing them is what made reruns slow): after replacing the files of a
        dataset in ``MNE_DATA``, pass ``overwrite`` (local folders are keyed by file sizes
        and times, synthetic worlds by their parameters).
    quiet : bool
        No progress bar and no failure messages on stderr.
    plots : bool
        Save the PNG figures.

    Returns
    -------
    DataFrame
        The rows of ``results.csv`` (columns :data:`COLUMNS`): one per fold within session,
        one per held-out session otherwise; failed folds have ``status="failed"`` and an
        ``error``. ``attrs`` has ``n_computed`` and ``n_cached`` (jobs run now and found in
        the store), ``n_failed`` (failed rows) and ``loaded_subjects``.
    """
    if backend not in BACKENDS:
        raise DataError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "dask" and not scheduler:
        raise DataError("--backend dask needs --scheduler ADDRESS (a dask.distributed scheduler)")
    if evaluation not in _evaluation.EVALUATIONS:
        raise DataError(
            f"unknown evaluation {evaluation!r}; expected one of {_evaluation.EVALUATIONS}"
        )
    if compat not in _evaluation.COMPAT:
        raise DataError(f"unknown compat {compat!r}; expected one of {_evaluation.COMPAT}")
    specs = load_pipelines(pipelines, build=False)  # parsed; built below if they have work
    source = _open_remembered(dataset, out, subjects, paradigm, events, dataset_params,
                              paradigm_params)  # fmt: skip
    usable = [s for s in specs if source.paradigm in s.paradigms]
    if not usable:
        raise DataError(
            f"none of the pipelines applies to paradigm {source.paradigm}: "
            + ", ".join(f"{s.name} ({'/'.join(s.paradigms)})" for s in specs)
        )
    if evaluation == "cross-subject" and len(source.subjects) < 2:
        raise DataError(f"{source.label}: cross-subject evaluation needs at least 2 subjects")
    store = ResultStore(Path(out) / "store")
    groups = {
        (spec.name, s): key for spec in usable for s, key in _evaluation.group_keys(
            evaluation, spec, source.identity, source.subjects, seed, compat).items()
    }  # fmt: skip
    stored = {} if overwrite else {k: store.get(key) for k, key in groups.items()}
    missing = [k for k in groups if stored.get(k) is None]
    # only pipelines with work are built (imports, estimators, full checks), before any data
    by_name = {spec.name: spec for spec in usable}
    for name in dict.fromkeys(name for name, _ in missing):
        by_name[name] = load_pipeline(by_name[name].path)
    todo = sorted({s for _, s in missing}, key=source.subjects.index)
    needed = source.subjects if evaluation == "cross-subject" and todo else todo
    data = source.load(needed)
    jobs: dict[tuple[str, str], list] = {}
    ranks: dict = {}  # data rank per training set, shared by the pipelines
    for name, s in missing:
        jobs[name, s] = _evaluation.build_jobs(evaluation, by_name[name], s, data,
                                               groups[name, s], source.label, seed, compat,
                                               ranks)  # fmt: skip
    flat = [job for group in jobs.values() for job in group]
    pending = [job for job in flat if overwrite or job.key not in store]
    versions = _versions() if pending else ""
    for job in pending:
        job.row["versions"] = versions
    _run(pending, store, n_jobs, backend, scheduler, quiet)
    for (name, s), group in jobs.items():  # a subject's rows, complete, under its group key
        stored[name, s] = [row for job in group for row in store.get(job.key)]
        store.put(groups[name, s], stored[name, s])
    rows = [row for k in groups for row in stored[k]]
    results = pd.DataFrame(rows, columns=COLUMNS)
    _write_outputs(results, rows, Path(out), plots)
    failed = [row for row in rows if row.get("status") == "failed"]
    if not quiet:
        for message in dict.fromkeys(row["error"] for row in failed):
            print(f"FAILED: {message}", file=sys.stderr)
    n_cached = sum(len({row["task"] for row in stored[k]}) for k in groups if k not in jobs)
    results.attrs.update(n_computed=len(pending), n_cached=n_cached + len(flat) - len(pending),
                         n_failed=len(failed), loaded_subjects=list(data))  # fmt: skip
    return results


def _open_remembered(dataset: Any, out: str | Path, subjects, paradigm, events,
                     dataset_params, paradigm_params):  # fmt: skip
    """:func:`open_source`, except that a MOABB dataset named by its code is described from
    ``OUT/.sources.json`` when this folder has already seen the same request under the same
    MOABB version: a rerun then imports no MOABB (most of a fresh-process rerun: importing
    MOABB pulls in pyRiemann and torch). The dataset is opened for real, with all its checks
    and the download guard, the moment any subject has to be loaded."""
    from neurodecode._files import content_hash
    from neurodecode.benchmark.datasets import BenchmarkSource, _is_local
    from neurodecode.synth import WORLDS

    def opened():
        return open_source(dataset, subjects, paradigm, events, dataset_params, paradigm_params)

    if not isinstance(dataset, str) or dataset in WORLDS or _is_local(dataset) or dataset_params:
        return opened()
    try:
        version = importlib.metadata.version("moabb")
    except importlib.metadata.PackageNotFoundError:
        return opened()
    key = content_hash("moabb-source", dataset, [str(s) for s in subjects or []] or None,
                       paradigm, events, paradigm_params or {}, version)  # fmt: skip
    memo_path = Path(out) / ".sources.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (FileNotFoundError, ValueError):
        memo = {}
    if key in memo:
        d = memo[key]

        def loader(wanted):
            return opened().load(wanted)

        return BenchmarkSource(d["name"], d["paradigm"], d["events"], d["subjects"],
                               d["identity"], d["label"], loader)  # fmt: skip
    source = opened()
    memo[key] = {"name": source.name, "paradigm": source.paradigm, "events": source.events,
                 "subjects": source.subjects, "identity": source.identity,
                 "label": source.label}  # fmt: skip
    write_json(memo_path, memo)
    return source


def _write_outputs(results: pd.DataFrame, rows: list[dict], out: Path, plots: bool) -> None:
    """Write ``results.csv`` and the figures, each only when its inputs changed.

    ``OUT/.outputs.json`` records what each output was made from (a hash of the rows for
    ``results.csv``, of each figure's own inputs for the figures, see
    :func:`~neurodecode.benchmark.report.figure_keys`) and the file's size and time as
    written; a file that is missing, touched since, or made from other inputs is written
    again, any other is left alone (same bytes, same modification time).
    """
    memo_path = out / ".outputs.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (FileNotFoundError, ValueError):
        memo = {}
    updated = dict(memo)

    def current(name: str, key: str) -> bool:
        try:
            st = (out / name).stat()
        except FileNotFoundError:
            return False
        return memo.get(name) == [key, st.st_size, st.st_mtime_ns]

    def record(name: str, key: str) -> None:
        st = (out / name).stat()
        updated[name] = [key, st.st_size, st.st_mtime_ns]

    rows_key = hashlib.sha256(json.dumps([COLUMNS, rows], default=str).encode()).hexdigest()
    if not current("results.csv", rows_key):
        with atomic_path(out / "results.csv") as tmp:
            results.to_csv(tmp, index=False)
        record("results.csv", rows_key)
    if plots and any(row.get("status") == "ok" for row in rows):
        unchanged = memo.get("figures_from") == rows_key and all(
            current(n, (memo.get(n) or [""])[0]) for n in FIGURES)  # fmt: skip
        if not unchanged:  # the rows changed: redraw the figures whose own inputs changed
            keys = figure_keys(results)
            stale = [n for n in FIGURES if not current(n, keys[n])]
            if stale:
                save_plots(results, out, only=stale)
            for name in stale:
                record(name, keys[name])
            updated["figures_from"] = rows_key
    if updated != memo:
        write_json(memo_path, updated)


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
