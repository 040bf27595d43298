"""One outer fold with MOABB's *full* augmented-covariance grid (600 candidates, nested 3-fold)
against ACM with automatic order/lag, on the same synthetic-mi fold.

bench/acm_auto_vs_grid.py runs every fold with a reduced grid; this script measures the full
grid's cost directly on one fold, so the auto/grid time ratio needs no extrapolation.
Writes bench/results/acm_full_grid_fold.json.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from neurodecode._files import write_json
from neurodecode.benchmark import load_dataset
from neurodecode.benchmark.pipelines import load_pipeline

ROOT = Path(__file__).resolve().parents[1]
# The temporal model of synthetic-mi (a mu-frequency shift at constant variance, which favours
# the augmented covariance by design): the world the recorded results were measured on.
WORLD = {"channels": ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"], "n_sessions": 1,
         "model": "temporal"}


def main() -> None:
    data = load_dataset("synthetic-mi", subjects=[1], params=WORLD).subjects["1"]
    X, y = np.asarray(data.X), data.y
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y))
    grid = load_pipeline(ROOT / "pipelines" / "ACM_TS_SVM_grid.yml")
    auto = load_pipeline(ROOT / "pipelines" / "ACM_TS_SVM_auto.yml")
    inner = StratifiedKFold(3, shuffle=True, random_state=42)
    rows = {}
    for label, spec in (("auto", auto), ("grid", grid)):
        model = clone(spec.pipeline)
        if spec.param_grid:
            model = GridSearchCV(model, spec.param_grid, cv=inner, n_jobs=1)
        start = time.perf_counter()
        model.fit(X[train], y[train])
        seconds = time.perf_counter() - start
        rows[label] = {"fit_seconds": seconds,
                       "accuracy": accuracy_score(y[test], model.predict(X[test])),
                       "candidates": int(np.prod([len(v) for v in spec.param_grid.values()]))
                       if spec.param_grid else 1,
                       "chosen": getattr(model, "best_params_", None)}
        print(label, rows[label], flush=True)
    write_json(ROOT / "bench" / "results" / "acm_full_grid_fold.json", {
        "what": "synthetic-mi subject 1, 8 channels, one session; outer fold 1 of 5 "
                "(StratifiedKFold, shuffled, seed 42); grid = pipelines/ACM_TS_SVM_grid.yml "
                "(MOABB's 10 orders x 10 lags x 3 C x 2 kernels, nested 3-fold)",
        "machine": platform.processor() or platform.machine(),
        "n_train": int(len(train)), "n_test": int(len(test)), **rows,
        "time_ratio_grid_over_auto": rows["grid"]["fit_seconds"] / rows["auto"]["fit_seconds"],
    })


if __name__ == "__main__":
    main()
