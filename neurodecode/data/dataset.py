""":class:`Dataset`: what :func:`neurodecode.datasets.open_dataset` returns, for every source.

One type for real recordings, folders in the bring-your-own format and synthetic worlds:
subjects → :class:`~neurodecode.data.TrialData`, the :class:`~neurodecode.data.StimulusSet`
(when there are stimuli), the data card, and for synthetic worlds the planted ground truth.
It behaves as a read-only ``{subject: TrialData}`` mapping, ordered as loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.errors import DataError


@dataclass(eq=False)
class Dataset(Mapping[str, TrialData]):
    """Subjects of one dataset, what they saw, and what is known about it.

    Attributes
    ----------
    name : str
        Card name, world name (e.g. ``"synthetic-vision"``) or folder name.
    subjects : dict of str to TrialData
        One entry per subject (or per group, for between-subject data such as connectivity).
    stimuli : StimulusSet or None
        What was shown, when the dataset has stimuli.
    truth : dict
        Planted ground truth of a synthetic world (empty for real data).
    params : dict
        Parameters the dataset was opened (or a world built) with; JSON-able.
    card : dict or None
        The data card (``data_cards/*.yaml``) when one describes the dataset.
    source : str or None
        The folder or file it was read from (None when built in memory).
    """

    name: str
    subjects: dict[str, TrialData]
    stimuli: StimulusSet | None = None
    truth: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    card: dict | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        self.subjects = {str(k): v for k, v in self.subjects.items()}

    # ------------------------------------------------------------------ mapping
    def _key(self, subject: str | int) -> str:
        """``subject`` as a key of :attr:`subjects`; numbers match zero-padded names
        (``2`` finds ``"02"``)."""
        key = str(subject)
        if key not in self.subjects and key.isdigit():
            same = [k for k in self.subjects if k.isdigit() and int(k) == int(key)]
            if len(same) == 1:
                return same[0]
        return key

    def __getitem__(self, subject: str | int) -> TrialData:
        key = self._key(subject)
        if key not in self.subjects:
            raise DataError(
                f"{self.name}: unknown subject {key!r}; available: {list(self.subjects)}"
            )
        return self.subjects[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.subjects)

    def __len__(self) -> int:
        return len(self.subjects)

    def __repr__(self) -> str:
        kinds = sorted({d.modality for d in self.subjects.values()})
        stim = f", {len(self.stimuli)} stimuli" if self.stimuli is not None else ""
        return (f"Dataset({self.name!r}, {len(self)} subjects, {'/'.join(kinds)}{stim}"
                f"{', synthetic' if self.truth else ''})")

    # ------------------------------------------------------------------ facts
    @property
    def is_synthetic(self) -> bool:
        return bool((self.card or {}).get("synthetic")) or bool(self.truth)

    @property
    def modality(self) -> str:
        """The subjects' modality; DataError if they mix modalities."""
        kinds = {d.modality for d in self.subjects.values()}
        if len(kinds) != 1:
            raise DataError(f"{self.name}: subjects mix modalities {sorted(kinds)}")
        return kinds.pop()

    @property
    def n_features(self) -> dict[str, int]:
        """Feature (voxel or channel) count per subject."""
        return {s: d.n_features for s, d in self.subjects.items()}

    def shared_stimuli(self) -> np.ndarray:
        """Stimulus ids seen by every subject (sorted)."""
        if not self.subjects or any(d.stimulus_ids is None for d in self.subjects.values()):
            raise DataError(f"{self.name}: shared_stimuli needs stimulus_ids for every subject")
        sets = [np.unique(d.stimulus_ids) for d in self.subjects.values()]
        out = sets[0]
        for s in sets[1:]:
            out = np.intersect1d(out, s)
        return out

    def select_subjects(self, subjects: Sequence[str | int] | None) -> Dataset:
        """The same dataset restricted to ``subjects`` (in that order); None keeps all."""
        if subjects is None:
            return self
        wanted = [self._key(s) for s in subjects]
        missing = [s for s in wanted if s not in self.subjects]
        if missing:
            raise DataError(
                f"{self.name}: subjects {missing} not found; available: {list(self.subjects)}"
            )
        return replace(self, subjects={s: self.subjects[s] for s in wanted})

    @classmethod
    def from_list(cls, name: str, items: Sequence[TrialData], **kwargs) -> Dataset:
        names = [d.subject for d in items]
        if len(set(names)) != len(names):
            raise DataError(f"{name}: duplicate subjects in {names}")
        return cls(name=name, subjects={d.subject: d for d in items}, **kwargs)


__all__ = ["Dataset"]
