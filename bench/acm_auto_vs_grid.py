"""ACM with automatic order/lag vs ACM with MOABB's grid vs TS+LR on synthetic-mi.

Runs ``neurodecode.benchmark.run_benchmark`` (within-session, 5-fold, nested 3-fold grid
search) with the shipped pipeline files ``ACM_TS_SVM_auto.yml`` and ``TS_LR.yml`` and a copy
of ``ACM_TS_SVM_grid.yml`` whose grid is reduced to fit this 2-core machine (see ``GRID``;
MOABB's full grid has 10 orders x 10 lags x 3 C x 2 kernels = 600 candidates, which would take
about an hour per session here). Writes ``bench/results/acm_auto_vs_grid.json``.

Usage: ``python bench/acm_auto_vs_grid.py [--subjects 2] [--n-jobs 1]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from sklearn.model_selection import StratifiedKFold

from neurodecode._files import write_json
from neurodecode.benchmark import load_dataset, run_benchmark
from neurodecode.riemann import AugmentedCovariances

ROOT = Path(__file__).resolve().parents[1]
# 8 sensorimotor channels keep the augmented matrices (up to 80 x 80) cheap enough here; one
# session of 96 trials (24 per class) per subject.
# The temporal model of synthetic-mi (a mu-frequency shift at constant variance, which favours
# the augmented covariance by design): the world the recorded results were measured on.
WORLD = {"channels": ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"], "n_sessions": 1,
         "model": "temporal"}
# Reduced grid: 6 orders x 6 lags spanning MOABB's 1-10 ranges, SVM fixed to the auto
# pipeline's (linear, C=1) so that both ACM pipelines differ only in how order/lag are chosen.
GRID = {
    "augmentedcovariances__order": [1, 2, 4, 6, 8, 10],
    "augmentedcovariances__lag": [1, 2, 3, 5, 8, 10],
    "svc__C": [1.0],
    "svc__kernel": ["linear"],
}
FULL_GRID_CANDIDATES = 10 * 10 * 3 * 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    subjects = list(range(1, args.subjects + 1))
    with tempfile.TemporaryDirectory() as tmp:
        grid_file = Path(tmp) / "ACM_TS_SVM_grid_reduced.yml"
        config = yaml.safe_load((ROOT / "pipelines" / "ACM_TS_SVM_grid.yml").read_text())
        config["param_grid"] = GRID
        grid_file.write_text(yaml.safe_dump(config, sort_keys=False))
        files = [ROOT / "pipelines" / "TS_LR.yml", ROOT / "pipelines" / "ACM_TS_SVM_auto.yml",
                 grid_file]  # fmt: skip
        start = time.perf_counter()
        results = run_benchmark(
            files, "synthetic-mi", Path(tmp) / "out", subjects=subjects, n_jobs=args.n_jobs,
            dataset_params=WORLD, quiet=False, plots=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
    per_pipeline = {}
    for name, rows in results.groupby("pipeline"):
        per_pipeline[name] = {
            "metric": rows["metric"].iloc[0],
            "score_mean": float(rows["score"].mean()),
            "fit_time_per_fold_s_mean": float(rows["fit_time"].mean()),
            "per_session": rows[["subject", "session", "score", "fit_time"]].to_dict("records"),
        }
    auto = per_pipeline["ACM+TS+SVM (auto)"]
    grid = per_pipeline["ACM+TS+SVM (grid)"]
    tslr = per_pipeline["TS+LR"]
    n_candidates = int(np.prod([len(v) for v in GRID.values()]))
    report = {
        "what": "within-session 5-fold on synthetic-mi; fit time = mean per outer fold "
        "(includes the nested 3-fold grid search and the auto estimates)",
        "dataset": {"name": "synthetic-mi", "params": WORLD, "subjects": subjects,
                    "classes": 4, "chance": 0.25},  # fmt: skip
        "grid_ran": GRID,
        "grid_candidates": n_candidates,
        "moabb_full_grid_candidates": FULL_GRID_CANDIDATES,
        "pipelines": per_pipeline,
        "auto_order_lag_per_fold": _auto_choices(subjects),
        "ratios": {
            "grid_fit_time_over_auto": grid["fit_time_per_fold_s_mean"]
            / auto["fit_time_per_fold_s_mean"],
            "full_moabb_grid_fit_time_over_auto_extrapolated": grid["fit_time_per_fold_s_mean"]
            * FULL_GRID_CANDIDATES / n_candidates / auto["fit_time_per_fold_s_mean"],
            "auto_minus_grid_points": 100 * (auto["score_mean"] - grid["score_mean"]),
            "auto_minus_tslr_points": 100 * (auto["score_mean"] - tslr["score_mean"]),
        },
        "wall_time_s": wall,
        "machine": _machine(),
    }
    out = write_json(ROOT / "bench" / "results" / "acm_auto_vs_grid.json", report)
    print(yaml.safe_dump({k: report[k] for k in ("ratios",)}, sort_keys=False))
    for name, p in per_pipeline.items():
        print(f"{name:20s} {p['score_mean']:.3f} {p['metric']}  "
              f"{p['fit_time_per_fold_s_mean']:.2f} s/fold")
    print(f"wrote {out}")


def _auto_choices(subjects: list[int]) -> list[dict]:
    """Order and lag the auto pipeline picks on each outer training fold (seed 42 folds)."""
    data = load_dataset("synthetic-mi", subjects, None, None, WORLD)
    choices = []
    for s, d in data.subjects.items():
        folds = StratifiedKFold(5, shuffle=True, random_state=42).split(d.X, d.y)
        for k, (train, _) in enumerate(folds):
            acm = AugmentedCovariances().fit(d.X[train])
            choices.append({"subject": s, "fold": k, "order": acm.order_, "lag": acm.lag_})
    return choices


def _machine() -> dict:
    import pyriemann
    import sklearn

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "pyriemann": pyriemann.__version__,
    }


if __name__ == "__main__":
    main()
