"""Encoding tests run single-threaded: the small matrices gain nothing from threads, and on a
loaded machine BLAS/OpenMP threads spin (a banded-ridge fit went from 1 s to 45 s)."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
