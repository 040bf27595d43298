"""RDM and crossnobis speed against rsatoolbox on 200 (and 800) conditions x 5000 channels.

Random data: 200 conditions x 4 runs (800 trials) x 5000 channels. Each method runs through
:func:`neurodecode.rsa.calc_rdm` and ``rsatoolbox.rdm.calc_rdm`` in the same process on the
same arrays (results checked equal to 1e-8), ``REPEATS`` times; medians and the ratio
rsatoolbox / neurodecode are recorded (> 1: neurodecode is faster). Crossnobis is also timed
at 800 conditions x 4 runs, where the cost of the cross-run kernel dominates. Mahalanobis and crossnobis
use one fixed 5000 x 5000 precision; crossnobis is also timed without a precision (identity:
rsatoolbox builds and multiplies an identity matrix, neurodecode skips it). Comparisons
(spearman, tau-a, whitened corr) of 20 x 20 RDMs of 200 conditions are timed the same way.
BLAS runs on one thread (``OMP_NUM_THREADS=1``) unless the environment says otherwise.

Run: ``python bench/rsa_speed.py`` → ``bench/results/rsa_speed.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

N_COND, N_RUNS, N_CHANNELS = 200, 4, 5000
REPEATS = 5
N_COND_LARGE, REPEATS_LARGE = 800, 3
RESULT = Path(__file__).parent / "results" / "rsa_speed.json"


def _time_pair(ours_fn, ref_fn, repeats):
    """Alternate the two implementations so that load from other processes hits both."""
    outs, times = [None, None], ([], [])
    for _ in range(repeats):
        for k, fn in enumerate((ours_fn, ref_fn)):
            start = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - start)
    return outs[0], times[0], outs[1], times[1]


def main() -> dict:
    from importlib.metadata import version

    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm as rsa_calc_rdm
    from rsatoolbox.rdm.compare import compare as rsa_compare

    from neurodecode._files import write_json
    from neurodecode.rsa import calc_rdm, compare

    rng = np.random.default_rng(0)
    cond = np.tile(np.arange(N_COND), N_RUNS)
    run = np.repeat(np.arange(N_RUNS), N_COND)
    X = rng.standard_normal((len(cond), N_CHANNELS))
    A = rng.standard_normal((N_CHANNELS, N_CHANNELS)) / np.sqrt(N_CHANNELS)
    precision = A @ A.T + np.eye(N_CHANNELS)
    dataset = Dataset(X, obs_descriptors={"cond": cond, "run": run})
    cases = [
        ("euclidean", None, REPEATS),
        ("correlation", None, REPEATS),
        ("mahalanobis", precision, 3),
        ("crossnobis", None, 3),
        ("crossnobis", precision, 3),
    ]
    rows = []
    for method, noise, repeats in cases:
        cv = "run" if method == "crossnobis" else None
        ours, t_ours, ref, t_ref = _time_pair(
            lambda m=method, n=noise: calc_rdm(X, m, conditions=cond, runs=run, noise=n),
            lambda m=method, n=noise, c=cv: rsa_calc_rdm(
                dataset, method=m, descriptor="cond", noise=n, cv_descriptor=c
            ),
            repeats,
        )
        err = float(np.max(np.abs(ours.dissimilarities - ref.get_vectors())))
        assert err < 1e-8, (method, err)
        rows.append(_row(f"rdm {method}" + (" (precision)" if noise is not None else ""),
                         t_ours, t_ref, err))
        print(rows[-1])
    big_cond = np.tile(np.arange(N_COND_LARGE), N_RUNS)
    big_run = np.repeat(np.arange(N_RUNS), N_COND_LARGE)
    X_big = rng.standard_normal((len(big_cond), N_CHANNELS))
    big = Dataset(X_big, obs_descriptors={"cond": big_cond, "run": big_run})
    ours, t_ours, ref, t_ref = _time_pair(
        lambda: calc_rdm(X_big, "crossnobis", conditions=big_cond, runs=big_run),
        lambda: rsa_calc_rdm(big, method="crossnobis", descriptor="cond", cv_descriptor="run"),
        REPEATS_LARGE,
    )
    err = float(np.max(np.abs(ours.dissimilarities - ref.get_vectors())))
    assert err < 1e-8, ("crossnobis 800", err)
    rows.append(_row(f"rdm crossnobis, {N_COND_LARGE} conditions", t_ours, t_ref, err))
    print(rows[-1])
    rdms = rng.random((20, N_COND * (N_COND - 1) // 2))
    for method, name in (("spearman", "spearman"), ("tau-a", "tau-a"),
                         ("corr-whitened", "corr_cov")):
        ours, t_ours, ref, t_ref = _time_pair(lambda m=method: compare(rdms, rdms, m),
                                              lambda n=name: rsa_compare(rdms, rdms, n), 3)
        err = float(np.max(np.abs(ours - ref)))
        assert err < 1e-8, (method, err)
        rows.append(_row(f"compare {method} 20x20", t_ours, t_ref, err))
        print(rows[-1])
    result = {
        "benchmark": "RDM and comparison speed, neurodecode vs rsatoolbox (same process)",
        "data": {"n_conditions": N_COND, "n_runs": N_RUNS, "n_channels": N_CHANNELS,
                 "n_trials": len(cond), "dtype": "float64"},
        "ratio": "rsatoolbox median / neurodecode median (> 1: neurodecode faster)",
        "results": rows,
        "machine": {
            "python": sys.version.split()[0], "numpy": np.__version__,
            "rsatoolbox": version("rsatoolbox"), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "blas_threads": os.environ.get("OMP_NUM_THREADS"),
        },
    }
    write_json(RESULT, result)
    return result


def _row(name: str, t_ours: list[float], t_ref: list[float], err: float) -> dict:
    ours, ref = statistics.median(t_ours), statistics.median(t_ref)
    return {"case": name, "neurodecode_s": round(ours, 4), "rsatoolbox_s": round(ref, 4),
            "ratio": round(ref / ours, 2), "repeats": len(t_ours), "max_abs_diff": err}


if __name__ == "__main__":
    main()
