"""Encoding-model ridge: time per fit vs scikit-learn, and CPU numpy/torch, many targets.

Times :func:`neurodecode.encoding.fit_encoding` (5 contiguous folds, alpha per target on one
half of each held-out fold, scored on the other: one SVD per fold serves every alpha and
target) against scikit-learn doing the same protocol by brute force (``Ridge`` refitted per
alpha on each fold, ``alpha_per_target`` chosen on the validation half), on the same data, and
checks both give the same held-out predictions. Also times the inner-CV variant (the shared
:class:`neurodecode.ridge.MultiRidgeCV`) and banded ridge (himalaya BandedRidgeCV).
Writes ``bench/results/encoding_ridge.json``. ``--targets`` sets the target counts.

Usage: ``python bench/encoding_ridge.py [--targets 1000 10000]``
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import Ridge

from neurodecode._files import write_json
from neurodecode.encoding import ALPHAS, blocked_folds, fit_banded, fit_encoding

ROOT = Path(__file__).resolve().parents[1]


def sklearn_protocol(X, Y, alphas):
    """Same protocol with scikit-learn Ridge, one fit per fold and alpha."""
    pred = np.empty_like(Y)
    for train, held in blocked_folds(len(X), 5):
        mean, sd = X[train].mean(0), X[train].std(0)
        Xtr, Xho = (X[train] - mean) / sd, (X[held] - mean) / sd
        paths = np.stack([Ridge(alpha=a).fit(Xtr, Y[train]).predict(Xho) for a in alphas])
        half = len(held) // 2
        parts = (np.arange(half), np.arange(half, len(held)))
        for p in (0, 1):
            err = ((paths[:, parts[p]] - Y[held[parts[p]]][None]) ** 2).sum(1)
            best = err.argmin(0)
            other = paths[:, parts[1 - p]]
            pred[held[parts[1 - p]]] = np.take_along_axis(
                other, best[None, None, :].repeat(other.shape[1], 1), 0)[0]
    return pred


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--features", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, p = args.samples, args.features
    rows = []
    for t in args.targets:
        X = rng.standard_normal((n, p))
        Y = X @ rng.standard_normal((p, t)) * 0.1 + rng.standard_normal((n, t))
        row = {"n_samples": n, "n_features": p, "n_targets": t}
        start = time.perf_counter()
        ours = fit_encoding(X, Y)
        row["fit_encoding_s"] = time.perf_counter() - start
        start = time.perf_counter()
        ref = sklearn_protocol(X, Y, ALPHAS)
        row["sklearn_same_protocol_s"] = time.perf_counter() - start
        row["max_abs_prediction_difference"] = float(np.abs(ours.predictions - ref).max())
        row["speedup_vs_sklearn"] = row["sklearn_same_protocol_s"] / row["fit_encoding_s"]
        start = time.perf_counter()
        fit_encoding(X, Y, selection="inner")
        row["inner_cv_multiridgecv_s"] = time.perf_counter() - start
        if t <= 1000:
            start = time.perf_counter()
            fit_banded({"a": X[:, : p // 2], "b": X[:, p // 2:]}, Y, n_iter=10)
            row["banded_himalaya_10_draws_s"] = time.perf_counter() - start
        row["mean_r"] = float(ours.r.mean())
        rows.append(row)
        print(row, flush=True)
    out = {"rows": rows, "machine": platform.platform(), "cpu_threads": torch.get_num_threads(),
           "torch": torch.__version__, "note": "2-core shared machine, noisy; compare ratios"}
    path = write_json(ROOT / "bench" / "results" / "encoding_ridge.json", out)
    print(path)


if __name__ == "__main__":
    main()
