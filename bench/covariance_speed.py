"""Batched SCM/OAS/Ledoit-Wolf covariances vs pyRiemann's ``Covariances``.

1000 trials x {22, 64} channels x 1000 samples (float64). For each estimator: median wall
time over repeats, peak memory allocated during the call (``tracemalloc``, which sees numpy's
buffers), the speed-up over pyRiemann measured in the same run, and the largest absolute
difference of the results. Writes ``bench/results/covariance_speed.json``.

Usage: ``python bench/covariance_speed.py [--repeats 3] [--trials 1000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neurodecode._files import write_json
from neurodecode.riemann import batch_covariances

ROOT = Path(__file__).resolve().parents[1]


def measure(
    fn: Callable[[np.ndarray, str], np.ndarray], X: np.ndarray, estimator: str, repeats: int
) -> tuple[float, float, np.ndarray]:
    """Median seconds of ``fn(X, estimator)`` over ``repeats`` calls, peak MiB allocated by
    one call, and its result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(X, estimator)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    out = fn(X, estimator)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20, out


def _pyriemann(X: np.ndarray, estimator: str) -> np.ndarray:
    from pyriemann.estimation import Covariances

    return Covariances(estimator).fit_transform(X)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    for n_channels in (22, 64):
        X = np.random.default_rng(0).standard_normal((args.trials, n_channels, args.samples))
        for estimator in ("scm", "oas", "lwf"):
            ref_t, ref_mem, ref = measure(_pyriemann, X, estimator, args.repeats)
            our_t, our_mem, ours = measure(batch_covariances, X, estimator, args.repeats)
            row = {
                "n_trials": args.trials, "n_channels": n_channels, "n_samples": args.samples,
                "estimator": estimator,
                "pyriemann_s": ref_t, "neurodecode_s": our_t, "speedup": ref_t / our_t,
                "pyriemann_peak_mib": ref_mem, "neurodecode_peak_mib": our_mem,
                "input_mib": X.nbytes / 2**20,
                "max_abs_diff": float(np.abs(ours - ref).max()),
                "max_abs_value": float(np.abs(ref).max()),
            }  # fmt: skip
            rows.append(row)
            print(f"{n_channels:3d} ch {estimator}: pyriemann {ref_t:.3f} s ({ref_mem:.0f} MiB), "
                  f"batched {our_t:.3f} s ({our_mem:.0f} MiB), x{row['speedup']:.1f}, "
                  f"max diff {row['max_abs_diff']:.1e}")  # fmt: skip
    report = {
        "what": "covariances of a batch of trials; time = median of repeats; peak = tracemalloc "
        "peak during one call (input excluded)",
        "repeats": args.repeats,
        "results": rows,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "numpy": np.__version__,
            "pyriemann": __import__("pyriemann").__version__,
            "scikit-learn": __import__("sklearn").__version__,
        },
    }
    print(f"wrote {write_json(ROOT / 'bench' / 'results' / 'covariance_speed.json', report)}")


if __name__ == "__main__":
    main()
