"""Reading NSD as released through ``open_dataset``: memory and time follow the selection.

Writes one subject in NSD's published layout (``betas_session01.hdf5`` as MATLAB writes it,
trials x Z x Y x X int16, or ``betas_session01.nii.gz``, X x Y x Z x trials) with a
60 x 60 x 40 volume, 300 trials and a whole-volume ROI, then reads 3 / 30 / 300 trials of it
with ``open_dataset(PATH)["1"].select(rows).X``, recording the tracemalloc peak and the time.
The reference in the same run is the naive read: the whole session file into memory
(``h5py`` ``[:]`` / ``nibabel`` ``get_fdata``-like ``np.asarray(dataobj)``) and then the rows.

Run: ``python bench/nsd_layout_read.py`` → ``bench/results/nsd_layout_read.json`` (~1 min).
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

SHAPE, N_TRIALS, SUBSETS = (60, 60, 40), 300, (3, 30, 300)


def _measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak


def main() -> dict:
    import h5py
    import nibabel as nib

    from neurodecode.data.nsd import write_nsd_layout
    from neurodecode.datasets import open_dataset

    rng = np.random.default_rng(0)
    vols = rng.normal(size=(*SHAPE, N_TRIALS)).astype(np.float32)
    results = []
    for fmt in ("hdf5", "nifti"):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_nsd_layout(root, {1: [vols]}, np.eye(4), np.ones(SHAPE, np.int16),
                             np.zeros((N_TRIALS, 8, 8, 3), np.uint8),
                             np.arange(1, N_TRIALS + 1),
                             np.tile(np.arange(1, N_TRIALS + 1), (8, 1)), np.arange(1, 11),
                             fmt=fmt)
            session = next(root.rglob("betas_session01.*"))
            sub = open_dataset(root)["1"]
            for k in SUBSETS:
                rows = np.sort(rng.choice(N_TRIALS, k, replace=False))
                got, seconds, peak = _measure(lambda rows=rows, sub=sub: sub.select(rows).X)

                def naive(rows=rows, fmt=fmt, session=session):
                    if fmt == "hdf5":
                        with h5py.File(session, "r") as f:
                            whole = f["betas"][:]
                        return whole[rows].reshape(len(rows), -1) / 300.0
                    whole = np.asarray(nib.load(session).dataobj)
                    return np.moveaxis(whole[..., rows], -1, 0).reshape(len(rows), -1) / 300.0

                ref, naive_seconds, naive_peak = _measure(naive)
                results.append(dict(
                    format=fmt, n_selected=k, n_trials=N_TRIALS,
                    output_mb=round(got.nbytes / 1e6, 2),
                    peak_mb=round(peak / 1e6, 2), seconds=round(seconds, 3),
                    naive_peak_mb=round(naive_peak / 1e6, 2),
                    naive_seconds=round(naive_seconds, 3),
                    peak_ratio=round(peak / naive_peak, 3)))
                print(results[-1])
    out = dict(benchmark="nsd_layout_read", volume=list(SHAPE), voxels=int(np.prod(SHAPE)),
               python=platform.python_version(), results=results)
    path = Path(__file__).parent / "results" / "nsd_layout_read.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
