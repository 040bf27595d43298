"""MOABB datasets as :class:`~neurodecode.data.Dataset`: MOABB finds the files (in the
``MNE_DATA`` cache, offline when they are there) and neurodecode epochs each run with its own
reader, so the whole ``mne.Info`` is kept.

This is the plain view of a MOABB dataset (epochs of its events over the dataset's own
interval, no filtering). The benchmark's MOABB paradigms (band-pass, resampling, event
selection as MOABB does them) stay in :mod:`neurodecode.benchmark.datasets`.

Jayaram & Barachant (2018), "MOABB: trustworthy algorithm benchmarking for BCIs", J. Neural
Eng. 15:066011.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.dataset import Dataset
from neurodecode.errors import DataError


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


def moabb_class(name: str) -> type:
    """The MOABB dataset class whose class name or code is ``name``."""
    try:
        from moabb.datasets.utils import dataset_list
    except ImportError:
        raise DataError(f"{name}: MOABB datasets need `pip install neurodecode[moabb]`") from None
    for cls in dataset_list:
        if name in (cls.__name__, getattr(cls, "code", None)):
            return cls
    for cls in dataset_list:
        try:
            if cls().code == name:
                return cls
        except Exception:  # noqa: BLE001, S112 - a broken dataset class must not hide others
            continue
    raise DataError(f"{name}: not a MOABB dataset class or code")


def open_moabb(name: str, subjects: Sequence[str | int] | None = None, card: dict | None = None,
               events: Sequence[str] | None = None, tmin: float = 0.0,
               tmax: float | None = None, **params) -> Dataset:
    """Epochs of every run of ``subjects`` of MOABB dataset ``name``.

    Parameters
    ----------
    name : str
        MOABB class name or code, e.g. ``"PhysionetMI"``, ``"BNCI2014_001"``.
    subjects : sequence, optional
        Subject ids (default all of the dataset's subject list; each must be in the cache or
        downloadable).
    events : sequence of str, optional
        Event names to keep (default all of the dataset's ``event_id`` present in a run).
    tmin, tmax : float
        Window in seconds relative to the dataset's interval start (default: the interval,
        e.g. 0-3 s for PhysionetMI).
    **params
        Arguments of the MOABB dataset class (e.g. ``imagined=True, executed=False``).

    Returns
    -------
    Dataset
        One TrialData per subject: runs concatenated, ``metadata`` has session and run, ``y``
        the event names, ``info["mne_info"]`` MNE's Info of the first run.
    """
    from neurodecode.data.sensors import epoch_raw, find_raw_events

    cls = moabb_class(name)
    check_download_allowed(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise DataError(f"{name}: unknown option(s) {unknown}; the MOABB class takes "
                        f"{sorted(accepted)} (plus events, tmin, tmax)")
    dataset = cls(**params)
    known = [str(s) for s in dataset.subject_list]
    wanted = known if subjects is None else [str(s) for s in subjects]
    missing = [s for s in wanted if s not in known]
    if missing:
        raise DataError(f"{name}: unknown subject(s) {missing}; subjects are {known[:20]}...")
    start, stop = float(dataset.interval[0]), float(dataset.interval[1])
    out = {}
    for s in wanted:
        sid = dataset.subject_list[known.index(s)]
        try:
            with no_download(name):
                sessions = dataset.get_data(subjects=[sid])[sid]
        except DataError:
            raise
        except Exception as err:  # MOABB/MNE/pooch raise many types when files are missing
            raise DataError(
                f"{name} subject {s}: could not read its files from the MNE_DATA cache "
                f"({os.environ.get('MNE_DATA') or '~/mne_data'}) and could not fetch them: "
                f"{type(err).__name__}: {err}") from err
        parts = []
        for session, runs in sessions.items():
            for run, raw in runs.items():
                label = f"{name} subject {s} session {session} run {run}"
                arr, _ = find_raw_events(raw, source=label)
                present = set(arr[:, 2].tolist())
                event_id = {k: v for k, v in dataset.event_id.items()
                            if v in present and (events is None or k in events)}
                if not event_id:
                    continue
                td = epoch_raw(raw, s, label, events=arr, event_id=event_id,
                               tmin=start + tmin, tmax=stop if tmax is None else start + tmax)
                td.metadata["session"] = str(session)
                td.metadata["run"] = str(run)
                parts.append(td)
        if not parts:
            raise DataError(f"{name} subject {s}: no events {events or ''} in any run")
        first = parts[0]
        out[s] = TrialData(
            X=np.concatenate([p.X for p in parts]), subject=s, modality=first.modality,
            y=np.concatenate([p.y for p in parts]),
            metadata=pd.concat([p.metadata for p in parts], ignore_index=True),
            info=first.info)  # fmt: skip
    return Dataset(name=(card or {}).get("name", name), subjects=out, card=card,
                   params={**params, "events": None if events is None else list(events),
                           "tmin": tmin, "tmax": tmax})
