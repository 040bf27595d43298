"""The Brain Treebank SEEG layout: HDF5 sessions aligned to movie time through triggers.

Wang et al. (2024), "Brain Treebank: Large-scale intracranial recordings from naturalistic
language stimuli", NeurIPS Datasets and Benchmarks (https://BrainTreebank.dev). Subjects watch
movies; each session ("trial") is one HDF5 file. The layout below follows the released
dataset as read by its authors' code; the parts marked *ours* are conventions of this package
where the public description says nothing, so check them against the real files.

::

    <directory>/
      sub_{subject}_trial{session:03d}.h5                 data/electrode_{i}: 1-D, one per
                                                          electrode (2048 Hz)
      electrode_labels/sub_{subject}/electrode_labels.json  list of names, electrode i = item i
      subject_timings/sub_{subject}_trial{session:03d}_timings.csv
                                                          trigger table (see below)
      localization/sub_{subject}/electrode_positions.csv   *ours*: label, x, y, z (m, head)

Trigger table: one row per trigger, with ``movie_time`` (s into the movie) and ``index``
(sample of the HDF5 data at which it was recorded); the dataset's code maps a movie time to a
sample as ``index + (t - movie_time) * sfreq`` from the nearest trigger. Playback was paused
at times (rows "include pauses"): during a pause the samples run on while the movie time
stands still, so a single line from one trigger to a later one lands events after a pause too
early. Here the table is cut into continuous playback segments, at rows whose optional
``type`` column contains ``"pause"`` (*ours*: the row where playback stopped) and wherever the
sample gap exceeds the movie-time gap by more than ``pause_tolerance`` seconds; times inside a
segment are interpolated between its triggers, and a time between two segments belongs to the
later one if the earlier ended with a pause row (the movie stopped there), else to the nearer.

Units: :func:`write_brain_treebank` stores volts and writes ``sfreq`` and ``unit`` attributes
on the ``data`` group. Files without them (the released ones) are read as 2048 Hz and
microvolts (*assumption*; pass ``unit=`` / ``sfreq=`` to override).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path, write_json, write_text
from neurodecode.data.containers import TrialData
from neurodecode.errors import DataError

SFREQ = 2048.0  # Hz, the released recordings
_UNITS = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6}


def session_paths(directory: str | os.PathLike, subject, session) -> dict[str, Path]:
    """Paths of one session's files: ``h5``, ``labels``, ``triggers``, ``positions``."""
    d = Path(directory)
    trial = f"trial{int(session):03d}" if str(session).isdigit() else f"trial{session}"
    sub = f"sub_{subject}"
    return {
        "h5": d / f"{sub}_{trial}.h5",
        "labels": d / "electrode_labels" / sub / "electrode_labels.json",
        "triggers": d / "subject_timings" / f"{sub}_{trial}_timings.csv",
        "positions": d / "localization" / sub / "electrode_positions.csv",
    }


# --------------------------------------------------------------------------- writing
def write_brain_treebank(
    out_dir: str | os.PathLike,
    session,
    data: np.ndarray,
    sfreq: float,
    electrode_labels: Sequence[str],
    triggers: pd.DataFrame,
    ch_pos: np.ndarray | None = None,
    *,
    subject=1,
) -> list[Path]:
    """Write one session in the Brain Treebank layout.

    Parameters
    ----------
    out_dir : path-like
        Dataset root (created if needed).
    session : int or str
        Session ("trial") number; ``3`` gives ``trial003``.
    data : array, shape (n_electrodes, n_samples)
        Voltages in V.
    sfreq : float
        Sampling rate in Hz (the real data: 2048).
    electrode_labels : sequence of str, length n_electrodes
    triggers : DataFrame
        Trigger table with ``movie_time`` (s) and ``index`` (sample) columns, optionally
        ``type`` (``"pause"`` marks where playback stopped); written as is.
    ch_pos : array, shape (n_electrodes, 3), optional
        Contact positions in metres (head frame).
    subject : int or str
        Subject id used in the file names (``sub_{subject}``).

    Returns
    -------
    list of Path
        The files written. Each is written atomically; if any fails, the files of this call
        that did not exist before are removed.
    """
    import h5py

    data = np.asarray(data)
    labels = [str(lab) for lab in electrode_labels]
    if data.ndim != 2:
        raise DataError(f"data must be (n_electrodes, n_samples), got shape {data.shape}")
    if len(labels) != data.shape[0]:
        raise DataError(f"{len(labels)} electrode labels for {data.shape[0]} electrodes")
    _check_triggers(triggers, "triggers", n_samples=data.shape[1])
    paths = session_paths(out_dir, subject, session)
    existed = {k: p.exists() for k, p in paths.items()}
    written: list[Path] = []
    try:
        written.append(write_json(paths["labels"], labels))
        written.append(write_text(paths["triggers"], triggers.to_csv(index=False)))
        if ch_pos is not None:
            pos = np.asarray(ch_pos, dtype=float)
            if pos.shape != (len(labels), 3):
                raise DataError(f"ch_pos must have shape ({len(labels)}, 3), got {pos.shape}")
            table = pd.DataFrame({"label": labels, "x": pos[:, 0], "y": pos[:, 1], "z": pos[:, 2]})
            written.append(write_text(paths["positions"], table.to_csv(index=False)))
        with atomic_path(paths["h5"]) as tmp, h5py.File(tmp, "w") as f:
            group = f.create_group("data")
            group.attrs["sfreq"] = float(sfreq)
            group.attrs["unit"] = "V"
            for i, row in enumerate(data):
                group.create_dataset(f"electrode_{i}", data=row)
        written.append(paths["h5"])
    except BaseException:
        for key, path in paths.items():
            if not existed[key]:
                path.unlink(missing_ok=True)
        raise
    return written


# --------------------------------------------------------------------------- alignment
def movie_to_sample(
    times: np.ndarray, triggers: pd.DataFrame, sfreq: float, pause_tolerance: float = 0.5
) -> np.ndarray:
    """Sample positions (float) of movie times, skipping playback pauses.

    Parameters
    ----------
    times : array, shape (n_events,)
        Seconds into the movie.
    triggers : DataFrame
        ``movie_time`` (s), ``index`` (sample), optional ``type`` (see module docstring).
    sfreq : float
        Sampling rate of the recording (Hz).
    pause_tolerance : float
        Seconds by which the recording may outrun the movie between two triggers before the
        gap counts as a pause.

    Returns
    -------
    array, shape (n_events,)
        Fractional sample indices into the session's data.
    """
    trig = triggers.dropna(subset=["movie_time", "index"]).sort_values("index", kind="stable")
    mt = trig["movie_time"].to_numpy(float)
    idx = trig["index"].to_numpy(float)
    paused = np.zeros(len(trig), bool)
    if "type" in trig:
        paused = trig["type"].astype(str).str.contains("pause", case=False).to_numpy()
    lag = np.diff(idx) / sfreq - np.diff(mt)
    cut = paused[:-1] | (lag > pause_tolerance) | (np.diff(mt) < 0)
    bounds = np.concatenate([[0], np.flatnonzero(cut) + 1, [len(trig)]])
    segments = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    starts = np.array([mt[s.start] for s in segments])
    ends = np.array([mt[s.stop - 1] for s in segments])
    ends_paused = np.array([paused[s.stop - 1] for s in segments])
    out = np.empty(len(times))
    for n, t in enumerate(np.asarray(times, dtype=float)):
        seg = segments[_segment_of(t, starts, ends, ends_paused)]
        x, y = mt[seg], idx[seg]
        if t < x[0]:
            out[n] = y[0] + (t - x[0]) * sfreq
        elif t > x[-1]:
            out[n] = y[-1] + (t - x[-1]) * sfreq
        else:
            out[n] = np.interp(t, x, y)
    return out


def _segment_of(t: float, starts, ends, ends_paused) -> int:
    inside = np.flatnonzero((starts <= t) & (t <= ends))
    if len(inside):
        return int(inside[-1])  # after a pause the movie time repeats: the later segment
    before = np.flatnonzero(ends < t)
    if not len(before):
        return 0
    j = int(before[-1])
    if j == len(starts) - 1:
        return j
    if ends_paused[j]:
        return j + 1
    return j if t - ends[j] <= starts[j + 1] - t else j + 1


# --------------------------------------------------------------------------- loading
def load_brain_treebank(
    directory: str | os.PathLike,
    subject,
    session,
    events,
    tmin: float = -0.5,
    tmax: float = 1.0,
    sfreq_out: float | None = None,
    electrodes: Sequence[str | int] | None = None,
    *,
    onset_column: str = "start",
    label_column: str | None = None,
    stimulus_column: str | None = None,
    unit: str | None = None,
    sfreq: float | None = None,
    pause_tolerance: float = 0.5,
) -> TrialData:
    """Epochs of one Brain Treebank session around movie-time events.

    Parameters
    ----------
    directory : path-like
        Dataset root (see the module docstring for the layout).
    subject, session
        As in the file names: ``sub_{subject}_trial{session:03d}.h5``.
    events : array (n_events,) or DataFrame
        Event times in seconds of movie time, or a table (e.g. a word transcript) whose
        ``onset_column`` holds them; its other columns become the trial metadata.
    tmin, tmax : float
        Window around each event in seconds (inclusive).
    sfreq_out : float, optional
        Resample the epochs to this rate (Hz).
    electrodes : sequence of str or int, optional
        Electrode labels or indices to load (default all), in the order given.
    onset_column, label_column, stimulus_column : str
        Columns of an events table: onsets (s), labels (``y``), stimulus ids.
    unit : {"V", "mV", "uV"}, optional
        Unit of the stored values; default from the file, else ``"uV"``.
    sfreq : float, optional
        Sampling rate of the file (Hz); default from the file, else 2048.
    pause_tolerance : float
        See :func:`movie_to_sample`.

    Returns
    -------
    TrialData
        Modality ``"seeg"``, ``X`` (n_events, n_electrodes, n_times) in V; events whose window
        leaves the recording are dropped (``metadata["sample"]`` gives the kept events'
        onsets in samples of the file).
    """
    import h5py
    import mne

    paths = session_paths(directory, subject, session)
    for key in ("h5", "labels", "triggers"):
        if not paths[key].exists():
            raise DataError(
                f"{paths[key]}: {key} file not found for subject {subject}, session {session}"
            )
    labels = _read_labels(paths["labels"])
    triggers = pd.read_csv(paths["triggers"])
    _check_triggers(triggers, paths["triggers"])
    table = _events_table(events, onset_column, paths["h5"])
    picks = _pick_electrodes(labels, electrodes, paths["labels"])
    with h5py.File(paths["h5"], "r") as f:
        group = _data_group(f, labels, paths)
        rate = float(sfreq or group.attrs.get("sfreq", SFREQ))
        scale = _UNITS[_unit(unit or group.attrs.get("unit", "uV"), paths["h5"])]
        n_samples = group["electrode_0"].shape[0]
        onsets = movie_to_sample(
            table[onset_column].to_numpy(float), triggers, rate, pause_tolerance
        )
        first = np.round(onsets + tmin * rate).astype(np.int64)
        n_times = int(round((tmax - tmin) * rate)) + 1
        keep = (first >= 0) & (first + n_times <= n_samples)
        if not keep.any():
            raise DataError(
                f"{paths['h5']}: no event window ({tmin}..{tmax} s) fits inside the "
                f"{n_samples} samples; event samples {np.round(onsets).min():.0f}.."
                f"{np.round(onsets).max():.0f}. Check the events and the trigger table"
            )
        X = _read_windows(group, picks, first[keep], n_times) * scale
    bad = np.isnan(X).any(axis=(0, 2))
    if bad.any():
        names = [labels[picks[i]] for i in np.flatnonzero(bad)]
        raise DataError(f"{paths['h5']}: NaN values in electrodes {names[:10]}")
    meta = table[keep].reset_index(drop=True)
    meta["sample"] = np.round(onsets[keep]).astype(np.int64)
    y = meta[label_column].astype(str).to_numpy() if label_column else np.full(len(meta), "event")
    values = list(dict.fromkeys(y.tolist()))
    event_id = {v: i + 1 for i, v in enumerate(values)}
    # Two events may share a sample (words): MNE event times are just trial numbers here.
    ev = np.column_stack([np.arange(len(meta)), np.zeros(len(meta), int), [event_id[v] for v in y]])
    names = [labels[i] for i in picks]
    info = mne.create_info(names, rate, "seeg")
    pos = _read_positions(paths["positions"], names)
    if pos is not None:
        info.set_montage(mne.channels.make_dig_montage(pos, coord_frame="head"), verbose="error")
    epochs = mne.EpochsArray(
        X, info, events=ev, tmin=tmin, event_id=event_id, metadata=meta, verbose="error"
    )
    if sfreq_out is not None:
        epochs.resample(sfreq_out, verbose="error")
    ids = meta[stimulus_column].to_numpy() if stimulus_column else None
    return TrialData.from_epochs(epochs, subject=str(subject), modality="seeg", stimulus_ids=ids)


def _check_triggers(triggers: pd.DataFrame, source, n_samples: int | None = None) -> None:
    missing = [c for c in ("movie_time", "index") if c not in triggers]
    if missing:
        raise DataError(
            f"{source}: trigger table lacks columns {missing}; has {list(triggers)} "
            "(expected movie_time in s and index in samples)"
        )
    if n_samples is not None:
        idx = triggers["index"].dropna()
        if len(idx) and (idx.min() < 0 or idx.max() >= n_samples):
            raise DataError(
                f"{source}: trigger indices {idx.min()}..{idx.max()} fall outside the "
                f"{n_samples} samples of the data"
            )


def _read_labels(path: Path) -> list[str]:
    try:
        labels = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(labels, list):
        raise DataError(f"{path}: expected a JSON list of electrode names, got {type(labels)}")
    return [str(lab) for lab in labels]


def _data_group(f, labels: list[str], paths: dict[str, Path]):
    if "data" not in f:
        raise DataError(f"{paths['h5']}: no 'data' group; found {list(f)}")
    group = f["data"]
    expected = {f"electrode_{i}" for i in range(len(labels))}
    present = {k for k in group if k.startswith("electrode_")}
    if expected - present:
        gone = sorted(expected - present, key=lambda k: int(k.split("_")[1]))
        raise DataError(
            f"{paths['h5']}: missing datasets {gone[:10]} for the {len(labels)} electrodes "
            f"named in {paths['labels']}"
        )
    if present != expected:
        raise DataError(
            f"{paths['h5']}: {len(present)} electrode datasets but {len(labels)} labels in "
            f"{paths['labels']}; the label file must name every electrode, in order"
        )
    lengths = {group[k].shape for k in present}
    if len(lengths) != 1:
        raise DataError(f"{paths['h5']}: electrode datasets differ in length: {sorted(lengths)}")
    return group


def _read_windows(group, picks, first: np.ndarray, n_times: int) -> np.ndarray:
    """Windows (n_events, n_picks, n_times), reading one electrode at a time.

    When the windows cover much of the span between the first and the last, that span is
    read in one go; sparse windows (a few events in a long session) are read one by one.
    """
    lo, hi = int(first.min()), int(first.max()) + n_times
    out = np.empty((len(first), len(picks), n_times))
    dense = 4 * len(first) * n_times >= hi - lo
    offsets = first[:, None] - lo + np.arange(n_times)[None, :]
    for j, i in enumerate(picks):
        ds = group[f"electrode_{i}"]
        if dense:
            out[:, j, :] = np.asarray(ds[lo:hi], dtype=float)[offsets]
        else:
            for k, start in enumerate(first):
                out[k, j, :] = ds[int(start) : int(start) + n_times]
    return out


def _events_table(events, onset_column: str, source: Path) -> pd.DataFrame:
    if isinstance(events, pd.DataFrame):
        if onset_column not in events:
            raise DataError(
                f"{source}: events table lacks the onset column {onset_column!r}; has "
                f"{list(events)}"
            )
        table = events.dropna(subset=[onset_column]).reset_index(drop=True)
    else:
        table = pd.DataFrame({onset_column: np.atleast_1d(np.asarray(events, dtype=float))})
    if not len(table):
        raise DataError(f"{source}: no events given")
    return table


def _pick_electrodes(labels: list[str], electrodes, source: Path) -> list[int]:
    if electrodes is None:
        return list(range(len(labels)))
    position = {lab: i for i, lab in enumerate(labels)}
    picks = []
    for e in electrodes:
        if isinstance(e, int | np.integer) and 0 <= e < len(labels):
            picks.append(int(e))
        elif str(e) in position:
            picks.append(position[str(e)])
        else:
            raise DataError(f"{source}: no electrode {e!r}; labels are {labels[:20]}...")
    return picks


def _unit(unit: str, source: Path) -> str:
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    if unit not in _UNITS:
        raise DataError(f"{source}: unknown unit {unit!r}; expected one of {sorted(_UNITS)}")
    return unit


def _read_positions(path: Path, names: list[str]) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    table = pd.read_csv(path).set_index("label")
    return {n: table.loc[n, ["x", "y", "z"]].to_numpy(float) for n in names if n in table.index}
