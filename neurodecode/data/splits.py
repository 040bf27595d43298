"""Train/test splits that respect repetitions, and bookkeeping for many subjects.

A stimulus shown several times must never have a repetition in train and another in test:
the split is made over stimulus ids, then mapped onto trials.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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


@dataclass
class SubjectCollection(Mapping[str, TrialData]):
    """Many subjects of one modality, each with its own feature count.

    Behaves as a read-only ``{subject: TrialData}`` mapping, ordered as given.
    """

    subjects: dict[str, TrialData]

    def __post_init__(self) -> None:
        self.subjects = {str(k): v for k, v in self.subjects.items()}
        modalities = {d.modality for d in self.subjects.values()}
        if len(modalities) > 1:
            raise DataError(f"subjects mix modalities {sorted(modalities)}")

    @classmethod
    def from_list(cls, items: list[TrialData]) -> SubjectCollection:
        names = [d.subject for d in items]
        if len(set(names)) != len(names):
            raise DataError(f"duplicate subjects in {names}")
        return cls({d.subject: d for d in items})

    def __getitem__(self, subject: str | int) -> TrialData:
        key = str(subject)
        if key not in self.subjects:
            raise DataError(f"unknown subject {key!r}; available: {list(self.subjects)}")
        return self.subjects[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.subjects)

    def __len__(self) -> int:
        return len(self.subjects)

    @property
    def n_features(self) -> dict[str, int]:
        """Feature (voxel or channel) count per subject."""
        return {s: d.n_features for s, d in self.subjects.items()}

    def shared_stimuli(self) -> np.ndarray:
        """Stimulus ids seen by every subject (sorted)."""
        sets = [np.unique(d.stimulus_ids) for d in self.subjects.values()]
        if not sets or any(d.stimulus_ids is None for d in self.subjects.values()):
            raise DataError("shared_stimuli needs stimulus_ids for every subject")
        out = sets[0]
        for s in sets[1:]:
            out = np.intersect1d(out, s)
        return out
