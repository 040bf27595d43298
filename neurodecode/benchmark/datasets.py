"""Datasets for benchmarks: neurodecode's synthetic worlds by name, MOABB datasets by code.

Both come back as one :class:`~neurodecode.data.TrialData` per subject, restricted to the
requested events and band-pass filtered with the paradigm's band (MOABB's defaults). MOABB
datasets are read through MOABB's own paradigm (``paradigm.get_data``: MOABB's filtering of
the continuous recording, epoching and resampling), so their epochs are exactly MOABB's.
:func:`open_source` checks a request and describes it without loading anything; its
``load`` reads subjects on demand.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

# The download guard lives with the data layer, so the front door (open_dataset) and the
# benchmark read MOABB datasets under one rule; re-exported here under the old names.
from neurodecode.datasets.moabb import (  # noqa: F401
    _download_refused,
    check_download_allowed,
    downloads_allowed,
    mne_data_path,
    no_download,
)

# Paradigm -> pass band (Hz), as MOABB's paradigm defaults.
PARADIGM_BANDS: dict[str, tuple[float, float]] = {
    "LeftRightImagery": (8.0, 32.0),
    "MotorImagery": (8.0, 32.0),
    "P300": (1.0, 24.0),
    "SSVEP": (7.0, 45.0),
    # not a MOABB paradigm: 1-s windows rated for valence/arousal (DREAMER-like); 4-45 Hz
    # keeps theta to low gamma, the bands of the DREAMER literature
    "Emotion": (4.0, 45.0),
}
PARADIGM_EVENTS: dict[str, list[str]] = {"LeftRightImagery": ["left_hand", "right_hand"]}
WORLD_PARADIGMS: dict[str, str] = {
    "synthetic-mi": "MotorImagery",
    "synthetic-emotion-eeg": "Emotion",
}


@dataclass
class BenchmarkData:
    """Trials ready for evaluation.

    Attributes
    ----------
    name : str
        Dataset name as given (world name or MOABB code).
    paradigm : str
        One of :data:`PARADIGM_BANDS`.
    events : list of str
        Classes kept.
    subjects : dict of str to TrialData
        Filtered trials; ``metadata`` has ``session``.
    identity : dict
        JSON-able description (name, paradigm, events, band, parameters) for result keys.
    label : str
        What result rows call the dataset; a synthetic world's label names its variant
        (``"synthetic-mi:physiological"``), so that every claim says which world it ran on.
    """

    name: str
    paradigm: str
    events: list[str]
    subjects: dict[str, TrialData]
    identity: dict[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass
class BenchmarkSource:
    """A dataset checked and described, but not loaded: :meth:`load` reads subjects on demand.

    Everything a result key needs (:attr:`identity`, :attr:`subjects`) is known without
    reading or generating any data, so a benchmark can ask its result store what is missing
    first and load only the subjects that still have work (MOABB's ``not_yet_computed``).

    Attributes
    ----------
    name, paradigm, events, identity, label
        As in :class:`BenchmarkData`.
    subjects : list of str
        The subjects requested (validated).
    """

    name: str
    paradigm: str
    events: list[str]
    subjects: list[str]
    identity: dict[str, Any]
    label: str
    loader: Callable[[list[str]], dict[str, TrialData]] = field(repr=False)

    def load(self, subjects: list[str] | None = None) -> dict[str, TrialData]:
        """Trials of ``subjects`` (default all requested), filtered and restricted to events."""
        wanted = self.subjects if subjects is None else [str(s) for s in subjects]
        unknown = [s for s in wanted if s not in self.subjects]
        if unknown:
            raise DataError(f"{self.name}: subject(s) {unknown} were not requested")
        return self.loader(wanted) if wanted else {}

    def load_all(self) -> BenchmarkData:
        """Every requested subject as a :class:`BenchmarkData`."""
        return BenchmarkData(
            self.name, self.paradigm, self.events, self.load(), self.identity, self.label
        )


def load_dataset(
    name: str,
    subjects: list | None = None,
    paradigm: str | None = None,
    events: list[str] | None = None,
    params: dict[str, Any] | None = None,
    paradigm_params: dict[str, Any] | None = None,
) -> BenchmarkData:
    """Load ``name`` (a synthetic world or a MOABB dataset code) for a benchmark.

    Equivalent to ``open_source(...).load_all()``; see :func:`open_source`.
    """
    return open_source(name, subjects, paradigm, events, params, paradigm_params).load_all()


def open_source(
    name: str,
    subjects: list | None = None,
    paradigm: str | None = None,
    events: list[str] | None = None,
    params: dict[str, Any] | None = None,
    paradigm_params: dict[str, Any] | None = None,
) -> BenchmarkSource:
    """Check and describe dataset ``name`` without loading it.

    Parameters
    ----------
    name : str or moabb.datasets.base.BaseDataset
        ``"synthetic-mi"`` (any world in :data:`neurodecode.synth.WORLDS` with class labels)
        or a MOABB dataset class name or code, e.g. ``"BNCI2014_001"``, ``"PhysionetMI"``.
        MOABB reads its files from the ``MNE_DATA`` cache. A MOABB dataset object (your own
        ``BaseDataset`` subclass, MOABB's ``FakeDataset``) is read through MOABB's paradigm
        too; its result key holds its class, code and simple attributes (numbers, strings
        and lists of them, e.g. a seed), not its data.
    subjects : list, optional
        Subject identifiers (default: all; for worlds, subjects ``1..4``).
    paradigm : str, optional
        ``LeftRightImagery``, ``MotorImagery``, ``P300`` or ``SSVEP`` (default: the world's).
    events : list of str, optional
        Classes to keep (default: the paradigm's, else all).
    params : dict, optional
        Parameters of the synthetic world (e.g. ``{"n_trials_per_class": 20}``).
    paradigm_params : dict, optional
        Preprocessing, as MOABB's paradigm arguments: ``fmin``, ``fmax`` (band, Hz),
        ``tmin``, ``tmax`` (epoch, s from the cue), ``resample`` (Hz), ``channels``,
        ``baseline``. MOABB datasets pass them to the MOABB paradigm itself, so the epochs
        are MOABB's own; synthetic worlds accept ``fmin`` and ``fmax``.

    Raises
    ------
    DataError
        Unknown dataset, paradigm, subject, event or preprocessing parameter, before
        anything is loaded or computed.
    """
    from neurodecode.synth import WORLDS

    if paradigm is not None and paradigm not in PARADIGM_BANDS:
        raise DataError(f"unknown paradigm {paradigm!r}; expected one of {sorted(PARADIGM_BANDS)}")
    paradigm_params = dict(paradigm_params or {})
    if not isinstance(name, str):  # a MOABB dataset object (a custom or fake dataset)
        if params:
            raise DataError(f"dataset parameters {sorted(params)} apply to synthetic worlds "
                            "only; set them on the MOABB dataset object")  # fmt: skip
        return _open_moabb(name, subjects, paradigm, events, paradigm_params)
    if name not in WORLDS and _is_local(name):
        return _open_local(name, subjects, paradigm, events, params or {}, paradigm_params)
    if name in WORLDS:
        return _open_world(name, subjects, paradigm, events, params or {}, paradigm_params)
    if params:
        raise DataError(f"dataset parameters {sorted(params)} apply to synthetic worlds only")
    return _open_moabb(name, subjects, paradigm, events, paradigm_params)


def _open_world(
    name: str, subjects: list | None, paradigm: str | None, events: list[str] | None,
    params: dict, paradigm_params: dict,
) -> BenchmarkSource:  # fmt: skip
    from neurodecode.synth import world_module

    paradigm = paradigm or WORLD_PARADIGMS.get(name)
    if paradigm is None:
        raise DataError(f"world {name!r} has no benchmark paradigm; give --paradigm")
    extra = sorted(set(paradigm_params) - {"fmin", "fmax"})
    if extra:
        raise DataError(f"{name}: paradigm parameter(s) {extra} apply to MOABB datasets only; "
                        "synthetic worlds take fmin and fmax")  # fmt: skip
    module = world_module(name)
    unknown = set(params) - set(getattr(module, "DEFAULTS", params))
    if unknown:
        raise DataError(f"{name}: unknown parameters {sorted(unknown)}; known: "
                        f"{sorted(module.DEFAULTS)}")  # fmt: skip
    ids = [str(s) for s in subjects] if subjects else None
    if ids and not all(s.isdigit() and int(s) >= 1 for s in ids):
        raise DataError(f"{name}: subjects are numbered 1, 2, ...; got {ids}")
    ids = ids or [str(s) for s in range(1, getattr(module, "N_SUBJECTS", 4) + 1)]
    classes = getattr(module, "CLASSES", None)
    if classes is None:  # a world without a class list: build one subject to find out
        classes = np.unique(module.make(n_subjects=1, seed=0, **params).subjects["1"].y)
    events = _check_events(name, events or PARADIGM_EVENTS.get(paradigm),
                           sorted(str(c) for c in classes))  # fmt: skip
    fmin, fmax = _band(paradigm, paradigm_params)
    resolved = {**getattr(module, "DEFAULTS", {}), **params}
    resolved = {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}
    variant = resolved.get("model")
    label = f"{name}:{variant}" if variant else name
    identity = dict(name=name, paradigm=paradigm, events=events, band=[fmin, fmax],
                    params=resolved, seed=0, world_version=getattr(module, "VERSION", 1))  # fmt: skip

    def loader(wanted: list[str]) -> dict[str, TrialData]:
        from neurodecode.datasets import open_dataset  # the one front door (issue 11)

        world = open_dataset(name, subjects=wanted, n_subjects=max(int(s) for s in wanted),
                             seed=0, **params)
        return {s: _filter(_select_events(world.subjects[s], events), fmin, fmax)
                for s in wanted}  # fmt: skip

    return BenchmarkSource(name, paradigm, events, ids, identity, label, loader)


def _is_local(name: str) -> bool:
    import os
    from pathlib import Path

    return os.sep in name or Path(name).expanduser().exists()


def _open_local(
    name: str, subjects: list | None, paradigm: str | None, events: list[str] | None,
    params: dict, paradigm_params: dict,
) -> BenchmarkSource:  # fmt: skip
    """A folder or raw file that :func:`neurodecode.datasets.open_dataset` reads (the
    bring-your-own format, a world folder, BIDS, ...): its epochs, restricted to the events
    and band-pass filtered like a synthetic world's. The paradigm comes from ``--paradigm``
    or the folder's ``dataset.yaml`` (``paradigm:``); the result key holds the files' sizes
    and modification times, so changed files are recomputed."""
    from pathlib import Path

    from neurodecode._files import content_hash
    from neurodecode.datasets import open_dataset

    extra = sorted(set(paradigm_params) - {"fmin", "fmax"})
    if extra:
        raise DataError(f"{name}: paradigm parameter(s) {extra} apply to MOABB datasets only; "
                        "local folders take fmin and fmax")  # fmt: skip
    opened = open_dataset(name, subjects=subjects, **params)
    paradigm = paradigm or opened.params.get("paradigm")
    if paradigm not in PARADIGM_BANDS:
        raise DataError(f"{name}: give --paradigm (one of {sorted(PARADIGM_BANDS)}) or "
                        "'paradigm:' in its dataset.yaml")
    flat = [d for d in opened.subjects.values() if not d.is_timeseries or d.y is None]
    if flat:
        raise DataError(f"{name}: benchmarks need labelled sensor epochs (y); subject "
                        f"{flat[0].subject} has {flat[0].modality} data "
                        f"{'without labels' if flat[0].y is None else ''}")
    classes = sorted({str(v) for d in opened.subjects.values() for v in np.unique(d.y)})
    events = _check_events(name, events or PARADIGM_EVENTS.get(paradigm), classes)
    fmin, fmax = _band(paradigm, paradigm_params)
    root = Path(name).expanduser()
    files = sorted(root.rglob("*")) if root.is_dir() else [root]
    stamp = content_hash([(str(f.relative_to(root)) if root.is_dir() else f.name,
                           f.stat().st_size, f.stat().st_mtime_ns)
                          for f in files if f.is_file()])  # fmt: skip
    identity = dict(name=str(root.resolve()), paradigm=paradigm, events=events,
                    band=[fmin, fmax], params=params, files=stamp)  # fmt: skip

    def loader(wanted: list[str]) -> dict[str, TrialData]:
        out = {}
        for s in wanted:
            d = opened[s]
            if "session" not in d.metadata:
                d.metadata["session"] = "0"
            out[s] = _filter(_select_events(d, events), fmin, fmax)
        return out

    return BenchmarkSource(opened.name, paradigm, events, list(opened.subjects), identity,
                           opened.name, loader)


def _band(paradigm: str, paradigm_params: dict) -> tuple[float, float]:
    fmin, fmax = PARADIGM_BANDS[paradigm]
    return float(paradigm_params.get("fmin", fmin)), float(paradigm_params.get("fmax", fmax))


def _select_events(data: TrialData, events: list[str]) -> TrialData:
    return data.select(np.isin(data.y.astype(str), events))


def _filter(data: TrialData, fmin: float, fmax: float) -> TrialData:
    """Zero-phase 4th-order Butterworth band-pass of each trial (epochs are too short for
    MNE's default FIR on continuous data, which MOABB applies before epoching)."""
    import mne

    sfreq = float(data.info["sfreq"])
    X = mne.filter.filter_data(
        np.asarray(data.X, dtype=np.float64), sfreq, fmin, min(fmax, sfreq / 2 - 1),
        method="iir", iir_params=dict(order=4, ftype="butter"), verbose="error",
    )  # fmt: skip
    return TrialData(
        X=X, subject=data.subject, modality=data.modality, y=data.y,
        metadata=data.metadata, info=dict(data.info),
    )  # fmt: skip


def _check_events(name: str, events: list[str] | None, available: list[str]) -> list[str]:
    if not events:
        return available
    unknown = [e for e in events if e not in available]
    if unknown:
        raise DataError(
            f"{name}: unknown event(s) {unknown}; this dataset has events {available}"
        )
    if len(set(events)) < 2:
        raise DataError(f"{name}: need at least 2 distinct events to classify, got {events}")
    return list(dict.fromkeys(events))


def find_moabb_dataset(name: str) -> type:
    """The MOABB dataset class whose class name or code is ``name``.

    Raises
    ------
    DataError
        MOABB is missing, or no dataset matches (close names are suggested).
    """
    try:
        from moabb.datasets.utils import dataset_list
    except ImportError:
        raise DataError(
            f"dataset {name!r} is neither a synthetic world nor available: MOABB datasets need "
            "`pip install neurodecode[moabb]`"
        ) from None
    from neurodecode.synth import WORLDS

    by_name = {cls.__name__: cls for cls in dataset_list}
    if name in by_name:
        return by_name[name]
    for cls in dataset_list:
        try:
            if cls().code == name:
                return cls
        except Exception:  # noqa: BLE001 - a broken dataset class must not hide the others
            continue
    close = difflib.get_close_matches(name, list(by_name) + list(WORLDS), n=5, cutoff=0.5)
    hint = f"; did you mean {close}?" if close else ""
    raise DataError(
        f"unknown dataset {name!r}: not a synthetic world ({sorted(WORLDS)}) nor a MOABB "
        f"dataset class or code{hint}"
    )


MOABB_PARADIGM_PARAMS = ("fmin", "fmax", "tmin", "tmax", "resample", "channels", "baseline")


def _open_moabb(
    name: str, subjects: list | None, paradigm: str | None, events: list[str] | None,
    paradigm_params: dict,
) -> BenchmarkSource:  # fmt: skip
    import moabb
    import moabb.paradigms

    extra = sorted(set(paradigm_params) - set(MOABB_PARADIGM_PARAMS))
    if extra:
        raise DataError(f"{name}: unknown paradigm parameter(s) {extra}; expected some of "
                        f"{list(MOABB_PARADIGM_PARAMS)}")  # fmt: skip
    if isinstance(name, str):
        dataset = find_moabb_dataset(name)()  # an unknown name is reported as such first
        check_download_allowed(name)
        described = {}
    else:
        dataset, name = _check_moabb_object(name)
        described = dict(cls=f"{type(dataset).__module__}.{type(dataset).__qualname__}",
                         attributes=_simple_attributes(dataset))  # fmt: skip
    paradigm = paradigm or {"imagery": "MotorImagery", "p300": "P300", "ssvep": "SSVEP"}.get(
        dataset.paradigm, "MotorImagery"
    )
    available = sorted(dataset.event_id)
    events = _check_events(name, events or PARADIGM_EVENTS.get(paradigm), available)
    known = [str(s) for s in dataset.subject_list]
    ids = [str(s) for s in subjects] if subjects else known
    missing = [s for s in ids if s not in known]
    if missing:
        raise DataError(f"{name}: unknown subject(s) {missing}; subjects are {known}")
    par = make_moabb_paradigm(paradigm, events, paradigm_params)
    if not par.is_valid(dataset):
        raise DataError(f"{name}: paradigm {paradigm} does not apply to this dataset")
    fmin, fmax = _band(paradigm, paradigm_params)
    identity = dict(name=name, code=dataset.code, paradigm=paradigm, events=events,
                    band=[fmin, fmax], paradigm_params=paradigm_params,
                    moabb=moabb.__version__, **described)  # fmt: skip

    def loader(wanted: list[str]) -> dict[str, TrialData]:
        out = {}
        for s in wanted:
            with no_download(name):  # files missing from MNE_DATA: ask first
                X, y, meta = par.get_data(
                    dataset, subjects=[dataset.subject_list[known.index(s)]])
            out[s] = TrialData(
                X=X, subject=s, modality="eeg", y=np.asarray(y),
                metadata=meta[["session", "run"]].astype(str).reset_index(drop=True),
            )  # fmt: skip
        return out

    return BenchmarkSource(name, paradigm, events, ids, identity, name, loader)


def _check_moabb_object(dataset: Any) -> tuple[Any, str]:
    """``dataset`` and its code, or a DataError when it is not a MOABB dataset object."""
    try:
        from moabb.datasets.base import BaseDataset
    except ImportError:
        raise DataError("a dataset object needs MOABB: `pip install neurodecode[moabb]`") from None
    if not isinstance(dataset, BaseDataset):
        raise DataError(f"dataset must be a name (str) or a MOABB dataset object "
                        f"(moabb.datasets.base.BaseDataset); got {type(dataset).__name__}")
    return dataset, str(dataset.code)


def _simple_attributes(obj: Any) -> dict[str, Any]:
    """The public attributes of ``obj`` that are numbers, strings, None, or lists/tuples/dicts
    of them (a fake dataset's seed, sizes and events): what a result key can hold for an
    object whose data it must not read. Private ones (``_name``: caches, state) are left out,
    so that loading data does not change the key."""

    def simple(v: Any) -> bool:
        if v is None or isinstance(v, bool | int | float | str):
            return True
        if isinstance(v, list | tuple):
            return all(simple(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and simple(x) for k, x in v.items())
        return False

    return {k: v for k, v in sorted(vars(obj).items()) if not k.startswith("_") and simple(v)}


def make_moabb_paradigm(paradigm: str, events: list[str], paradigm_params: dict | None = None):
    """The MOABB paradigm object neurodecode uses for ``paradigm`` (MOABB's own defaults,
    overridden by ``paradigm_params``): ``LeftRightImagery`` for left vs right hand,
    ``MotorImagery(events=..., n_classes=...)`` for any other motor-imagery classes."""
    import moabb.paradigms

    kwargs = dict(paradigm_params or {})
    if paradigm == "LeftRightImagery" and sorted(events) == ["left_hand", "right_hand"]:
        return moabb.paradigms.LeftRightImagery(**kwargs)
    if paradigm in ("LeftRightImagery", "MotorImagery"):
        return moabb.paradigms.MotorImagery(events=events, n_classes=len(events), **kwargs)
    if paradigm == "SSVEP":
        return moabb.paradigms.SSVEP(events=events, n_classes=len(events), **kwargs)
    return moabb.paradigms.P300(**kwargs)
