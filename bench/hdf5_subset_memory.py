"""Memory of loading a subset of trials from NSD-style HDF5 betas.

Writes a 20,000-trial x 15,000-voxel int16 betas set (750 trials per session file, as NSD)
to a temporary folder, then loads random subsets of 500 / 2,000 / 8,000 trials (and all
20,000) with :func:`neurodecode.data.load_nsd_betas`, each in a fresh process, and records
the time, the tracemalloc peak and the peak-RSS increment (Linux: VmHWM after resetting it). The reference is the naive
approach in the same run: read every session file whole, then index the subset.
Memory should track the subset (float32 output: n x 15,000 x 4 bytes), not the files.

Run: ``python bench/hdf5_subset_memory.py`` → ``bench/results/hdf5_subset_memory.json``.
The files (~600 MB) are deleted afterwards.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

N_TRIALS, N_VOXELS, SUBJECT = 20_000, 15_000, "bench"
SUBSETS = (500, 2_000, 8_000, N_TRIALS)
REPEATS = 3
RESULT = Path(__file__).parent / "results" / "hdf5_subset_memory.json"


class RandomRows:
    """Array-like of reproducible random betas, generated row by row (never all at once)."""

    shape = (N_TRIALS, N_VOXELS)
    dtype = np.dtype(np.float32)

    def __getitem__(self, rows):
        rows = np.atleast_1d(rows)
        return np.stack(
            [np.random.default_rng([7, int(r)]).normal(0, 1, N_VOXELS) for r in rows]
        ).astype(np.float32)


def write(folder: Path) -> dict:
    from neurodecode.data import TrialData
    from neurodecode.data.fmri import fmri_info
    from neurodecode.data.nsd import write_nsd_betas

    mask = np.ones((30, 25, 20), bool)
    data = TrialData(
        X=RandomRows(),
        subject=SUBJECT,
        modality="fmri",
        stimulus_ids=np.arange(N_TRIALS) % 10_000,
        info=fmri_info(mask, np.diag([1.8, 1.8, 1.8, 1.0])),
    )
    start = time.perf_counter()
    paths = write_nsd_betas(data, folder)
    seconds = time.perf_counter() - start
    betas = [p for p in paths if p.suffix == ".hdf5"]
    return dict(
        n_trials=N_TRIALS,
        n_voxels=N_VOXELS,
        n_session_files=len(betas),
        file_bytes=sum(p.stat().st_size for p in betas),
        dtype="int16",
        write_seconds=round(seconds, 2),
    )


def child(folder: str, n: int, seed: int, mode: str) -> dict:
    """One measurement, in a fresh process so that peak RSS belongs to this load alone."""
    import h5py

    from neurodecode.data.nsd import load_nsd_betas, session_file

    rng = np.random.default_rng(seed)
    trials = rng.choice(N_TRIALS, size=n, replace=False)
    rss0 = _reset_peak_rss()
    tracemalloc.start()
    start = time.perf_counter()
    if mode == "lazy":
        X = np.asarray(load_nsd_betas(folder, SUBJECT, trials=trials).X)
    else:  # naive reference: every file read whole, then the subset indexed
        blocks = []
        for s in range(1, -(-N_TRIALS // 750) + 1):
            with h5py.File(Path(folder) / session_file(s), "r") as handle:
                blocks.append(handle["betas"][:])
        X = (np.concatenate(blocks)[trials] / np.float32(300)).astype(np.float32)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    rss = _status_kib("VmHWM")
    assert X.shape == (n, N_VOXELS)
    return dict(
        seconds=seconds, tracemalloc_peak_mb=peak / 2**20, rss_increment_mb=(rss - rss0) / 1024
    )


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> int:
    """Reset the peak RSS (Linux ``clear_refs``) so it measures only what follows."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def measure(folder: Path, n: int, mode: str) -> dict:
    runs = []
    for seed in range(REPEATS):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), str(n), str(seed), mode],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    row = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    row.update(n_trials=n, mode=mode, output_mb=round(n * N_VOXELS * 4 / 2**20, 1))
    return row


def main() -> None:
    import h5py

    folder = Path(tempfile.mkdtemp(prefix="neurodecode-bench-nsd-"))
    try:
        files = write(folder)
        rows = [measure(folder, n, "lazy") for n in SUBSETS]
        naive = measure(folder, SUBSETS[0], "naive")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for row in rows:
        row["peak_over_output"] = round(row["tracemalloc_peak_mb"] / row["output_mb"], 2)
        row["peak_vs_naive"] = round(row["tracemalloc_peak_mb"] / naive["tracemalloc_peak_mb"], 3)
        row["rss_vs_naive"] = round(row["rss_increment_mb"] / naive["rss_increment_mb"], 3)
    result = dict(
        benchmark="hdf5_subset_memory",
        description=(
            "load_nsd_betas(folder, trials=random subset) then np.asarray(X); medians of "
            f"{REPEATS} fresh processes (different random subsets); reference: read each "
            "session file whole, concatenate, index the subset"
        ),
        files=files,
        lazy=rows,
        naive_reference=naive,
        machine=dict(
            platform=platform.platform(),
            python=platform.python_version(),
            numpy=np.__version__,
            h5py=h5py.__version__,
            cpus=__import__("os").cpu_count(),
        ),
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    from neurodecode._files import write_json

    write_json(RESULT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, n, seed, mode = sys.argv[2:6]
        print(json.dumps(child(folder, int(n), int(seed), mode)))
    else:
        main()
