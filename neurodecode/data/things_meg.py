"""THINGS-MEG (Hebart et al. 2023, eLife 12:e82580; OpenNeuro ds004212) through MNE-BIDS.

Layout (as the THINGS-data preprocessing code reads it)::

    <root>/sub-BIGMEG<n>/ses-<NN>/meg/sub-BIGMEG<n>_ses-<NN>_task-<task>_run-<RR>_meg.<ext>
    <root>/sub-BIGMEG<n>/ses-<NN>/meg/sub-BIGMEG<n>_ses-<NN>_task-<task>_run-<RR>_events.tsv

Each recording is read with :func:`mne_bids.read_raw_bids` (CTF ``.ds`` in the release; any
format MNE-BIDS reads works) and epoched around the image onsets of its events table: the
``sample`` column (onsets corrected with the optical sensor, samples from the recording's
start) or else ``onset`` (s), and the image number in ``value`` (empty for catch trials).
Trials are labelled ``train`` (images shown once), ``test`` (the repeated test images) or
``catch`` (oddball trials, dropped by default) from the ``trial_type`` column when it holds
those words, else from the images: repeated images are test images.

Benchetrit, Banville & King (2024) downsample to 120 Hz and epoch -0.5..1.0 s; the defaults
here keep -0.1..0.6 s (the synthetic twin's window) at 120 Hz.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

SUBJECT_PREFIX = "BIGMEG"
SPLITS = ("train", "test", "catch")


def _subject_label(subject) -> str:
    s = str(subject)
    if s.startswith("sub-"):
        s = s[4:]
    return s if s.upper().startswith(SUBJECT_PREFIX) else f"{SUBJECT_PREFIX}{s}"


def _recordings(root: Path, label: str, task: str, sessions) -> list[tuple[str, str, Path]]:
    """(session, run, events path) of every recording of the subject, in session/run order."""
    folder = root / f"sub-{label}"
    if not folder.is_dir():
        found = sorted(p.name for p in root.glob("sub-*"))
        raise DataError(f"{folder}: subject folder not found in {root} (found {found[:8]})")
    wanted = None if sessions is None else {str(s).zfill(2) for s in sessions} | {
        str(s) for s in sessions}
    pattern = re.compile(rf"sub-{label}_ses-(\w+?)_task-{re.escape(task)}_run-(\w+?)_events\.tsv$")
    out = []
    for path in sorted(folder.glob("ses-*/meg/*_events.tsv")):
        m = pattern.match(path.name)
        if m and (wanted is None or m.group(1) in wanted):
            out.append((m.group(1), m.group(2), path))
    if not out:
        raise DataError(f"{folder}: no task-{task} MEG recordings with events tables"
                        + ("" if sessions is None else f" in sessions {sorted(sessions)}"))
    return out


def _events(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", na_values=["n/a", "NaN", ""])
    if "value" not in table or ("sample" not in table and "onset" not in table):
        raise DataError(f"{path}: expected columns 'value' (image number) and 'sample' or "
                        f"'onset'; found {list(table.columns)}")
    return table


def load_things_meg(
    bids_root: str | os.PathLike,
    subject: str = "1",
    sessions: list | None = None,
    task: str = "main",
    tmin: float = -0.1,
    tmax: float = 0.6,
    resample: float | None = 120.0,
    l_freq: float | None = None,
    h_freq: float | None = None,
    keep_catch: bool = False,
    test_images: np.ndarray | None = None,
) -> TrialData:
    """Epochs of one THINGS-MEG participant, all (or some) sessions and runs concatenated.

    Parameters
    ----------
    bids_root : path-like
        The BIDS root (``ds004212``).
    subject : str
        ``"1"``..``"4"`` or ``"BIGMEG1"``...
    sessions : list, optional
        Session labels (``1`` or ``"01"``); default all.
    task : str
        BIDS task label of the image runs.
    tmin, tmax : float
        Epoch window (s) around image onset.
    resample : float, optional
        Sampling rate of the epochs (Hz); 120 as Benchetrit et al.
    l_freq, h_freq : float, optional
        Band-pass (Hz) before epoching (THINGS-data's own preprocessing: 0.1-40 Hz).
    keep_catch : bool
        Keep catch (oddball) trials (``split = "catch"``); dropped by default.
    test_images : array, optional
        Image numbers of the test set (default: from ``trial_type``, else repeated images).

    Returns
    -------
    TrialData
        ``X`` (n_trials, n_channels, n_times) in T (channels present in every run, bad ones
        excluded); ``stimulus_ids`` the image numbers (catch trials -1); metadata with
        session, run, onset, split, repetition (0 for the first showing).
    """
    from neurodecode.data.bids import load_bids_epochs

    root = Path(bids_root)
    if not root.is_dir():
        raise DataError(f"{root}: BIDS root folder not found")
    label = _subject_label(subject)
    parts = []
    for session, run, events_path in _recordings(root, label, task, sessions):
        table = _events(events_path)
        value = table["value"]
        image = pd.to_numeric(value, errors="coerce")
        kind = table["trial_type"].astype(str).str.lower() if "trial_type" in table else None
        catch = image.isna() | (kind == "catch" if kind is not None else False)
        if "sample" in table:
            samples = table["sample"].to_numpy(dtype=float)
        else:
            samples = None
        meta = pd.DataFrame({"session": session, "run": run,
                             "stimulus_id": image.fillna(-1).astype(np.int64),
                             "split": np.where(catch, "catch", "")})
        if kind is not None and kind.isin(["test", "exp"]).any():
            meta.loc[~catch, "split"] = np.where(kind[~catch] == "test", "test", "train")
        parts.append((session, run, events_path, table, samples, meta))
    # Recordings, epoched with the events of their own table.
    data_parts = []
    for session, run, events_path, table, samples, meta in parts:
        keep = np.ones(len(meta), bool) if keep_catch else (meta["split"] != "catch").to_numpy()
        if not keep.any():
            continue
        codes = np.arange(1, keep.sum() + 1)  # one code per trial: ids travel in metadata
        try:
            d = load_bids_epochs(
                root, label, task, session=session, run=run, datatype="meg", tmin=tmin,
                tmax=tmax, events=_event_array(root, label, task, session, run, table, keep,
                                               samples, codes),
                event_id={f"t{c}": int(c) for c in codes}, resample=resample,
                l_freq=l_freq, h_freq=h_freq, stimulus_ids=meta["stimulus_id"][keep]
                .to_numpy(), metadata=meta[keep].reset_index(drop=True), picks="meg")
        except DataError as err:
            raise DataError(f"{events_path.name}: {err}") from err
        data_parts.append(d)
    if not data_parts:
        raise DataError(f"{root}: sub-{label} has no image trials")
    return _concatenate(data_parts, label, test_images)


def _event_array(root, label, task, session, run, table, keep, samples, codes) -> np.ndarray:
    """MNE events (sample, 0, code) of the kept rows; ``onset`` needs the sampling rate."""
    if samples is None:
        import mne_bids

        from neurodecode.data.bids import _bids_path

        raw = mne_bids.read_raw_bids(_bids_path(root, label, task, session, run, "meg"),
                                     verbose="error")
        samples = np.rint(table["onset"].to_numpy(float) * raw.info["sfreq"]) + raw.first_samp
    return np.column_stack([np.asarray(samples)[keep].astype(np.int64),
                            np.zeros(int(keep.sum()), np.int64), codes])


def _concatenate(parts: list[TrialData], label: str, test_images) -> TrialData:
    common = [c for c in parts[0].info["ch_names"]
              if all(c in p.info["ch_names"] for p in parts[1:])]
    if not common:
        raise DataError(f"sub-{label}: the runs share no channel")
    Xs, metas, ids = [], [], []
    for p in parts:
        idx = [p.info["ch_names"].index(c) for c in common]
        Xs.append(np.asarray(p.X)[:, idx])
        metas.append(p.metadata)
        ids.append(p.stimulus_ids)
    if len({x.shape[2] for x in Xs}) != 1:
        raise DataError(f"sub-{label}: runs have different epoch lengths (sampling rates "
                        "differ; pass resample=)")
    meta = pd.concat(metas, ignore_index=True)
    stim = np.concatenate(ids)
    meta["stimulus_id"] = stim
    shown = meta["split"] != "catch"
    if test_images is not None:
        meta.loc[shown, "split"] = np.where(np.isin(stim[shown], test_images), "test", "train")
    elif (meta.loc[shown, "split"] == "").any():
        counts = pd.Series(stim[shown]).value_counts()
        repeated = counts.index[counts > 1].to_numpy()
        meta.loc[shown, "split"] = np.where(np.isin(stim[shown], repeated), "test", "train")
    meta["repetition"] = pd.Series(stim).groupby(stim).cumcount().to_numpy()
    first = parts[0]
    info = {**first.info, "ch_names": common,
            "ch_types": [first.info["ch_types"][first.info["ch_names"].index(c)]
                         for c in common],
            "ch_pos": np.asarray(first.info["ch_pos"])[
                [first.info["ch_names"].index(c) for c in common]]}
    return TrialData(X=np.concatenate(Xs), subject=label, modality="meg", stimulus_ids=stim,
                     metadata=meta, info=info)


def load_things_meg_subjects(bids_root: str | os.PathLike, subjects: list | None = None,
                             **kwargs) -> dict[str, TrialData]:
    """Every (or the listed) participant of a THINGS-MEG BIDS root: ``{"1": TrialData, ...}``
    (keyword arguments as :func:`load_things_meg`)."""
    return open_things_meg({"name": "THINGS-MEG"}, load_things_meg, bids_root, subjects,
                           kwargs).subjects


def open_things_meg(card: dict, loader, path, subjects, params: dict):
    """The :func:`neurodecode.datasets.open_dataset` opener of the THINGS-MEG card: every
    (or the listed) participant of the BIDS root ``path``, ``params`` as
    :func:`load_things_meg` takes them."""
    from neurodecode.data.dataset import Dataset

    if path is None:
        raise DataError(f"{card['name']} is not downloaded by neurodecode; give its BIDS root "
                        f"(--dataset PATH). How to obtain it: {card.get('how_to_obtain', '')}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not found ({card['name']})")
    if subjects is None:
        subjects = sorted(p.name[4 + len(SUBJECT_PREFIX):] for p in root.glob(
            f"sub-{SUBJECT_PREFIX}*") if p.is_dir())
    out = {str(s): loader(root, subject=str(s), **params) for s in subjects}
    if not out:
        raise DataError(f"{root}: no sub-{SUBJECT_PREFIX}<n> folders (is it ds004212?)")
    return Dataset(card["name"], out, params=params, card=card, source=str(root))
