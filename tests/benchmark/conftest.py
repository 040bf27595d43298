"""Small synthetic-mi benchmarks shared by the benchmark tests."""

from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


@pytest.fixture
def pipelines_dir() -> Path:
    """The pipelines/ folder shipped with the repository."""
    return PIPELINES


@pytest.fixture
def small_mi() -> dict:
    """synthetic-mi parameters for 40 trials per session over 8 sensorimotor channels."""
    return {
        "n_trials_per_class": 10,
        "channels": ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"],
    }


@pytest.fixture
def fast_pipelines() -> list[Path]:
    """The TS+LR, MDM and CSP+LDA files shipped in pipelines/."""
    return [PIPELINES / name for name in ("TS_LR.yml", "MDM.yml", "CSP_LDA.yml")]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """One BLAS thread per test: on a small shared machine, multithreaded OpenBLAS makes
    pyRiemann's eigendecompositions of small matrices 20-30 times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
