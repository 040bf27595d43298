"""Datasets for benchmarks: neurodecode's synthetic worlds by name, MOABB datasets by code.

Both come back as one :class:`~neurodecode.data.TrialData` per subject, restricted to the
requested events and band-pass filtered with the paradigm's band (MOABB's defaults).
"""

from __future__ import annotations

import contextlib
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

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
    """

    name: str
    paradigm: str
    events: list[str]
    subjects: dict[str, TrialData]
    identity: dict[str, Any] = field(default_factory=dict)


def load_dataset(
    name: str,
    subjects: list | None = None,
    paradigm: str | None = None,
    events: list[str] | None = None,
    params: dict[str, Any] | None = None,
) -> BenchmarkData:
    """Load ``name`` (a synthetic world or a MOABB dataset code) for a benchmark.

    Parameters
    ----------
    name : str
        ``"synthetic-mi"`` (any world in :data:`neurodecode.synth.WORLDS` with class labels)
        or a MOABB dataset class name or code, e.g. ``"BNCI2014_001"``, ``"PhysionetMI"``.
        MOABB reads its files from the ``MNE_DATA`` cache.
    subjects : list, optional
        Subject identifiers (default: all; for worlds, subjects ``1..4``).
    paradigm : str, optional
        ``LeftRightImagery``, ``MotorImagery``, ``P300`` or ``SSVEP`` (default: the world's).
    events : list of str, optional
        Classes to keep (default: the paradigm's, else all).
    params : dict, optional
        Parameters of the synthetic world (e.g. ``{"n_trials_per_class": 20}``).

    Raises
    ------
    DataError
        Unknown dataset, paradigm, subject or event, before anything is computed.
    """
    from neurodecode.synth import WORLDS

    if paradigm is not None and paradigm not in PARADIGM_BANDS:
        raise DataError(f"unknown paradigm {paradigm!r}; expected one of {sorted(PARADIGM_BANDS)}")
    if name in WORLDS:
        return _load_world(name, subjects, paradigm, events, params or {})
    if params:
        raise DataError(f"dataset parameters {sorted(params)} apply to synthetic worlds only")
    return _load_moabb(name, subjects, paradigm, events)


def _load_world(
    name: str, subjects: list | None, paradigm: str | None, events: list[str] | None, params: dict
) -> BenchmarkData:
    from neurodecode.synth import world_module

    paradigm = paradigm or WORLD_PARADIGMS.get(name)
    if paradigm is None:
        raise DataError(f"world {name!r} has no benchmark paradigm; give --paradigm")
    ids = [str(s) for s in subjects] if subjects else None
    if ids and not all(s.isdigit() and int(s) >= 1 for s in ids):
        raise DataError(f"{name}: subjects are numbered 1, 2, ...; got {ids}")
    wanted = max(int(s) for s in ids) if ids else None
    world = world_module(name).make(n_subjects=wanted, seed=0, **params)
    chosen = {s: world.subjects[s] for s in (ids or list(world.subjects))}
    available = sorted({str(v) for d in chosen.values() for v in np.unique(d.y)})
    events = _check_events(name, events or PARADIGM_EVENTS.get(paradigm), available)
    fmin, fmax = PARADIGM_BANDS[paradigm]
    out = {s: _filter(_select_events(d, events), fmin, fmax) for s, d in chosen.items()}
    identity = dict(
        name=name, paradigm=paradigm, events=events, band=[fmin, fmax], params=world.params
    )
    return BenchmarkData(name, paradigm, events, out, identity)


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


def downloads_allowed() -> bool:
    """True when the user asked for downloads (``neurodecode benchmark --allow-download`` sets
    ``NEURODECODE_ALLOW_DOWNLOAD=1``; set it yourself in Python)."""
    return os.environ.get("NEURODECODE_ALLOW_DOWNLOAD", "") not in ("", "0")


def mne_data_path() -> Path:
    """Where MNE and MOABB keep downloaded datasets: ``MNE_DATA`` (environment or MNE config),
    else ``~/mne_data``."""
    import mne

    return Path(mne.get_config("MNE_DATA") or Path.home() / "mne_data").expanduser()


def _download_refused(name: str, detail: str) -> DataError:
    return DataError(
        f"{name}: MOABB would download this dataset ({detail}); neurodecode downloads only "
        f"when asked: pass --allow-download (Python: NEURODECODE_ALLOW_DOWNLOAD=1) to fetch "
        f"it into MNE_DATA ({mne_data_path()}), or set MNE_DATA to a folder that holds it")


def check_download_allowed(name: str) -> None:
    """Refuse, before anything is loaded, a MOABB dataset when downloads are off and
    ``MNE_DATA`` does not exist (nothing can be there yet)."""
    if not downloads_allowed() and not mne_data_path().is_dir():
        raise _download_refused(name, f"MNE_DATA {mne_data_path()} does not exist")


@contextlib.contextmanager
def no_download(name: str):
    """While MOABB reads a dataset, a file missing from ``MNE_DATA`` raises
    :class:`DataError` instead of starting a download (unless downloads are allowed).
    MOABB fetches every file through ``pooch.retrieve`` in ``moabb.datasets.download``."""
    if downloads_allowed():
        yield
        return
    from moabb.datasets import download as dl

    original = dl.retrieve

    def guarded(url, known_hash=None, fname=None, path=None, *args, **kwargs):
        target = Path(path or ".") / (fname or "")
        if not (fname and target.is_file()):
            raise _download_refused(name, f"{target} is missing; source {url}")
        return original(url, known_hash, fname, path, *args, **kwargs)

    dl.retrieve = guarded
    # MOABB's "auto" provider first asks the NEMAR mirror over the network; "upstream" reads
    # MNE_DATA and fetches through pooch (guarded above). A provider the user chose is kept.
    provider = os.environ.get("MOABB_DOWNLOAD_PROVIDER")
    if provider is None:
        os.environ["MOABB_DOWNLOAD_PROVIDER"] = "upstream"
    try:
        yield
    finally:
        dl.retrieve = original
        if provider is None:
            os.environ.pop("MOABB_DOWNLOAD_PROVIDER", None)


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


def _load_moabb(
    name: str, subjects: list | None, paradigm: str | None, events: list[str] | None
) -> BenchmarkData:
    import moabb.paradigms

    check_download_allowed(name)
    dataset = find_moabb_dataset(name)()
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
    if paradigm == "LeftRightImagery":
        par = moabb.paradigms.LeftRightImagery()
    elif paradigm in ("MotorImagery", "SSVEP"):
        par = getattr(moabb.paradigms, paradigm)(events=events, n_classes=len(events))
    else:
        par = moabb.paradigms.P300()
    if not par.is_valid(dataset):
        raise DataError(f"{name}: paradigm {paradigm} does not apply to this dataset")
    out = {}
    for s in ids:
        with no_download(name):  # files missing from MNE_DATA: ask first
            X, y, meta = par.get_data(
                dataset, subjects=[dataset.subject_list[known.index(s)]])
        out[s] = TrialData(
            X=X, subject=s, modality="eeg", y=np.asarray(y),
            metadata=meta[["session", "run"]].astype(str).reset_index(drop=True),
        )  # fmt: skip
    fmin, fmax = PARADIGM_BANDS[paradigm]
    identity = dict(name=name, paradigm=paradigm, events=events, band=[fmin, fmax])
    return BenchmarkData(name, paradigm, events, out, identity)
