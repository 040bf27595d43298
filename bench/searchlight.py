"""Whole-brain searchlight RSA on a 2 mm volume: wall time and peak memory, vs rsatoolbox.

Volume: nilearn's bundled MNI152 2 mm brain mask (99 x 117 x 95, ~235k voxels), random
betas for 40 conditions x 4 runs (float32), spheres of radius 6 mm (3 voxels, up to 123
voxels), model comparison by Spearman correlation against one random model RDM.

- ``correlation`` distance over the full volume (measured).
- ``crossnobis`` (univariate noise normalisation) on a slab of 2 axial slices (measured) and
  extrapolated to the full volume by the ratio of sphere centres (every sphere costs the same:
  spheres cut by the mask are padded), as said in the JSON.
- rsatoolbox 0.3 (``get_volume_searchlight`` with ``truncate_at_boundary=True``,
  ``get_searchlight_RDMs``, ``evaluate_models_searchlight``) on the same slab with the same
  spheres, extrapolated the same way; the ratio compares the slab timings directly.

Peak memory: tracemalloc peak (numpy allocations) during each call and the process peak
RSS (Linux ``ru_maxrss``). Run: ``python bench/searchlight.py`` → ``bench/results/
searchlight.json`` (a few minutes on one core).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

N_COND, N_RUNS, RADIUS_MM = 40, 4, 6.0
SLAB = (40, 42)  # axial slices of the measured slab
RESULT = Path(__file__).parent / "results" / "searchlight.json"


def _measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, wall, peak / 2**20


def _trials(mask, affine, X, cond, run):
    from neurodecode.data.containers import TrialData
    from neurodecode.data.fmri import fmri_info

    meta = pd.DataFrame({"condition": cond, "run": run})
    return TrialData(X, subject="bench", modality="fmri", metadata=meta,
                     info=fmri_info(mask, affine))


def _rsatoolbox_slab(slab_mask, X_slab, cond, model):
    from rsatoolbox.inference import eval_fixed
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.util.searchlight import (
        evaluate_models_searchlight,
        get_searchlight_RDMs,
        get_volume_searchlight,
    )

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # rsatoolbox keeps distances < radius (voxels); nilearn and neurodecode keep <= 6 mm
        centres, neighbours = get_volume_searchlight(slab_mask, radius=3.001, threshold=0.0,
                                                     truncate_at_boundary=True)
        data_2d = np.zeros((len(cond), slab_mask.size), np.float32)
        data_2d[:, slab_mask.ravel()] = X_slab
        rdms = get_searchlight_RDMs(data_2d, centres, neighbours, cond, method="correlation",
                                    verbose=False)
        evals = evaluate_models_searchlight(rdms, ModelFixed("m", model), eval_fixed,
                                            method="spearman", n_jobs=1)
    return np.array([e.evaluations for e in evals]).ravel()


def main() -> dict:
    from importlib.metadata import version

    import nilearn
    from nilearn.datasets import load_mni152_brain_mask

    from neurodecode._files import write_json
    from neurodecode.rsa.searchlight import searchlight

    img = load_mni152_brain_mask(resolution=2)
    mask = np.asarray(img.get_fdata()) > 0
    affine = img.affine
    n_vox = int(mask.sum())
    rng = np.random.default_rng(0)
    cond = np.tile(np.arange(N_COND), N_RUNS)
    run = np.repeat(np.arange(N_RUNS), N_COND)
    X = rng.standard_normal((len(cond), n_vox)).astype(np.float32)
    model = rng.random(N_COND * (N_COND - 1) // 2)
    full = _trials(mask, affine, X, cond, run)
    slab_mask = mask.copy()
    slab_mask[:, :, : SLAB[0]] = False
    slab_mask[:, :, SLAB[1]:] = False
    X_slab = X[:, slab_mask[mask]]
    slab = _trials(slab_mask, affine, X_slab, cond, run)
    n_slab = int(slab_mask.sum())
    scale = n_vox / n_slab
    results = []

    def run_ours(data, method):
        return searchlight(data, {"m": model}, radius=RADIUS_MM, method=method,
                           comparison="spearman", min_voxels=1, progress=False)

    maps, wall, peak = _measure(lambda: run_ours(full, "correlation"))
    results.append({"case": "neurodecode correlation, full volume", "centres": n_vox,
                    "wall_s": round(wall, 2), "tracemalloc_peak_mib": round(peak, 1),
                    "measured": "full volume"})
    print(results[-1])
    slab_corr, wall_slab, peak_slab = _measure(lambda: run_ours(slab, "correlation"))
    results.append({"case": "neurodecode correlation, slab", "centres": n_slab,
                    "wall_s": round(wall_slab, 2), "tracemalloc_peak_mib": round(peak_slab, 1),
                    "measured": f"slab of axial slices {SLAB[0]}-{SLAB[1] - 1}"})
    print(results[-1])
    _, wall_cn, peak_cn = _measure(lambda: run_ours(slab, "crossnobis"))
    results.append({"case": "neurodecode crossnobis", "centres": n_slab,
                    "wall_s": round(wall_cn, 2), "tracemalloc_peak_mib": round(peak_cn, 1),
                    "extrapolated_full_volume_s": round(wall_cn * scale, 1),
                    "measured": f"slab of axial slices {SLAB[0]}-{SLAB[1] - 1}, extrapolated "
                                f"x{scale:.2f} (centres ratio)"})
    print(results[-1])
    ref, wall_ref, peak_ref = _measure(lambda: _rsatoolbox_slab(slab_mask, X_slab, cond, model))
    ours_slab = slab_corr["m"].get_fdata()[slab_mask]
    agree = float(np.max(np.abs(ours_slab - ref)))  # same centres, same order (C order)
    results.append({"case": "rsatoolbox correlation", "centres": n_slab,
                    "wall_s": round(wall_ref, 2), "tracemalloc_peak_mib": round(peak_ref, 1),
                    "extrapolated_full_volume_s": round(wall_ref * scale, 1),
                    "measured": f"slab of axial slices {SLAB[0]}-{SLAB[1] - 1}, extrapolated "
                                f"x{scale:.2f} (centres ratio)",
                    "max_abs_diff_vs_neurodecode_map": agree})
    print(results[-1])
    result = {
        "benchmark": "whole-brain searchlight RSA, neurodecode vs rsatoolbox",
        "volume": {"mask": "nilearn MNI152 brain mask, resolution 2 mm",
                   "shape": list(mask.shape), "voxels": n_vox, "voxel_mm": 2.0},
        "design": {"conditions": N_COND, "runs": N_RUNS, "radius_mm": RADIUS_MM,
                   "comparison": "spearman", "dtype": "float32"},
        "ratio_correlation_slab": round(wall_ref / wall_slab, 1),
        "ratio": "rsatoolbox / neurodecode wall time on the same slab (> 1: neurodecode faster)",
        "results": results,
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                      1),
        "machine": {"python": sys.version.split()[0], "numpy": np.__version__,
                    "nilearn": nilearn.__version__, "rsatoolbox": version("rsatoolbox"),
                    "platform": platform.platform(), "cpus": os.cpu_count(),
                    "blas_threads": os.environ.get("OMP_NUM_THREADS")},
    }
    write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
