"""The two core containers: :class:`TrialData` (one subject, one modality) and
:class:`StimulusSet` (what was shown).

Modality is data, not a class: fMRI betas are ``(n_trials, n_voxels)``; MEG, EEG and SEEG
epochs are ``(n_trials, n_channels, n_times)``. Arrays may be memory-mapped (``np.memmap``,
h5py-backed views): nothing here copies ``X`` unless asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurodecode.errors import DataError

MODALITIES = ("fmri", "meg", "eeg", "seeg", "ecog", "fc", "features")
TIMESERIES_MODALITIES = ("meg", "eeg", "seeg", "ecog")


def means_by_id(x, ids) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` (n, ...) averaged over rows sharing an id: ``(unique ids (sorted),
    means (n_ids, ...))``, float64."""
    x = np.asarray(x, dtype=np.float64)
    unique, inverse = np.unique(np.asarray(ids), return_inverse=True)
    sums = np.zeros((len(unique),) + x.shape[1:])
    np.add.at(sums, inverse, x)
    return unique, sums / np.bincount(inverse).reshape((-1,) + (1,) * (x.ndim - 1))


@dataclass
class TrialData:
    """Trials of one subject in one modality.

    Parameters
    ----------
    X : array, shape (n_trials, n_features) or (n_trials, n_channels, n_times)
        Single-trial responses: fMRI betas (a.u., usually z-scored) or sensor time courses
        (SI units as in MNE: T, T/m, V).
    subject : str
        Subject identifier, e.g. ``"1"`` or ``"sub-01"``.
    modality : str
        One of :data:`MODALITIES`.
    y : array, shape (n_trials,), optional
        Labels (class codes or continuous targets).
    stimulus_ids : array, shape (n_trials,), optional
        Identifier of the stimulus of each trial (index into a :class:`StimulusSet`).
    metadata : DataFrame, optional
        One row per trial: session, run, repetition, split, onset...
    info : dict
        Sensors: ``sfreq`` (Hz), ``ch_names``, ``ch_types``, ``ch_pos`` (n_channels, 3, metres),
        ``tmin`` (s), and for data made from MNE objects ``mne_info``: MNE's own
        :class:`mne.Info`, whole (coil orientations, ``dev_head_t``, projectors, digitisation,
        filters, ``meas_date``), used by :meth:`to_epochs`. fMRI: ``affine`` (4x4), ``mask`` (3-D bool), ``voxel_coords``
        (n_voxels, 3, mm), ``shape`` (3-D).
    nonfinite : {"error", "zero", "drop-features"}
        What to do with NaN/inf in an in-memory ``X`` (memory-mapped or HDF5-backed arrays are
        checked when their rows are read, by :meth:`select` or :meth:`load`). ``"error"`` (the
        default) raises :class:`DataError` naming the voxels/channels; ``"zero"`` sets those
        values to 0; ``"drop-features"`` removes every voxel/channel that has one (and its
        coordinates, mask entry, name, type and position). Both report what they did in
        ``info["nonfinite"]`` and with a warning.
    """

    X: Any
    subject: str
    modality: str
    y: np.ndarray | None = None
    stimulus_ids: np.ndarray | None = None
    metadata: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)
    nonfinite: str = "error"

    def __post_init__(self) -> None:
        self.subject = str(self.subject)
        if self.modality not in MODALITIES:
            raise DataError(f"unknown modality {self.modality!r}; expected one of {MODALITIES}")
        ndim = len(self.X.shape)
        expected = 3 if self.modality in TIMESERIES_MODALITIES else 2
        if ndim != expected:
            raise DataError(
                f"subject {self.subject}: {self.modality} data must have {expected} dimensions "
                f"({'trials, channels, times' if expected == 3 else 'trials, features'}), "
                f"got shape {tuple(self.X.shape)}"
            )
        _handle_nonfinite(self)
        n = self.X.shape[0]
        if self.y is not None:
            self.y = np.asarray(self.y)
            _check_len("y", self.y, n, self.subject)
        if self.stimulus_ids is not None:
            self.stimulus_ids = np.asarray(self.stimulus_ids)
            _check_len("stimulus_ids", self.stimulus_ids, n, self.subject)
        if self.metadata is None:
            self.metadata = pd.DataFrame(index=pd.RangeIndex(n))
        elif len(self.metadata) != n:
            raise DataError(
                f"subject {self.subject}: metadata has {len(self.metadata)} rows for {n} trials"
            )
        else:
            self.metadata = self.metadata.reset_index(drop=True)

    # ------------------------------------------------------------------ basic facts
    @property
    def n_trials(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Voxels for fMRI, channels for sensor data."""
        return int(self.X.shape[1])

    @property
    def is_timeseries(self) -> bool:
        return self.modality in TIMESERIES_MODALITIES

    def __len__(self) -> int:
        return self.n_trials

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.X.shape)
        return f"TrialData(subject={self.subject!r}, modality={self.modality!r}, X={shape})"

    # ------------------------------------------------------------------ selection
    def select(self, index: Sequence[int] | np.ndarray | slice) -> TrialData:
        """Trials at ``index`` (positions or a boolean mask). Reads only those rows."""
        if isinstance(index, slice):
            idx = np.arange(self.n_trials)[index]
        else:
            idx = np.asarray(index)
            if idx.dtype == bool:
                if idx.shape != (self.n_trials,):
                    raise DataError(
                        f"boolean mask of length {idx.shape[0]} for {self.n_trials} trials"
                    )
                idx = np.flatnonzero(idx)
        idx = idx.astype(int)
        return replace(
            self,
            X=take_rows(self.X, idx),
            y=None if self.y is None else self.y[idx],
            stimulus_ids=None if self.stimulus_ids is None else self.stimulus_ids[idx],
            metadata=self.metadata.iloc[idx].reset_index(drop=True),
            info=dict(self.info),
        )

    def load(self) -> TrialData:
        """Return a copy whose ``X`` is an in-memory float array."""
        return replace(self, X=np.asarray(self.X), info=dict(self.info))

    def average_repetitions(self) -> TrialData:
        """Average trials that share a stimulus id (the NSD test protocol).

        Returns one trial per unique stimulus, ordered by first appearance; ``metadata``
        keeps the first row of each group plus ``n_repetitions``.
        """
        if self.stimulus_ids is None:
            raise DataError(f"subject {self.subject}: averaging repetitions needs stimulus_ids")
        ids, first, counts = np.unique(self.stimulus_ids, return_index=True, return_counts=True)
        order = np.argsort(first)
        means = means_by_id(self.X, self.stimulus_ids)[1][order]
        meta = self.metadata.iloc[first[order]].reset_index(drop=True)
        meta["n_repetitions"] = counts[order]
        return replace(
            self,
            X=means.astype(np.asarray(self.X[:1]).dtype, copy=False),
            y=None if self.y is None else self.y[first[order]],
            stimulus_ids=ids[order],
            metadata=meta,
            info=dict(self.info),
        )

    # ------------------------------------------------------------------ conversions
    def to_epochs(self):
        """Convert sensor data to :class:`mne.EpochsArray` (labels become event codes).

        Data made from MNE objects carry MNE's own ``mne.Info`` in ``info["mne_info"]``: it is
        used whole (channel locations with MEG coil orientations ``loc[3:12]``, coil types,
        ``dev_head_t``, projectors, digitisation, filter settings, ``meas_date``), so the
        epochs equal MNE's own. Otherwise an Info is built from ``sfreq``, ``ch_names``,
        ``ch_types`` and ``ch_pos`` (positions in ``loc[:3]`` only). Projectors are kept but
        not applied (``proj=False``): the arrays are the data as stored.
        """
        import mne

        if not self.is_timeseries:
            raise DataError(f"subject {self.subject}: only sensor data converts to mne.Epochs")
        info = self.mne_info()
        codes, event_id = _event_codes(self.y, self.n_trials)
        events = np.column_stack(
            [np.arange(self.n_trials), np.zeros(self.n_trials, int), codes]
        ).astype(int)
        return mne.EpochsArray(
            np.asarray(self.X),
            info,
            events=events,
            tmin=float(self.info.get("tmin", 0.0)),
            event_id=event_id,
            metadata=self.metadata.copy(),
            proj=False,
            verbose="error",
        )

    def mne_info(self):
        """The :class:`mne.Info` of sensor data: a copy of the one MNE gave (whole), or one
        built from ``sfreq``, ``ch_names``, ``ch_types`` and ``ch_pos``."""
        import mne

        kept = self.info.get("mne_info")
        if kept is not None:
            if list(kept["ch_names"]) != list(self.info.get("ch_names", kept["ch_names"])) or (
                len(kept["ch_names"]) != self.X.shape[1]
            ):
                raise DataError(
                    f"subject {self.subject}: info['mne_info'] has {len(kept['ch_names'])} "
                    f"channels but the data {self.X.shape[1]}; pick channels with MNE before "
                    "building TrialData"
                )
            info = kept.copy()
            sfreq = float(self.info.get("sfreq", info["sfreq"]))
            if sfreq != info["sfreq"]:  # resampled after the Info was taken
                with info._unlock():
                    info["sfreq"] = sfreq
                    info["lowpass"] = min(info["lowpass"], sfreq / 2)
            return info
        for key in ("sfreq", "ch_names", "ch_types"):
            if key not in self.info:
                raise DataError(f"subject {self.subject}: info lacks {key!r} for mne.Epochs")
        info = mne.create_info(
            list(self.info["ch_names"]), float(self.info["sfreq"]), list(self.info["ch_types"])
        )
        pos = self.info.get("ch_pos")
        if pos is not None:
            # Every channel keeps its position in loc[:3] (MEG included: montages place only
            # EEG-like channels).
            for ch, xyz in zip(info["chs"], np.asarray(pos, dtype=float), strict=True):
                ch["loc"][:3] = xyz
        return info

    @classmethod
    def from_epochs(
        cls,
        epochs,
        subject: str,
        modality: str | None = None,
        stimulus_ids: np.ndarray | None = None,
        label_map: dict | None = None,
    ) -> TrialData:
        """Build from :class:`mne.Epochs`; labels are the event names (or ``label_map`` values).

        ``info["mne_info"]`` keeps a copy of the whole ``epochs.info`` (MNE's own object), so
        :meth:`to_epochs` and :func:`neurodecode.data.write_trials` lose nothing MNE stores.
        """
        codes = epochs.events[:, 2]
        names = {v: k for k, v in epochs.event_id.items()}
        y = np.array([names.get(c, c) for c in codes])
        if label_map is not None:
            y = np.array([label_map[v] for v in y])
        types = epochs.get_channel_types()
        if modality is None:
            modality = _dominant_modality(types)
        pos = np.array([ch["loc"][:3] for ch in epochs.info["chs"]])
        meta = epochs.metadata.reset_index(drop=True) if epochs.metadata is not None else None
        return cls(
            X=epochs.get_data(copy=False),
            subject=subject,
            modality=modality,
            y=y,
            stimulus_ids=stimulus_ids,
            metadata=meta,
            info=dict(
                sfreq=float(epochs.info["sfreq"]),
                ch_names=list(epochs.ch_names),
                ch_types=list(types),
                ch_pos=pos,
                tmin=float(epochs.tmin),
                mne_info=epochs.info.copy(),
            ),
        )

    def to_vectors(self, bin_s: float = 0.025, tmin: float | None = 0.0,
                   tmax: float | None = None) -> TrialData:
        """Sensor epochs → ``features`` trials: channel means in time bins of ``bin_s`` seconds
        between ``tmin`` and ``tmax``, flattened to ``(n_trials, n_channels * n_bins)``.

        This is how MEG/EEG enters decoders built for vectors (e.g. the cross-subject decoder);
        ``info["bins"]`` keeps the bin start times (s).
        """
        if not self.is_timeseries:
            raise DataError(f"subject {self.subject}: to_vectors needs sensor epochs")
        X = np.asarray(self.X)
        sfreq, start = float(self.info["sfreq"]), float(self.info.get("tmin", 0.0))
        times = start + np.arange(X.shape[2]) / sfreq
        keep = (times >= (start if tmin is None else tmin)) & (
            times <= (times[-1] if tmax is None else tmax))
        width = max(1, int(round(bin_s * sfreq)))
        n_bins = int(keep.sum()) // width
        if n_bins == 0:
            raise DataError(f"subject {self.subject}: no full {bin_s}-s bin in the window")
        cut = X[:, :, np.flatnonzero(keep)[: n_bins * width]]
        binned = cut.reshape(X.shape[0], X.shape[1], n_bins, width).mean(-1)
        info = {k: v for k, v in self.info.items() if k in ("ch_names", "ch_types", "ch_pos")}
        info["bins"] = times[np.flatnonzero(keep)[: n_bins * width : width]]
        return replace(self, X=binned.reshape(X.shape[0], -1).astype(np.float32),
                       modality="features", info=info)

    def to_nifti(self):
        """fMRI trials as a 4-D :class:`nibabel.Nifti1Image` (one volume per trial)."""
        import nibabel as nib

        if self.modality != "fmri":
            raise DataError(f"subject {self.subject}: only fMRI data converts to NIfTI")
        for key in ("mask", "affine"):
            if key not in self.info:
                raise DataError(f"subject {self.subject}: info lacks {key!r} for NIfTI output")
        mask = np.asarray(self.info["mask"], dtype=bool)
        if mask.sum() != self.n_features:
            raise DataError(
                f"subject {self.subject}: mask has {int(mask.sum())} voxels, data has "
                f"{self.n_features}"
            )
        vol = np.zeros(mask.shape + (self.n_trials,), dtype=np.float32)
        vol[mask] = np.asarray(self.X, dtype=np.float32).T
        return nib.Nifti1Image(vol, np.asarray(self.info["affine"], dtype=float))

    @classmethod
    def from_nifti(cls, img, mask_img, subject: str, **kwargs) -> TrialData:
        """Build from a 4-D image (one volume per trial) and a 3-D mask image."""
        from neurodecode.data.fmri import load_beta_series

        return load_beta_series(img, mask_img, subject=subject, **kwargs)


NONFINITE_POLICIES = ("error", "zero", "drop-features")


def _nonfinite_mask(X: Any) -> np.ndarray | None:
    """Boolean mask of NaN/inf in an in-memory float array, or None if there are none (or
    ``X`` is lazy: memmap, HDF5, which are checked when their rows are read)."""
    if not isinstance(X, np.ndarray) or isinstance(X, np.memmap) or X.dtype.kind not in "fc":
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(X, axis=None)):  # fast path: no NaN/inf anywhere
            return None
    bad = ~np.isfinite(X)
    return bad if bad.any() else None


def _handle_nonfinite(data: TrialData) -> None:
    """Apply ``data.nonfinite`` to NaN/inf in ``data.X`` (see :class:`TrialData`)."""
    import warnings

    policy = data.nonfinite
    if policy not in NONFINITE_POLICIES:
        raise DataError(f"subject {data.subject}: nonfinite={policy!r}; expected one of "
                        f"{NONFINITE_POLICIES}")
    bad = _nonfinite_mask(data.X)
    if bad is None:
        return
    axes = tuple(a for a in range(bad.ndim) if a != 1)
    bad_features = np.flatnonzero(bad.any(axis=axes))
    unit = "channels" if data.is_timeseries else "features"
    names = data.info.get("ch_names")
    shown = [names[i] for i in bad_features[:5]] if names is not None else bad_features[:5].tolist()
    what = (f"{int(bad.sum())} non-finite values (NaN/inf) in {len(bad_features)} of "
            f"{bad.shape[1]} {unit} (first: {shown}) across "
            f"{int(bad.any(axis=tuple(range(1, bad.ndim))).sum())} of {bad.shape[0]} trials")
    if policy == "error":
        raise DataError(f"subject {data.subject}: X has {what}; fix the input, or pass "
                        "nonfinite='zero' (set them to 0) or nonfinite='drop-features' (drop "
                        f"those {unit})")
    report = {"policy": policy, "n_values": int(bad.sum()),
              "features": bad_features.tolist()}
    if policy == "zero":
        data.X = np.where(bad, 0, data.X).astype(data.X.dtype, copy=False)
    else:
        if len(bad_features) == bad.shape[1]:
            raise DataError(f"subject {data.subject}: every one of the {bad.shape[1]} {unit} "
                            "has non-finite values; nothing is left to drop to")
        keep = np.setdiff1d(np.arange(bad.shape[1]), bad_features)
        data.X = np.take(data.X, keep, axis=1)
        data.info = _drop_feature_info(dict(data.info), keep, bad_features, bad.shape[1])
    data.info["nonfinite"] = report
    warnings.warn(f"subject {data.subject}: {what}: nonfinite={policy!r} "
                  + ("set them to 0" if policy == "zero" else f"dropped those {unit}"),
                  stacklevel=4)


def _drop_feature_info(info: dict, keep: np.ndarray, dropped: np.ndarray, n: int) -> dict:
    """``info`` with per-feature entries (channel names/types/positions, voxel coordinates,
    the fMRI mask) restricted to ``keep``."""
    for key in ("ch_names", "ch_types", "ch_pos", "voxel_coords"):
        value = info.get(key)
        if value is not None and len(value) == n:
            info[key] = ([value[i] for i in keep] if isinstance(value, list)
                         else np.asarray(value)[keep])
    kept = info.get("mne_info")
    if kept is not None and len(kept["ch_names"]) == n:
        import mne

        info["mne_info"] = mne.pick_info(kept, keep.tolist(), copy=True, verbose="error")
    mask = info.get("mask")
    if mask is not None and int(np.asarray(mask).sum()) == n:
        mask = np.array(mask, dtype=bool)
        mask.flat[np.flatnonzero(mask)[dropped]] = False
        info["mask"] = mask
    return info


def _check_len(name: str, arr: np.ndarray, n: int, subject: str) -> None:
    if arr.shape[0] != n:
        raise DataError(f"subject {subject}: {name} has {arr.shape[0]} entries for {n} trials")


def _event_codes(y: np.ndarray | None, n_trials: int) -> tuple[np.ndarray, dict]:
    """Integer event codes (1, 2, ...) for labels, in order of first appearance."""
    if y is None:
        return np.ones(n_trials, int), {"trial": 1}
    values = list(dict.fromkeys(y.tolist()))
    event_id = {str(v): i + 1 for i, v in enumerate(values)}
    codes = np.array([event_id[str(v)] for v in y.tolist()])
    return codes, event_id


def _dominant_modality(types: Sequence[str]) -> str:
    """The modality with the most channels (magnetometers and gradiometers count as MEG)."""
    kinds = ["meg" if t in ("mag", "grad") else t for t in types]
    counts = {k: kinds.count(k) for k in ("meg", "eeg", "seeg", "ecog") if k in kinds}
    if not counts:
        raise DataError(f"no MEG/EEG/SEEG channels among types {sorted(set(types))}")
    return max(counts, key=counts.get)


def take_rows(X: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of an in-memory, memmapped or h5py array, reading only those rows.

    h5py needs increasing indices, so rows are read sorted and put back in order.
    """
    if isinstance(X, np.ndarray):
        return X[idx]
    unique = np.unique(idx)
    block = np.asarray(X[unique.tolist()] if len(unique) else X[0:0])
    if len(unique) == len(idx) and np.array_equal(unique, idx):
        return block  # already sorted and distinct: no second copy
    return block[np.searchsorted(unique, idx)]


@dataclass
class StimulusSet:
    """What was shown: ids, images (in memory or lazily loaded paths), captions.

    Parameters
    ----------
    ids : array, shape (n_stimuli,)
        Unique identifiers, matched against :attr:`TrialData.stimulus_ids`.
    images : array (n_stimuli, H, W, 3) uint8, list of paths, or a lazy store, optional
        Paths are read on access with Pillow; a lazy store (an object with ``read(positions)``
        and ``subset(positions)``, e.g. :class:`neurodecode.data.nsd.HDF5Images`) reads only
        the images asked for.
    captions : list of str, optional
    attributes : DataFrame, optional
        Per-stimulus content (for synthetic worlds: shape, colour, position...).
    nonfinite : {"error", "zero"}
        NaN/inf in float ``images``: raise :class:`DataError` (the default) or set them to 0
        (with a warning).
    """

    ids: np.ndarray
    images: Any = None
    captions: list[str] | None = None
    attributes: pd.DataFrame | None = None
    nonfinite: str = "error"

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids)
        n = len(self.ids)
        if len(np.unique(self.ids)) != n:
            raise DataError("StimulusSet ids must be unique")
        for name in ("images", "captions", "attributes"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise DataError(f"StimulusSet {name} has {len(value)} entries for {n} ids")
        if self.nonfinite not in ("error", "zero"):
            raise DataError(f"StimulusSet nonfinite={self.nonfinite!r}; expected 'error' or "
                            "'zero'")
        bad = _nonfinite_mask(self.images)
        if bad is not None:
            where = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
            what = (f"StimulusSet images have {int(bad.sum())} non-finite values (NaN/inf) in "
                    f"{len(where)} of {n} images (ids {self.ids[where[:5]].tolist()})")
            if self.nonfinite == "error":
                raise DataError(f"{what}; fix them or pass nonfinite='zero'")
            import warnings

            warnings.warn(f"{what}: set to 0 (nonfinite='zero')", stacklevel=3)
            self.images = np.where(bad, 0, self.images).astype(self.images.dtype, copy=False)
        if self.attributes is not None:
            self.attributes = self.attributes.reset_index(drop=True)
        self._position = {v: i for i, v in enumerate(self.ids.tolist())}

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, ids: Sequence | np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in this set; unknown ids raise :class:`DataError`."""
        try:
            return np.array([self._position[v] for v in np.asarray(ids).tolist()], dtype=int)
        except KeyError as err:
            raise DataError(f"stimulus id {err.args[0]!r} is not in the StimulusSet") from None

    def get_images(self, ids: Sequence | np.ndarray | None = None) -> np.ndarray:
        """Images for ``ids`` (all if None) as uint8 ``(n, H, W, 3)``."""
        if self.images is None:
            raise DataError("this StimulusSet has no images")
        pos = np.arange(len(self)) if ids is None else self.index_of(ids)
        if isinstance(self.images, np.ndarray):
            return self.images[pos]
        if hasattr(self.images, "read"):  # a lazy image store (e.g. NSD's nsd_stimuli.hdf5)
            return self.images.read(pos)
        return np.stack([_read_image(self.images[i]) for i in pos])

    def get_captions(self, ids: Sequence | np.ndarray | None = None) -> list[str]:
        if self.captions is None:
            raise DataError("this StimulusSet has no captions")
        pos = np.arange(len(self)) if ids is None else self.index_of(ids)
        return [self.captions[i] for i in pos]

    def subset(self, ids: Sequence | np.ndarray) -> StimulusSet:
        pos = self.index_of(ids)
        images = None
        if self.images is not None:
            if isinstance(self.images, np.ndarray):
                images = self.images[pos]
            elif hasattr(self.images, "subset"):  # lazy store: a smaller view, nothing read
                images = self.images.subset(pos)
            else:
                images = [self.images[i] for i in pos]
        return StimulusSet(
            ids=self.ids[pos],
            images=images,
            captions=None if self.captions is None else [self.captions[i] for i in pos],
            attributes=None if self.attributes is None else self.attributes.iloc[pos],
        )


def _read_image(path: str | Path) -> np.ndarray:
    from PIL import Image

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: image file not found")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
