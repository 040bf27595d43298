"""Encoding tests run single-threaded BLAS: the small matrices gain nothing from threads, and on
a loaded machine OpenBLAS threads spin (a banded-ridge fit went from 1 s to 45 s)."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield
