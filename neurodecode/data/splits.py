"""Train/test splits that respect repetitions.

A stimulus shown several times must never have a repetition in train and another in test:
the split is made over stimulus ids, then mapped onto trials.
"""

from __future__ import annotations

import numpy as np

from neurodecode.data.containers import TrialData
from neurodecode.errors import DataError


def split_by_stimulus(
    data: TrialData, test_ids: np.ndarray | list
) -> tuple[TrialData, TrialData]:
    """Trials whose stimulus is in ``test_ids`` go to test, all others to train."""
    if data.stimulus_ids is None:
        raise DataError(f"subject {data.subject}: splitting by stimulus needs stimulus_ids")
    in_test = np.isin(data.stimulus_ids, np.asarray(test_ids))
    return data.select(~in_test), data.select(in_test)


def train_test_split_stimuli(
    data: TrialData, test_size: float = 0.2, random_state: int = 0
) -> tuple[TrialData, TrialData]:
    """Random split over unique stimulus ids (fraction ``test_size`` of stimuli to test)."""
    if data.stimulus_ids is None:
        raise DataError(f"subject {data.subject}: splitting by stimulus needs stimulus_ids")
    if not 0 < test_size < 1:
        raise DataError(f"test_size must be in (0, 1), got {test_size}")
    ids = np.unique(data.stimulus_ids)
    rng = np.random.default_rng(random_state)
    n_test = max(1, int(round(test_size * len(ids))))
    test_ids = rng.choice(ids, size=n_test, replace=False)
    return split_by_stimulus(data, test_ids)


def split_from_metadata(data: TrialData, column: str = "split") -> tuple[TrialData, TrialData]:
    """Use a ``metadata[column]`` of ``"train"``/``"test"`` values (as synthetic worlds write)."""
    if column not in data.metadata:
        raise DataError(f"subject {data.subject}: metadata has no {column!r} column")
    values = data.metadata[column].to_numpy()
    unknown = set(values) - {"train", "test"}
    if unknown:
        raise DataError(f"subject {data.subject}: {column!r} holds {sorted(unknown)}")
    train, test = data.select(values == "train"), data.select(values == "test")
    if train.stimulus_ids is not None and np.intersect1d(
        train.stimulus_ids, test.stimulus_ids
    ).size:
        raise DataError(f"subject {data.subject}: a stimulus appears in both train and test")
    return train, test


def subsample_trials(data: TrialData, fraction: float, random_state: int = 0) -> TrialData:
    """Keep a random ``fraction`` of the stimuli (all repetitions of each), at least one."""
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return data
    ids = np.unique(data.stimulus_ids) if data.stimulus_ids is not None else None
    rng = np.random.default_rng(random_state)
    if ids is None:
        n = max(1, int(round(fraction * data.n_trials)))
        return data.select(np.sort(rng.choice(data.n_trials, n, replace=False)))
    keep = rng.choice(ids, size=max(1, int(round(fraction * len(ids)))), replace=False)
    return data.select(np.isin(data.stimulus_ids, keep))
