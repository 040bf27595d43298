"""Time of :func:`neurodecode.confounds.reports.leakage_report` on wide connectivity: SVD vs
kernel (Gram) form of the cross-validated ridge fits.

100 participants x 19,900 edges (200 ROIs, the CC200 atlas size), 4 targets (age, sex, site,
diagnosis of ``synthetic-fc-demographics``-like labels), 100 permutations, 5 folds. Timed:

- ``svd_per_target``: the previous path (thin SVD of each ``n x p`` training fold, redone for
  every target);
- ``svd_shared``: the SVD, factorised once per fold for all targets;
- ``kernel_shared``: the kernel form (``n x n`` Gram eigendecomposition), once per fold (the
  ``solver="auto"`` default for ``p > 2 n``).

The numbers agree to 1e-8 (``max_abs_difference``; tested in tests/confounds/test_reports.py).

Run: ``python bench/demovae_leakage_report_speed.py`` →
``bench/results/demovae_leakage_report_speed.json``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

N, P, N_PERMUTATIONS = 100, 19_900, 100


def main() -> dict:
    import numpy as np
    import pandas as pd

    from neurodecode._files import write_json
    from neurodecode.confounds.cv_ridge import cross_validated_predictions
    from neurodecode.confounds.reports import (
        _encode,
        _folds,
        _ridge_targets,
        leakage_report,
        target_kind,
    )

    rng = np.random.default_rng(0)
    targets = pd.DataFrame(dict(age=rng.uniform(7, 60, N), sex=rng.choice(["F", "M"], N),
                                site=rng.choice(["a", "b", "c"], N),
                                diagnosis=rng.integers(0, 2, N)))
    X = rng.standard_normal((N, P)) + np.outer(targets.age / 30, rng.standard_normal(P))

    def svd_per_target():  # the code path before the kernel form: one SVD per fold and target
        out = {}
        for col in targets:
            values = targets[col]
            kind = target_kind(values)
            y = _encode(values, kind)
            order = np.argsort(np.random.default_rng(0).random((N_PERMUTATIONS, N)), axis=1)
            sets = np.column_stack([y, y[order].T])
            pred = cross_validated_predictions(X, _ridge_targets(sets, kind), _folds(N, 5, 0),
                                               solver="svd")
            out[col] = pred
        return out

    timings, reports = {}, {}
    t0 = time.perf_counter()
    svd_per_target()
    timings["svd_per_target"] = time.perf_counter() - t0
    for name, solver in (("svd_shared", "svd"), ("kernel_shared", "kernel")):
        t0 = time.perf_counter()
        reports[name] = leakage_report(X, targets, n_permutations=N_PERMUTATIONS, solver=solver)
        timings[name] = time.perf_counter() - t0
    cols = ["score", "chance_low", "chance_median", "chance_high"]
    diff = float(np.abs(reports["svd_shared"][cols].to_numpy()
                        - reports["kernel_shared"][cols].to_numpy()).max())
    result = dict(
        benchmark="demovae_leakage_report_speed", n_participants=N, n_features=P,
        n_targets=targets.shape[1], n_permutations=N_PERMUTATIONS, folds=5,
        seconds=timings,
        ratio_svd_per_target_over_kernel=timings["svd_per_target"] / timings["kernel_shared"],
        ratio_svd_shared_over_kernel=timings["svd_shared"] / timings["kernel_shared"],
        max_abs_difference=diff,
        machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                     load_average=os.getloadavg()),
        note="wall-clock on a shared machine; the load average at the end is recorded",
    )
    write_json(Path(__file__).parent / "results" / "demovae_leakage_report_speed.json", result)
    return result


if __name__ == "__main__":
    print(main())
