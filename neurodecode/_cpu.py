"""How many CPU threads a command should use on a machine it may share.

Torch starts one intra-op thread per core. On a shared machine those threads wait for each
other behind other processes' work: with the load at ~2 on 2 cores one training epoch of the
main job took 66 s with torch's default against 4 s with one thread (issue 20). So commands
that train use the cores that are actually free, unless the user chose a thread count.
"""

from __future__ import annotations

import os


def free_cores() -> int:
    """Cores of this process's affinity mask not kept busy by other processes: their count
    minus the 1-minute load average (rounded), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available
        load = 0.0
    return max(1, min(cores, cores - round(load)))


def use_free_cores() -> int | None:
    """Set torch's intra-op threads and the BLAS/OpenMP pools of numpy and scipy
    (threadpoolctl) to :func:`free_cores` and return that number, unless the user fixed the
    count (``OMP_NUM_THREADS`` or ``NEURODECODE_THREADS``; the latter is applied as given).
    Returns None when nothing was changed."""
    import torch

    chosen = os.environ.get("NEURODECODE_THREADS")
    if chosen:
        n = max(1, int(chosen))
    elif os.environ.get("OMP_NUM_THREADS"):
        return None
    else:
        n = min(free_cores(), torch.get_num_threads())
    torch.set_num_threads(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)  # two-way identification's BLAS stalled like torch did
    return n
