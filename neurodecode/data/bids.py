"""BIDS datasets of MEG, EEG and iEEG through MNE-BIDS.

Appelhoff et al. (2019), "MNE-BIDS: Organizing electrophysiological data into the BIDS format
and facilitating their analysis", JOSS 4(44):1896. Reading goes through
:func:`mne_bids.read_raw_bids` (which turns ``*_events.tsv`` into annotations and applies
``*_channels.tsv`` and ``*_electrodes.tsv``) and then the same epoching as
:func:`neurodecode.data.load_raw_epochs`.

Writing: :func:`mne_bids.write_raw_bids` writes a dozen files and updates shared tables
(``participants.tsv``, ``*_scans.tsv``). :func:`write_bids` runs it in a hidden staging folder
inside ``bids_root`` (seeded with copies of the shared tables), then renames each file into
place, the data first and the shared tables last. A failure of MNE-BIDS leaves the dataset
untouched; the final renames are atomic one file at a time, not as a group. Two processes
writing to the same dataset at once may each replace ``participants.tsv`` with their own
update (the last wins): write subjects of one dataset from one process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.sensors import epoch_raw
from neurodecode.errors import DataError

_DATATYPES = ("meg", "eeg", "ieeg")
_SHARED = ("dataset_description.json", "participants.tsv", "participants.json", "README")


def _bids_path(bids_root, subject, task, session, run, datatype):
    import mne_bids

    return mne_bids.BIDSPath(
        root=bids_root,
        subject=str(subject),
        task=task,
        session=None if session is None else str(session),
        run=run,
        datatype=datatype,
        suffix=datatype,
    )


def _datatype(bids_root: Path, subject, session) -> str:
    folder = bids_root / f"sub-{subject}"
    if session is not None:
        folder = folder / f"ses-{session}"
    if not folder.is_dir():
        raise DataError(f"{folder}: no such subject/session folder in the BIDS dataset")
    found = [d for d in _DATATYPES if (folder / d).is_dir()]
    if len(found) != 1:
        raise DataError(
            f"{folder}: expected one of {_DATATYPES} folders, found {found}; pass datatype="
        )
    return found[0]


def load_bids_epochs(
    bids_root: str | os.PathLike,
    subject: str,
    task: str,
    session: str | None = None,
    run: int | str | None = None,
    datatype: str | None = None,
    tmin: float = -0.2,
    tmax: float = 0.5,
    event_id: dict[str, int] | None = None,
    *,
    events=None,
    baseline: tuple | None = None,
    picks=None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    resample: float | None = None,
    modality: str | None = None,
    reject: dict | None = None,
    stimulus_ids=None,
    metadata: pd.DataFrame | None = None,
    expected_sfreq: float | None = None,
) -> TrialData:
    """Epochs of one BIDS recording (``sub-<subject>[_ses-<session>]_task-<task>[_run-<run>]``).

    Parameters
    ----------
    bids_root : path-like
    subject, task, session, run
        BIDS entities (without the ``sub-`` / ``ses-`` prefixes).
    datatype : {"meg", "eeg", "ieeg"}, optional
        Found from the subject's folder when it holds only one.
    tmin, tmax : float
        Epoch window (s).
    event_id : dict of str to int, optional
        ``trial_type`` names to keep (default all); each must occur in ``*_events.tsv``.
    events
        Overrides the events of the dataset (see :func:`neurodecode.data.load_raw_epochs`).
    baseline, picks, l_freq, h_freq, resample, modality, reject, stimulus_ids, metadata
        As in :func:`neurodecode.data.load_raw_epochs`.
    expected_sfreq : float, optional
        Raise :class:`DataError` if the recording's sampling rate (Hz) differs.

    Returns
    -------
    TrialData
        Labels are the ``trial_type`` values.
    """
    import mne_bids

    root = Path(bids_root)
    if not root.is_dir():
        raise DataError(f"{root}: BIDS root folder not found")
    datatype = datatype or _datatype(root, subject, session)
    bids_path = _bids_path(root, subject, task, session, run, datatype)
    try:
        raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        raise DataError(f"{bids_path.basename} in {root}: cannot read it: {err}") from err
    source = bids_path.fpath
    if expected_sfreq is not None and raw.info["sfreq"] != expected_sfreq:
        raise DataError(
            f"{source}: sampling rate is {raw.info['sfreq']:g} Hz, expected {expected_sfreq:g} Hz"
        )
    return epoch_raw(
        raw,
        subject,
        source,
        events=events,
        event_id=event_id,
        tmin=tmin,
        tmax=tmax,
        baseline=baseline,
        picks=picks,
        l_freq=l_freq,
        h_freq=h_freq,
        resample=resample,
        modality=modality,
        reject=reject,
        stimulus_ids=stimulus_ids,
        metadata=metadata,
    )


def write_bids(
    raw,
    bids_root: str | os.PathLike,
    subject: str,
    task: str,
    session: str | None = None,
    events=None,
    event_id: dict[str, int] | None = None,
    *,
    run: int | str | None = None,
    datatype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Add one recording to a BIDS dataset with :func:`mne_bids.write_raw_bids`.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording read from a file (copied in its format, or converted as MNE-BIDS
        decides) or made in memory (written as FIF for MEG, BrainVision otherwise).
        Set ``raw.info["line_freq"]`` (Hz) to record the power-line frequency. SEEG/ECoG
        contact positions need an MRI or template space in iEEG-BIDS: head-frame positions
        are refused by MNE-BIDS (:class:`DataError`); write such recordings without them.
    bids_root : path-like
        Dataset root (created if needed).
    subject, task, session, run
        BIDS entities.
    events : array, shape (n_events, 3), optional
        MNE events (absolute samples); by default the annotations of ``raw`` become
        ``*_events.tsv``.
    event_id : dict of str to int, optional
        Names of the event codes (required with ``events``).
    datatype : {"meg", "eeg", "ieeg"}, optional
        Default: from the channel types (MNE-BIDS rules).
    overwrite : bool
        Replace an existing recording of the same entities.

    Returns
    -------
    Path
        The written raw data file.
    """
    import mne_bids

    root = Path(bids_root)
    root.mkdir(parents=True, exist_ok=True)
    in_memory = not raw.filenames or raw.filenames[0] is None
    fmt = "auto"
    if in_memory:
        has_meg = any(t in ("mag", "grad") for t in raw.get_channel_types())
        fmt = "FIF" if has_meg else "BrainVision"
    stage = Path(tempfile.mkdtemp(prefix=".neurodecode-bids-", dir=root))
    try:
        shared = _seed_shared(root, stage, subject, session)
        staged = _bids_path(stage, subject, task, session, run, datatype)
        try:
            written = mne_bids.write_raw_bids(
                raw,
                staged,
                events=events,
                event_id=event_id,
                format=fmt,
                allow_preload=in_memory,
                overwrite=True,
                verbose="error",
            )
        except (ValueError, RuntimeError, FileExistsError) as err:
            raise DataError(
                f"{root}: MNE-BIDS could not write sub-{subject} task-{task}: {err}"
            ) from err
        files = [p for p in stage.rglob("*") if p.is_file()]
        new = [p for p in files if p.relative_to(stage) not in shared]
        if not overwrite:
            clash = [p.relative_to(stage) for p in new if (root / p.relative_to(stage)).exists()]
            if clash:
                raise DataError(
                    f"{root}: {clash[0]} already exists; pass overwrite=True to replace it"
                )
        # Data files first, the shared tables (that list them) last.
        order = sorted(files, key=lambda p: (p.relative_to(stage) in shared, p.suffix == ".tsv"))
        for item in order:
            target = root / item.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, target)
        return root / written.fpath.relative_to(stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _seed_shared(root: Path, stage: Path, subject, session) -> set[Path]:
    """Copy the tables MNE-BIDS updates into ``stage``; return their relative paths."""
    rel = [Path(name) for name in _SHARED]
    sub = Path(f"sub-{subject}")
    if session is None:
        rel.append(sub / f"sub-{subject}_scans.tsv")
    else:
        rel.append(sub / f"ses-{session}" / f"sub-{subject}_ses-{session}_scans.tsv")
    copied = set()
    for r in rel:
        if (root / r).is_file():
            (stage / r).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / r, stage / r)
        copied.add(r)
    return copied
