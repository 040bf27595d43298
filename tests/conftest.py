"""Shared test settings: offline hub, quiet progress bars, paths to optional real data."""

import os
from pathlib import Path

import pytest

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
