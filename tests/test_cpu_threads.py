"""Thread count from the free cores (neurodecode._cpu)."""

import os

import pytest
import torch

from neurodecode import _cpu


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("NEURODECODE_THREADS", raising=False)
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    with threadpool_limits(limits=None):  # restores the BLAS pools afterwards
        yield monkeypatch
    torch.set_num_threads(previous)


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (0.4, 2), (0.6, 1), (1.6, 1),
                                                 (7.0, 1)])
def test_free_cores_subtracts_the_load(two_cores, load, expected):
    two_cores.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert _cpu.free_cores() == expected


def test_use_free_cores_sets_torch_threads_unless_the_user_chose(two_cores):
    two_cores.setattr(os, "getloadavg", lambda: (1.3, 0.0, 0.0))
    torch.set_num_threads(2)
    assert _cpu.use_free_cores() == 1 and torch.get_num_threads() == 1
    from threadpoolctl import threadpool_info

    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    torch.set_num_threads(2)
    two_cores.setenv("OMP_NUM_THREADS", "2")
    assert _cpu.use_free_cores() is None and torch.get_num_threads() == 2
    two_cores.setenv("NEURODECODE_THREADS", "1")
    assert _cpu.use_free_cores() == 1 and torch.get_num_threads() == 1
