"""Shared test settings: offline hub, quiet progress bars, paths to optional real data."""

import os

# One BLAS/OpenMP thread unless the caller says otherwise, set before numpy or torch load: on
# a shared 2-core machine two spinning threads made small SVDs 50-100x slower (0.3 s vs 13 s
# for six 192 x 500 SVDs), and notebooks' kernels inherit the setting.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def mne_sample_dir() -> Path:
    """The real MNE sample recordings in ../shared/data (skips when absent)."""
    path = SHARED_DATA / "mne_sample_subset"
    if not path.is_dir():
        pytest.skip(f"real MNE sample recordings not found at {path} (../shared/data is optional)")
    return path
