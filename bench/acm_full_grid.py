"""ACM with automatic order/lag against MOABB's *full* augmented-covariance grid, every outer fold.

World: synthetic-mi, physiological model (the default: ERD/ERS, volume conduction, artefacts,
common average reference), subject 1, one session, all four classes (24 trials each), on the
8 sensorimotor channels FC3 FCz FC4 C3 Cz C4 CP3 CP4 (average reference over those 8, so the
data have rank 7). The full grid on the default 22 channels would cost ~(21/7)^3 = 27x more per
candidate, hours per fold on one core; on 8 channels a fold takes ~3.5 CPU minutes.

Outer CV: StratifiedKFold(5, shuffle=True, random_state=42). Grid:
pipelines/ACM_TS_SVM_grid.yml (MOABB's 10 orders x 10 lags x 3 C x 2 kernels = 600
candidates), GridSearchCV with an inner StratifiedKFold(3, shuffle=True, random_state=42),
refit on the whole training fold. Auto: pipelines/ACM_TS_SVM_auto.yml (order and lag
estimated on the training fold, linear SVC, C=1), one fit. Zero-lag reference on the same
folds: pipelines/TS_LR.yml (OAS covariance, tangent space, logistic regression; chance is .25).
One BLAS/OpenMP thread; the machine is shared, so wall-clock fit seconds depend on the load
(recorded): the process CPU seconds of each fit and their ratio are recorded beside them.

The JSON is rewritten after every fold (a killed run keeps the finished folds; ``--resume``
continues after them, and on a finished run re-renders the summary). Usage:
``python bench/acm_full_grid.py [--folds 5] [--resume]``.
Writes bench/results/acm_full_grid.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "acm_full_grid.json"
CHANNELS = ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"]
WORLD = {"model": "physiological", "channels": CHANNELS, "n_sessions": 1}
WHAT = " ".join(__doc__.split("\n\n")[1:3]).replace("\n", " ")


def _flat(row: dict) -> dict:
    """One flat per-fold row (nested ``{"auto": {...}, "grid": {...}}`` rows are flattened)."""
    out = {k: v for k, v in row.items() if not isinstance(v, dict)}
    for label in ("auto", "grid"):
        for key, value in (row.get(label) or {}).items():
            if key == "chosen":
                out.update({f"grid_{k.split('__')[1]}": v for k, v in (value or {}).items()
                            if k.startswith("svc__")})  # fmt: skip
            elif key not in ("candidates", "rank") or label == "auto":
                out[f"{label}_{key}" if key != "rank" else "rank"] = value
    return out


def _summary(folds: list[dict]) -> dict:
    out: dict = {"n_folds": len(folds)}
    for label in ("auto", "grid"):
        acc = np.array([f[f"{label}_accuracy"] for f in folds])
        fit = np.array([f[f"{label}_fit_seconds"] for f in folds])
        cpu = np.array([f[f"{label}_fit_cpu_seconds"] for f in folds])
        out[label] = {"accuracy_mean": float(acc.mean()), "accuracy_median": float(np.median(acc)),
                      "accuracy_std": float(acc.std()), "fit_seconds_total": float(fit.sum()),
                      "fit_seconds_median": float(np.median(fit)),
                      "fit_cpu_seconds_total": float(cpu.sum()),
                      "fit_cpu_seconds_median": float(np.median(cpu))}  # fmt: skip
    if all("ts_lr_accuracy" in f for f in folds):
        out["ts_lr_accuracy_mean"] = float(np.mean([f["ts_lr_accuracy"] for f in folds]))
    diff = np.array([f["auto_accuracy"] - f["grid_accuracy"] for f in folds])
    out["auto_minus_grid"] = {"mean": float(diff.mean()), "median": float(np.median(diff)),
                              "folds_auto_better": int((diff > 0).sum()),
                              "folds_equal": int((diff == 0).sum()),
                              "folds_grid_better": int((diff < 0).sum())}  # fmt: skip
    out["time_ratio_grid_over_auto"] = out["grid"]["fit_seconds_total"] / out["auto"][
        "fit_seconds_total"]  # fmt: skip
    out["cpu_time_ratio_grid_over_auto"] = out["grid"]["fit_cpu_seconds_total"] / out["auto"][
        "fit_cpu_seconds_total"]  # fmt: skip
    gap, ratio = out["auto_minus_grid"]["mean"], out["cpu_time_ratio_grid_over_auto"]
    where = f"{gap:+.3f} accuracy on average over {len(folds)} folds"
    if gap < -0.03:
        verdict = f"auto is worse than the full grid: {where}"
    elif gap > 0.03:
        verdict = f"auto is better than the full grid: {where}"
    else:
        verdict = f"auto is within .03 of the full grid ({where})"
    out["verdict"] = f"{verdict}, at 1/{ratio:.0f} of its fit CPU time"
    return out


def _write(folds: list[dict]) -> None:
    from neurodecode._files import write_json

    write_json(OUT, {"what": WHAT, "world": WORLD, "dataset": "synthetic-mi:physiological",
                     "machine": platform.processor() or platform.machine(),
                     "threads": 1, "summary": _summary(folds), "folds": folds})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="outer folds to run (of 5)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the folds already in the JSON (same world and setup)")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from neurodecode.benchmark import load_dataset
    from neurodecode.benchmark.pipelines import load_pipeline

    data = load_dataset("synthetic-mi", subjects=[1], params=WORLD).subjects["1"]
    X, y = np.asarray(data.X), np.asarray(data.y)
    splits = list(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y))
    grid = load_pipeline(ROOT / "pipelines" / "ACM_TS_SVM_grid.yml")
    auto = load_pipeline(ROOT / "pipelines" / "ACM_TS_SVM_auto.yml")
    reference = load_pipeline(ROOT / "pipelines" / "TS_LR.yml")
    inner = StratifiedKFold(3, shuffle=True, random_state=42)
    folds: list[dict] = []
    if args.resume and OUT.exists():  # the folds a run of this same setup finished
        previous = json.loads(OUT.read_text())
        if previous.get("world") == WORLD:
            folds = [_flat(row) for row in previous.get("folds", [])]
    for k, (train, test) in enumerate(splits[: args.folds]):
        if k < len(folds):
            continue
        row: dict = {"fold": k, "n_train": int(len(train)), "n_test": int(len(test)),
                     "load_average_1min_before": os.getloadavg()[0]}  # fmt: skip
        for label, spec in (("auto", auto), ("grid", grid)):
            model = clone(spec.pipeline)
            if spec.param_grid:
                model = GridSearchCV(model, spec.param_grid, cv=inner, n_jobs=1)
            with threadpool_limits(1):
                start, cpu = time.perf_counter(), time.process_time()
                model.fit(X[train], y[train])
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                accuracy = accuracy_score(y[test], model.predict(X[test]))
            fitted = model.best_estimator_ if spec.param_grid else model
            acm = fitted[0]
            row[label] = {
                "accuracy": float(accuracy), "fit_seconds": seconds, "fit_cpu_seconds": cpu,
                "candidates": int(np.prod([len(v) for v in spec.param_grid.values()]))
                if spec.param_grid else 1,
                "order": int(acm.order_), "lag": int(acm.lag_), "rank": int(acm.rank_),
                "ridge": float(acm.ridge_),
                "chosen": {key: (v.item() if hasattr(v, "item") else v)
                           for key, v in model.best_params_.items()}
                if spec.param_grid else None,
            }  # fmt: skip
            if not spec.param_grid:
                row[label]["order_estimate"] = int(acm.order_estimate_)
            print(k, label, row[label], flush=True)
        row["load_average_1min_after"] = os.getloadavg()[0]
        folds.append(_flat(row))
        _write(folds)
    # zero-lag reference, cheap, for the folds measured so far
    for row, (train, test) in zip(folds, splits[:len(folds)], strict=True):
        if "ts_lr_accuracy" not in row:
            model = clone(reference.pipeline)
            with threadpool_limits(1):
                model.fit(X[train], y[train])
                row["ts_lr_accuracy"] = float(accuracy_score(y[test], model.predict(X[test])))
    _write(folds)
    print(json.dumps(_summary(folds), indent=1), flush=True)


if __name__ == "__main__":
    main()
