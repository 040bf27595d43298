"""Containers and loaders. Nothing else in neurodecode reads data files.

Loaders (each returns :class:`TrialData`):

- :func:`load_fmri_runs` — 4-D NIfTI runs + mask + events → single-trial betas (LSS or GLM).
- :func:`load_beta_series` — beta-series NIfTI + mask.
- :func:`load_nsd_betas` — NSD-style HDF5 betas + trial table, memory-mapped.
- :func:`load_raw_epochs` — any raw file MNE reads (FIF, EDF/BDF, BrainVision, EEGLAB...) → epochs.
- :func:`load_bids_epochs` — a BIDS dataset through mne-bids.
- :func:`load_brain_treebank` — Brain Treebank SEEG layout aligned to trigger times.
- :func:`load_roi_connectivity` — ROI time series (ABIDE-PCP ``.1D``) + phenotypes → connectivity.
"""

from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.data.dataset import Dataset
from neurodecode.data.splits import (
    split_by_stimulus,
    split_from_metadata,
    subsample_trials,
    train_test_split_stimuli,
)
from neurodecode.errors import DataError

_LOADERS = {
    "load_fmri_runs": "neurodecode.data.fmri",
    "load_beta_series": "neurodecode.data.fmri",
    "write_beta_series": "neurodecode.data.fmri",
    "write_bold_runs": "neurodecode.data.fmri",
    "SessionStandardizer": "neurodecode.data.fmri",
    "load_nsd_betas": "neurodecode.data.nsd",
    "write_nsd_betas": "neurodecode.data.nsd",
    "load_raw_epochs": "neurodecode.data.sensors",
    "write_raw": "neurodecode.data.sensors",
    "epoch_raw": "neurodecode.data.sensors",
    "load_bids_epochs": "neurodecode.data.bids",
    "write_bids": "neurodecode.data.bids",
    "load_brain_treebank": "neurodecode.data.treebank",
    "load_roi_connectivity": "neurodecode.data.connectivity",
    "load_dreamer": "neurodecode.data.dreamer",
    "write_brain_treebank": "neurodecode.data.treebank",
}


def __getattr__(name: str):
    """Import loaders lazily: MNE, nilearn and h5py are slow to import."""
    if name in _LOADERS:
        import importlib

        return getattr(importlib.import_module(_LOADERS[name]), name)
    raise AttributeError(f"module 'neurodecode.data' has no attribute {name!r}")


__all__ = [
    "DataError",
    "StimulusSet",
    "Dataset",
    "TrialData",
    "split_by_stimulus",
    "split_from_metadata",
    "subsample_trials",
    "train_test_split_stimuli",
    *_LOADERS,
]
