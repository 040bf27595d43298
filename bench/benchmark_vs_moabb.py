"""neurodecode's benchmark framework against MOABB's WithinSessionEvaluation, same data, same run.

Dataset: the synthetic-mi world (physiological model, seed 0; 4 subjects x 2 sessions x 2 runs,
22 channels, 128 Hz, 24 trials per class and run) handed to BOTH tools as one MOABB dataset
object: each run's trials laid end to end (1 s of silence between them) into a continuous
``mne.io.RawArray`` with a stim channel. Both tools read it through the same MOABB paradigm
(``LeftRightImagery()``: 8-32 Hz FIR on the continuous signal, epochs 0-3 s), so their epochs
are identical (48 per session). The raws are generated once before timing (a memo in the
dataset object), so world generation is in no measurement; MOABB's filtering and epoching
are, on both sides. Within-session 5-fold CV, seed = MOABB's random_state = 42, one job, one
BLAS/OpenMP thread. TS+LR and CSP+LDA from pipelines/ (the same sklearn objects on both
sides, built from the same YAML files). Measured:

(a) first run, each tool as shipped: neurodecode with the pipeline files as they are (batched
    OAS covariances, ``neurodecode.riemann.BatchCovariances``), MOABB with pyRiemann's
    per-trial ``Covariances(estimator="oas")`` (MOABB's own pipeline files);
(b) framework against framework with the SAME covariance step, both ways: both with
    pyRiemann's ``Covariances`` (our files rewritten with that step), and both with our batched
    step (MOABB given the pipelines built from our files);
(c) a fully cached rerun of (a): MOABB with ``overwrite=False`` on its HDF5 results, ours on
    the same output folder (each repeat: the median of 5 reruns); in the same process (imports warm: what each framework itself
    costs), and in a fresh process (what a user waits for: interpreter, imports, rerun).
    In a fresh process MOABB is imported by MOABB's script, and by ours only where the
    dataset is a MOABB object; the fresh reruns are timed for both our forms of the same
    benchmark: the dataset object above, and ``neurodecode benchmark --dataset
    synthetic-mi`` by name (the same world, subjects, sessions, pipelines and folds, its
    trials filtered per epoch instead of MOABB's continuous FIR), which imports no MOABB;
    and, as a MOABB dataset named by its code, MOABB's FakeDataset (subjects 1-4, 2
    sessions, fake1 vs fake2, generated locally): ``neurodecode benchmark --dataset
    FakeDataset`` against MOABB's script on ``FakeDataset(subjects=[1, 2, 3, 4])``.

For every first run, the time spent inside the pipelines' own fit/predict/decision_function
(scikit-learn ``Pipeline`` methods, clocked while patched) is subtracted from the wall time:
the rest is the framework's overhead (data loading through MOABB's paradigm, splitting,
cloning, scoring, storing, writing outputs: ours results.csv and two PNG figures, whose
drawing time is recorded on its own; MOABB's HDF5 file). Before timing, each tool runs the
benchmark once untimed (imports, caches, font cache).

Every repeat runs both tools back to back, alternating which goes first, so machine load
affects both alike; the JSON holds every time and the medians, and ratios are ours / MOABB's
(below 1: neurodecode faster). neurodecode also writes results.csv and two PNG figures;
MOABB writes its HDF5 file and no figures.

Usage: python bench/benchmark_vs_moabb.py [--repeats 5] [--fresh-repeats 3] [--out FILE]
(about 5 minutes on 2 loaded cores)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "pipelines" / f for f in ("TS_LR.yml", "CSP_LDA.yml")]
EVENTS = ["left_hand", "right_hand"]
FAKE_EVENTS = ["fake1", "fake2"]
SEED = 42


def synthetic_mi_for_moabb(n_subjects: int = 4, seed: int = 0):
    """The synthetic-mi world as a MOABB dataset object (continuous raws with a stim channel)."""
    from moabb.datasets.base import BaseDataset

    class SyntheticMI(BaseDataset):
        def __init__(self):
            super().__init__(subjects=list(range(1, n_subjects + 1)), sessions_per_subject=2,
                             events={"left_hand": 1, "right_hand": 2, "feet": 3, "tongue": 4},
                             code="SyntheticMI", interval=[0, 3], paradigm="imagery")  # fmt: skip
            self.seed = seed
            self._raws: dict = {}

        def _get_single_subject_data(self, subject):
            if subject not in self._raws:
                self._raws[subject] = _raws(subject, seed)
            return {ses: {run: raw.copy() for run, raw in runs.items()}
                    for ses, runs in self._raws[subject].items()}  # fmt: skip

        def data_path(self, subject, path=None, force_update=False, update_path=None,
                      verbose=None):  # fmt: skip
            return []

    return SyntheticMI()


def _raws(subject: int, seed: int) -> dict:
    import mne

    from neurodecode.datasets import open_dataset

    world = open_dataset("synthetic-mi", subjects=[str(subject)], n_subjects=subject, seed=seed)
    d = world.subjects[str(subject)]
    sfreq = float(d.info["sfreq"])
    codes = {"left_hand": 1, "right_hand": 2, "feet": 3, "tongue": 4}
    X = np.asarray(d.X) * 1e-6  # MOABB expects volts (its paradigm scales to microvolts)
    gap = int(sfreq)
    info = mne.create_info(list(d.info["ch_names"]) + ["stim"], sfreq,
                           ["eeg"] * X.shape[1] + ["stim"])  # fmt: skip
    out: dict = {}
    meta = d.metadata.reset_index(drop=True)
    for i, ses in enumerate(dict.fromkeys(meta["session"])):
        out[str(i)] = {}
        for j, run in enumerate(dict.fromkeys(meta.loc[meta["session"] == ses, "run"])):
            idx = np.flatnonzero((meta["session"] == ses).to_numpy() & (meta["run"] == run).to_numpy())
            n_t = X.shape[2]
            data = np.zeros((X.shape[1] + 1, gap + len(idx) * (n_t + gap)))
            for k, t in enumerate(idx):
                start = gap + k * (n_t + gap)
                data[:-1, start:start + n_t] = X[t]
                data[-1, start] = codes[str(d.y[t])]
            out[str(i)][str(j)] = mne.io.RawArray(data, info, verbose="error")
    return out


def pyriemann_files(folder: Path) -> list[Path]:
    """Our pipeline files with the batched covariance step replaced by pyRiemann's."""
    import yaml

    files = []
    for f in FILES:
        config = yaml.safe_load(f.read_text())
        step = config["pipeline"][0]
        assert step["name"] == "BatchCovariances", step
        config["pipeline"][0] = {"name": "Covariances", "from": "pyriemann.estimation",
                                 "parameters": dict(step.get("parameters") or {})}  # fmt: skip
        path = folder / f.name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        files.append(path)
    return files


class PipelineClock:
    """Seconds spent inside the pipelines' own fit/predict/decision_function/predict_proba
    (sklearn's ``Pipeline`` methods, patched while active): the rest of a run's wall time is
    the framework's (data loading through MOABB's paradigm included, alike on both sides)."""

    METHODS = ("fit", "predict", "predict_proba", "decision_function", "score")

    def __init__(self):
        self.seconds = 0.0
        self._depth = 0

    def _timed(self, fn):
        import functools

        @functools.wraps(fn)
        def method(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return method

    def __enter__(self):
        from sklearn.pipeline import Pipeline
        from sklearn.utils._available_if import _AvailableIfDescriptor

        self._saved = {m: Pipeline.__dict__[m] for m in self.METHODS}
        for m, original in self._saved.items():
            if isinstance(original, _AvailableIfDescriptor):  # keeps its availability check
                new = _AvailableIfDescriptor(self._timed(original.fn), original.check,
                                             attribute_name=original.attribute_name)  # fmt: skip
            else:
                new = self._timed(original)
            setattr(Pipeline, m, new)
        return self

    def __exit__(self, *exc):
        from sklearn.pipeline import Pipeline

        for m, original in self._saved.items():
            setattr(Pipeline, m, original)


def run_ours(files, dataset, out: Path) -> tuple[float, dict]:
    import neurodecode.benchmark.runner as runner
    from neurodecode.benchmark import run_benchmark

    draw, drawn = runner.save_plots, []

    def timed_plots(*args, **kwargs):  # how much of our run the two PNG figures take
        start = time.perf_counter()
        try:
            return draw(*args, **kwargs)
        finally:
            drawn.append(time.perf_counter() - start)

    runner.save_plots = timed_plots
    try:
        start = time.perf_counter()
        res = run_benchmark(files, dataset, out, paradigm="LeftRightImagery", events=EVENTS,
                            seed=SEED, quiet=True)  # fmt: skip
        seconds = time.perf_counter() - start
    finally:
        runner.save_plots = draw
    return seconds, {"rows": len(res), "figures_s": sum(drawn), "computed": res.attrs["n_computed"],
                     "cached": res.attrs["n_cached"], "loaded": res.attrs["loaded_subjects"],
                     "mean_score": {p: float(g["score"].mean())
                                    for p, g in res.groupby("pipeline")}}  # fmt: skip


def run_moabb(pipelines: dict, dataset, path: Path) -> tuple[float, dict]:
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    start = time.perf_counter()
    res = WithinSessionEvaluation(paradigm=LeftRightImagery(), datasets=[dataset],
                                  random_state=SEED, overwrite=False, hdf5_path=str(path),
                                  n_jobs=1).process(pipelines)  # fmt: skip
    seconds = time.perf_counter() - start
    return seconds, {"rows": len(res), "mean_score": {p: float(g["score"].mean())
                                                       for p, g in res.groupby("pipeline")}}  # fmt: skip


def moabb_script_rerun(folder: str, fake: bool = False) -> None:
    """What a MOABB user reruns: MOABB's pipelines written in Python, its evaluation (on the
    synthetic-mi object, or with ``fake`` on MOABB's FakeDataset, subjects 1-4)."""
    import moabb
    from moabb.datasets.fake import FakeDataset
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery, MotorImagery
    from pyriemann.estimation import Covariances
    from pyriemann.spatialfilters import CSP
    from pyriemann.tangentspace import TangentSpace
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    moabb.set_log_level("ERROR")
    pipelines = {
        "TS+LR": make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                               LogisticRegression(C=1.0, max_iter=1000)),
        "CSP+LDA": make_pipeline(Covariances(estimator="oas"), CSP(nfilter=6),
                                 LinearDiscriminantAnalysis(solver="svd")),
    }  # fmt: skip
    if fake:
        paradigm = MotorImagery(events=FAKE_EVENTS, n_classes=2)
        dataset = FakeDataset(subjects=[1, 2, 3, 4])
    else:
        paradigm, dataset = LeftRightImagery(), synthetic_mi_for_moabb()
    res = WithinSessionEvaluation(paradigm=paradigm, datasets=[dataset], random_state=SEED,
                                  overwrite=False, hdf5_path=folder,
                                  n_jobs=1).process(pipelines)  # fmt: skip
    print(f"ROWS {len(res)}")


def ours_object_rerun(folder: str) -> None:
    """Our rerun of the benchmark on the MOABB dataset object (so MOABB is imported)."""
    from neurodecode.benchmark import run_benchmark

    res = run_benchmark(FILES, synthetic_mi_for_moabb(), folder, paradigm="LeftRightImagery",
                        events=EVENTS, seed=SEED, quiet=True)  # fmt: skip
    print(f"ROWS {len(res)} COMPUTED {res.attrs['n_computed']}")


def fresh(command: list[str], **env_extra: str) -> tuple[float, str]:
    """Wall time of ``command`` in a fresh interpreter, and its output."""
    import subprocess
    import sys

    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", **env_extra}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env,
                          check=True, cwd=ROOT)  # fmt: skip
    return time.perf_counter() - start, done.stdout.strip().splitlines()[-1] if done.stdout else ""


def cli_command(folder: Path, fake: bool = False) -> list[str]:
    dataset = (["FakeDataset", "--subjects", "1", "2", "3", "4", "--paradigm", "MotorImagery",
                "--events", *FAKE_EVENTS] if fake else ["synthetic-mi", "--events", *EVENTS])
    return ["-m", "neurodecode.cli", "benchmark", "--pipelines", *map(str, FILES), "--dataset",
            *dataset, "--seed", str(SEED), "--out", str(folder), "--quiet"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fresh-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "benchmark_vs_moabb.json")
    parser.add_argument("--child", choices=["moabb", "moabb-fake", "ours-object"],
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        logging.disable(logging.WARNING)
        warnings.filterwarnings("ignore")
        if args.child == "moabb-fake":
            moabb_script_rerun(args.folder, fake=True)
        else:
            {"moabb": moabb_script_rerun, "ours-object": ours_object_rerun}[args.child](args.folder)
        return
    load_before = os.getloadavg()[0]
    import moabb
    from threadpoolctl import threadpool_limits

    from neurodecode._files import write_json
    from neurodecode.benchmark import load_pipelines

    moabb.set_log_level("ERROR")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="vs_moabb_"))
    dataset = synthetic_mi_for_moabb()
    with threadpool_limits(1):
        dataset.get_data(dataset.subject_list)  # generate the world once, outside all timings
    batched = FILES
    perstep = pyriemann_files(work)

    def objects(files):
        return {s.name: s.pipeline for s in load_pipelines(files)}

    # name -> (our files, MOABB's pipelines)
    configs = {"as_shipped": (batched, objects(perstep)),
               "same_step_pyriemann": (perstep, objects(perstep)),
               "same_step_batched": (batched, objects(batched))}  # fmt: skip
    times: dict = {f"{c}_{w}": {"neurodecode": [], "moabb": []}
                   for c in configs for w in ("first", "rerun")}  # fmt: skip
    overhead: dict = {c: {"neurodecode": [], "moabb": []} for c in configs}
    figures: dict = {c: [] for c in configs}
    details: dict = {}
    with threadpool_limits(1):  # warm-up, untimed
        run_ours(batched, dataset, work / "warm_ours")
        run_moabb(configs["as_shipped"][1], dataset, work / "warm_moabb")
    kept = {"neurodecode": work / "warm_ours", "moabb": work / "warm_moabb"}
    for r in range(args.repeats):
        for c, (files, pipes) in configs.items():
            order = ("neurodecode", "moabb") if (r % 2 == 0) else ("moabb", "neurodecode")
            for tool in order:
                folder = work / f"{c}_{tool}_{r}"
                for what in ("first", "rerun"):
                    tries = []  # a rerun takes milliseconds: the median of 5 back to back
                    for _ in range(1 if what == "first" else 5):
                        with threadpool_limits(1), PipelineClock() as clock:
                            if tool == "neurodecode":
                                seconds, info = run_ours(files, dataset, folder)
                            else:
                                seconds, info = run_moabb(pipes, dataset, folder)
                        tries.append(seconds)
                    seconds = statistics.median(tries)
                    times[f"{c}_{what}"][tool].append(seconds)
                    if what == "first":
                        overhead[c][tool].append(seconds - clock.seconds)
                        if tool == "neurodecode":
                            figures[c].append(info["figures_s"])
                    details[f"{c}_{what}_{tool}"] = {**info, "pipeline_s": clock.seconds}
                    print(f"repeat {r} {c} {what} {tool}: {seconds:.3f} s "
                          f"(pipelines {clock.seconds:.3f} s)", flush=True)  # fmt: skip
                shutil.rmtree(folder, ignore_errors=True)
    # fresh-process reruns of the as-shipped benchmark (the warm-up's folders), alternated
    by_name = work / "by_name"
    first_by_name, _ = fresh(cli_command(by_name))
    # and of a MOABB dataset named by its code (MOABB's FakeDataset, subjects 1-4, generated
    # locally): ours remembers the dataset's description, MOABB's script imports MOABB
    mne_data = work / "mne_data"
    mne_data.mkdir()
    fake_first = {"neurodecode": fresh(cli_command(work / "fake_ours", fake=True),
                                       MNE_DATA=str(mne_data))[0],
                  "moabb": fresh([__file__, "--child", "moabb-fake", "--folder",
                                  str(work / "fake_moabb")])[0]}  # fmt: skip
    fresh_times: dict = {"neurodecode_by_name": [], "neurodecode_object": [], "moabb": [],
                         "neurodecode_fake_by_code": [], "moabb_fake": []}  # fmt: skip
    outputs: dict = {}
    for r in range(args.fresh_repeats):
        runs = {
            "neurodecode_by_name": cli_command(by_name),
            "neurodecode_object": [__file__, "--child", "ours-object", "--folder",
                                   str(kept["neurodecode"])],
            "moabb": [__file__, "--child", "moabb", "--folder", str(kept["moabb"])],
            "neurodecode_fake_by_code": cli_command(work / "fake_ours", fake=True),
            "moabb_fake": [__file__, "--child", "moabb-fake", "--folder",
                           str(work / "fake_moabb")],
        }  # fmt: skip
        names = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for name in names:
            seconds, outputs[name] = fresh(runs[name], MNE_DATA=str(mne_data))
            fresh_times[name].append(seconds)
            print(f"repeat {r} fresh-process rerun {name}: {seconds:.3f} s {outputs[name]}",
                  flush=True)  # fmt: skip
    medians = {k: {t: statistics.median(v) for t, v in d.items()} for k, d in times.items()}
    ratios = {k: m["neurodecode"] / m["moabb"] for k, m in medians.items()}
    over_medians = {k: {t: statistics.median(v) for t, v in d.items()} for k, d in overhead.items()}
    over_ratios = {k: m["neurodecode"] / m["moabb"] for k, m in over_medians.items()}
    fresh_medians = {k: statistics.median(v) for k, v in fresh_times.items()}
    fresh_ratios = {k: fresh_medians[k] / fresh_medians["moabb"]
                    for k in ("neurodecode_by_name", "neurodecode_object")}  # fmt: skip
    fresh_ratios["neurodecode_fake_by_code"] = (fresh_medians["neurodecode_fake_by_code"]
                                                / fresh_medians["moabb_fake"])  # fmt: skip
    result = {
        "what": __doc__.split("\n\n")[0],
        "setup": " ".join(__doc__.split("\n\n")[1].split()),
        "measurements": " ".join(__doc__.split("\n\n")[2].split()),
        "dataset": "synthetic-mi:physiological as a MOABB dataset object (4 subjects x 2 sessions)",
        "pipelines": [f.name for f in FILES], "evaluation": "within-session, 5 folds",
        "repeats": args.repeats, "fresh_repeats": args.fresh_repeats, "threads": 1,
        "load_after": os.getloadavg()[0], "machine": platform.machine(),
        "load_before": load_before,
        "versions": {"moabb": moabb.__version__},
        "times_s": times, "median_s": medians, "ratio_ours_over_moabb": ratios,
        "framework_overhead_first_run": {
            "what": "wall time of the first run minus the time inside the pipelines' own "
                    "fit/predict/decision_function (sklearn Pipeline methods): data loading "
                    "through MOABB's paradigm, splitting, cloning, scoring glue, storing, "
                    "writing outputs (ours: results.csv and 2 PNGs; MOABB: its HDF5 file)",
            "times_s": overhead, "median_s": over_medians, "ratio_ours_over_moabb": over_ratios,
            "ours_figures_s": figures,
            "ours_figures_median_s": {c: statistics.median(v) for c, v in figures.items()}},
        "fresh_process_rerun": {"times_s": fresh_times, "median_s": fresh_medians,
                                "ratio_ours_over_moabb": fresh_ratios,
                                "first_run_by_name_s": first_by_name,
                                "fake_first_run_s": fake_first,
                                "last_outputs": outputs},
        "details_last_repeat": details,
    }  # fmt: skip
    write_json(args.out, result)
    for k, m in medians.items():
        print(f"{k}: neurodecode {m['neurodecode']:.3f} s, MOABB {m['moabb']:.3f} s, "
              f"ratio {ratios[k]:.3f}")  # fmt: skip
    for k, m in over_medians.items():
        print(f"framework overhead {k}: neurodecode {m['neurodecode']:.3f} s, MOABB "
              f"{m['moabb']:.3f} s, ratio {over_ratios[k]:.3f}")  # fmt: skip
    for k, v in fresh_medians.items():
        print(f"fresh-process rerun {k}: {v:.3f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
