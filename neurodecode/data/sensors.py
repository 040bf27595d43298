"""MEG, EEG and SEEG raw files → epochs as :class:`~neurodecode.data.TrialData`.

One loader for every raw format MNE-Python reads (FIF, EDF/BDF, BrainVision, EEGLAB, ...)
and one writer for the formats MNE can write, so synthetic worlds and real recordings take
the same path. Events come from a stim channel, annotations, an events array, an ``-eve.fif``
file or a BIDS-like events TSV. See Gramfort et al. (2013), "MEG and EEG data analysis with
MNE-Python", Front. Neurosci. 7:267, for the underlying reader and epoching machinery.

Conventions
-----------
- Data stay in SI units (T, T/m, V) as MNE returns them.
- Projectors are *not* applied (``proj=False``): the arrays are the data as recorded.
- By default only data channels (MEG, EEG, SEEG, ECoG...) are kept, without bad channels.
- Event sample numbers in arrays and ``-eve.fif`` files are absolute (they include
  ``raw.first_samp``), as in MNE; onsets in TSV tables are seconds from the first sample.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.errors import DataError

#: Extension → format name accepted by :func:`write_raw`.
WRITE_FORMATS = {
    ".fif": "fif",
    ".fif.gz": "fif",
    ".edf": "edf",
    ".bdf": "bdf",
    ".vhdr": "brainvision",
    ".set": "eeglab",
}
_SENSOR_KINDS = ("meg", "eeg", "seeg", "ecog")


# --------------------------------------------------------------------------- writing
def write_raw(raw, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Save ``raw`` atomically in the format named by the extension of ``path``.

    ``.fif`` / ``.fif.gz`` use :meth:`mne.io.Raw.save` (keep MNE's naming, e.g.
    ``sub-01_raw.fif``); ``.edf`` / ``.bdf`` (16 / 24 bit, one physical range per channel,
    channel types stored in the labels), ``.vhdr`` (BrainVision: ``.vhdr`` + ``.vmrk`` +
    ``.eeg``) and ``.set`` (EEGLAB) use :func:`mne.export.export_raw`. Annotations travel
    with every format; a stim channel only with FIF.

    The files are written under their final names inside a hidden temporary folder next to
    ``path`` (MNE checks file names, and BrainVision headers name their companions) and then
    renamed into place, the header last, so a failed write leaves nothing behind.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (data in SI units).
    path : path-like
        Destination; the extension picks the format (see :data:`WRITE_FORMATS`).
    overwrite : bool
        Replace existing files (default True). If False, an existing destination raises
        :class:`DataError`.

    Returns
    -------
    Path
        ``path`` (for BrainVision, the ``.vhdr`` header).
    """
    import mne

    path = Path(path)
    fmt = _write_format(path)
    if not overwrite and path.exists():
        raise DataError(f"{path}: file exists; pass overwrite=True to replace it")
    with _staged_files(path) as tmp:
        if fmt == "fif":
            raw.save(tmp, overwrite=True, split_size="2GB", verbose="error")
        else:
            mne.export.export_raw(
                tmp,
                raw,
                fmt=fmt,
                physical_range="channelwise" if fmt in ("edf", "bdf") else "auto",
                add_ch_type=fmt in ("edf", "bdf"),
                overwrite=True,
                verbose="error",
            )
    return path


def _write_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in WRITE_FORMATS.items():
        if name.endswith(ext):
            return fmt
    raise DataError(
        f"{path}: cannot write raw data with this extension; use one of {sorted(WRITE_FORMATS)}"
    )


@contextlib.contextmanager
def _staged_files(path: Path) -> Iterator[Path]:
    """Yield ``tmpdir/<name>``; move every file written there next to ``path`` on success.

    Companion files move first and ``path`` itself last, so a reader never finds a header
    without its data. On error the temporary folder is removed and nothing is moved.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmpdir / path.name
        produced = sorted(tmpdir.iterdir(), key=lambda p: p.name == path.name)
        if not any(p.name == path.name for p in produced):
            raise DataError(f"{path}: the writer produced no file of that name")
        for item in produced:
            os.replace(item, path.parent / item.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# --------------------------------------------------------------------------- reading
@contextlib.contextmanager
def reading(path, what: str = "file") -> Iterator[None]:
    """Turn any failure of MNE while reading ``path`` into :class:`DataError` naming it.

    MNE reads FIF data lazily (at epoching, ``load_data`` or ``get_data``), so a truncated or
    corrupt file fails far from where it was opened, with a bare ``ValueError``; MNE only
    *warns* ("Invalid tag") when a tag at the end of a file is cut short. Both become
    DataError here (readers inside must run with ``verbose="warning"`` so MNE warns).
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MNE's other warnings stay quiet here
            warnings.filterwarnings("error", message=".*[Ii]nvalid tag.*")
            yield
    except DataError:
        raise
    except Exception as err:  # MNE raises many types; all mean 'cannot read this'
        raise DataError(
            f"{path}: could not read this {what} (truncated or corrupt?): "
            f"{type(err).__name__}: {err}"
        ) from err


def read_raw(path: str | os.PathLike, *, preload: bool = False, expected_sfreq=None):
    """Open any raw file MNE reads, with errors that name the file.

    EDF/BDF channel labels such as ``"SEEG A1"`` give channel types (``infer_types``), which
    is how :func:`write_raw` stores them. BrainVision "Comment/" prefixes added by writers are
    removed from annotation descriptions.

    Parameters
    ----------
    path : path-like
    preload : bool
        Load the data into memory.
    expected_sfreq : float, optional
        Raise :class:`DataError` if the file's sampling rate (Hz) differs.

    Returns
    -------
    mne.io.BaseRaw
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path (cwd is {Path.cwd()})")
    kwargs: dict[str, Any] = {}
    if path.suffix.lower() in (".edf", ".bdf"):
        kwargs["infer_types"] = True
        _check_edf_complete(path)
    try:
        with reading(path, "raw recording"):
            raw = mne.io.read_raw(path, preload=preload, verbose="error", **kwargs)
    except DataError as err:
        hint = ""
        if "-ave.fif" in path.name:
            hint = " (this looks like an evoked file: read it with load_evoked)"
        cause = err.__cause__ or err
        raise DataError(
            f"{path}: MNE could not read this as a raw recording{hint}: "
            f"{type(cause).__name__}: {cause}"
        ) from cause
    if expected_sfreq is not None and not np.isclose(raw.info["sfreq"], expected_sfreq):
        raise DataError(
            f"{path}: sampling rate is {raw.info['sfreq']:g} Hz, expected {expected_sfreq:g} "
            "Hz; resample the recording or pass the right expected_sfreq"
        )
    renames = {
        d: d.removeprefix("Comment/")
        for d in set(raw.annotations.description)
        if d.startswith("Comment/")
    }
    if renames:
        raw.annotations.rename(renames)
    return raw


def _check_edf_complete(path: Path) -> None:
    """Raise :class:`DataError` when an EDF/BDF file holds fewer data records than its header
    promises (a truncated copy or an interrupted download). MNE only warns and reads what is
    there, which silently loses the later epochs.

    Header layout: EDF specification (Kemp et al. 1992, Clin Neurophysiol 82:391; EDF+ Kemp &
    Olivan 2003): bytes 184-192 header size, 236-244 number of records (-1 = unknown),
    252-256 number of signals, then per-signal fields with samples per record at
    ``256 + 216 * ns``; 2 bytes per sample (EDF) or 3 (BDF).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            header_bytes, n_records = int(head[184:192]), int(head[236:244])
            ns = int(head[252:256])
            fh.seek(256 + 216 * ns)
            per_record = sum(int(fh.read(8)) for _ in range(ns))
    except (ValueError, OSError):
        return  # not a parseable header: MNE's own reader reports it
    if n_records < 0 or per_record <= 0:
        return
    bytes_per_sample = 3 if path.suffix.lower() == ".bdf" else 2
    record_bytes = per_record * bytes_per_sample
    found = (path.stat().st_size - header_bytes) // record_bytes
    if found < n_records:
        raise DataError(
            f"{path}: truncated: the header promises {n_records} data records but the file "
            f"holds {max(found, 0)} ({path.stat().st_size} bytes, "
            f"{header_bytes + n_records * record_bytes} expected); get a complete copy of the "
            "file"
        )


def set_electrode_positions(raw, ch_pos: Mapping[str, Any], coord_frame: str = "head", trans=None):
    """Attach electrode positions (e.g. SEEG contacts) to ``raw`` in place.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    ch_pos : mapping of str to array, shape (3,)
        Channel name → position in metres.
    coord_frame : "head" | "mri"
        Frame of ``ch_pos``. MRI (surface RAS) positions need ``trans``.
    trans : mne.transforms.Transform, optional
        MRI → head transform, required when ``coord_frame="mri"``.

    Returns
    -------
    raw
        The same object, with ``info["chs"][i]["loc"][:3]`` in head coordinates (metres).
    """
    import mne

    unknown = sorted(set(ch_pos) - set(raw.ch_names))
    if unknown:
        raise DataError(f"positions given for channels not in the recording: {unknown[:10]}")
    montage = mne.channels.make_dig_montage(
        {k: np.asarray(v, dtype=float) for k, v in ch_pos.items()}, coord_frame=coord_frame
    )
    if coord_frame == "mri":
        if trans is None:
            raise DataError(
                "MRI-frame electrode positions need the MRI→head transform (trans=...); "
                "pass coord_frame='head' if the positions are already head coordinates"
            )
        montage.apply_trans(trans)
    elif coord_frame != "head":
        raise DataError(f"coord_frame must be 'head' or 'mri', got {coord_frame!r}")
    raw.set_montage(montage, on_missing="ignore", verbose="error")
    return raw


def find_raw_events(
    raw, events=None, event_id=None, stim_channel=None, source: str | os.PathLike = ""
) -> tuple[np.ndarray, dict[str, int]]:
    """Events of ``raw`` as an MNE events array and the ``event_id`` that names them.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    events : None, array (n_events, 3), or path
        None: the annotations if ``event_id`` names only annotation descriptions, else the
        stim channel (``stim_channel`` or MNE's default) if it has events, else the
        annotations. A path: an MNE events file (``*-eve.fif``, ``*.eve``) or a tab-
        separated table with ``onset`` (s from the first sample) and ``trial_type`` and/or
        ``value`` columns (BIDS ``*_events.tsv``).
    event_id : dict of str to int, optional
        Which events to keep and their names. Every code (or annotation description) must be
        present, otherwise :class:`DataError` lists what was found.
    stim_channel : str, optional
    source : path-like
        Name used in error messages (the recording's file).

    Returns
    -------
    events : array, shape (n_selected, 3)
        Absolute sample, previous value, code; only codes of ``event_id``.
    event_id : dict of str to int
    """

    label = str(source or (raw.filenames[0] if raw.filenames else "recording"))
    names: dict[str, int] | None = None
    if events is None:
        described = set(raw.annotations.description)
        if stim_channel is None and event_id and set(event_id) <= described:
            return _events_from_annotations(raw, event_id, label)  # names match annotations
        arr = _stim_events(raw, stim_channel, label)
        if arr is None or (not len(arr) and stim_channel is None):
            if described:
                return _events_from_annotations(raw, event_id, label)
            raise DataError(
                f"{label}: no events found (no stim channel events and no annotations); "
                "pass events= (an array, an -eve.fif file or an events TSV)"
            )
        if not len(arr):
            raise DataError(f"{label}: stim channel {stim_channel!r} has no events")
    elif isinstance(events, str | os.PathLike):
        arr, names = _read_events_file(Path(events), raw, event_id)
    else:
        arr = np.asarray(events)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise DataError(f"{label}: events array must have shape (n, 3), got {arr.shape}")
    return _select_codes(arr.astype(np.int64), event_id, names, label)


def _stim_events(raw, stim_channel, label: str) -> np.ndarray | None:
    """Events of the stim channel, or None when the recording has none."""
    import mne

    if stim_channel is None and not len(mne.pick_types(raw.info, stim=True, exclude=[])):
        return None
    try:
        return mne.find_events(raw, stim_channel=stim_channel, shortest_event=1, verbose="error")
    except ValueError as err:
        raise DataError(f"{label}: stim channel {stim_channel!r}: {err}") from err


def _events_from_annotations(raw, event_id, label) -> tuple[np.ndarray, dict[str, int]]:
    import mne

    found = sorted(set(raw.annotations.description))
    if event_id is not None:
        missing = sorted(set(event_id) - set(found))
        if missing:
            raise DataError(
                f"{label}: event names {missing} are not among the annotations; found "
                f"{found}. Fix event_id or the annotations"
            )
    arr, names = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
    if not len(arr):
        raise DataError(f"{label}: no usable annotations (found {found})")
    return arr.astype(np.int64), dict(names)


def _read_events_file(path: Path, raw, event_id) -> tuple[np.ndarray, dict | None]:

    if not path.exists():
        raise DataError(f"{path}: events file not found")
    if path.suffix.lower() in (".tsv", ".csv"):
        table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        return _events_from_table(table, raw, event_id, path)
    return read_events(path), None


def _events_from_table(table: pd.DataFrame, raw, event_id, path: Path):
    if "onset" not in table:
        raise DataError(f"{path}: events table needs an 'onset' column (s); has {list(table)}")
    table = table[pd.to_numeric(table["onset"], errors="coerce").notna()]
    samples = raw.first_samp + np.round(table["onset"].astype(float) * raw.info["sfreq"])
    if "trial_type" in table:
        kinds = table["trial_type"].astype(str).to_numpy()
        if event_id is not None:
            missing = sorted(set(event_id) - set(kinds))
            if missing:
                raise DataError(
                    f"{path}: trial types {missing} not in the table; found {sorted(set(kinds))}"
                )
            names = dict(event_id)
        elif "value" in table and pd.api.types.is_numeric_dtype(table["value"]):
            names = dict(zip(kinds, table["value"].astype(int), strict=True))
        else:
            names = {k: i + 1 for i, k in enumerate(sorted(set(kinds)))}
        keep = np.isin(kinds, list(names))
        codes = np.array([names[k] for k in kinds[keep]], dtype=np.int64)
        arr = np.column_stack([samples[keep], np.zeros(keep.sum()), codes])
        return arr.astype(np.int64), names
    if "value" in table:
        codes = table["value"].astype(int).to_numpy()
        return np.column_stack([samples, np.zeros(len(codes)), codes]).astype(np.int64), None
    raise DataError(f"{path}: events table needs 'trial_type' or 'value'; has {list(table)}")


def _select_codes(arr, event_id, names, label) -> tuple[np.ndarray, dict[str, int]]:
    codes, counts = np.unique(arr[:, 2], return_counts=True)
    found = {int(c): int(n) for c, n in zip(codes, counts, strict=True)}
    if event_id is None:
        event_id = names or {str(c): int(c) for c in codes if c != 0}
    missing = sorted(set(int(v) for v in event_id.values()) - set(found))
    if missing:
        raise DataError(
            f"{label}: event codes {missing} from event_id are not in the events; codes found "
            f"(code: count) {found}. Fix event_id or the events source"
        )
    keep = np.isin(arr[:, 2], list(event_id.values()))
    return arr[keep], dict(event_id)


# --------------------------------------------------------------------------- epochs
def load_raw_epochs(
    path: str | os.PathLike,
    subject: str,
    events=None,
    event_id: dict[str, int] | None = None,
    tmin: float = -0.2,
    tmax: float = 0.5,
    baseline: tuple | None = None,
    picks=None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    resample: float | None = None,
    stim_channel: str | None = None,
    modality: str | None = None,
    reject: dict | None = None,
    stimulus_ids=None,
    metadata: pd.DataFrame | None = None,
    *,
    expected_sfreq: float | None = None,
    ch_pos: Mapping[str, Any] | None = None,
) -> TrialData:
    """Epoch any raw file MNE reads around its events.

    Parameters
    ----------
    path : path-like
        Raw recording: FIF, EDF/BDF, BrainVision ``.vhdr``, EEGLAB ``.set``, ...
    subject : str
    events, event_id, stim_channel
        Where the events come from and which to keep; see :func:`find_raw_events`.
    tmin, tmax : float
        Epoch window in seconds around each event (inclusive).
    baseline : tuple, optional
        MNE baseline interval, e.g. ``(None, 0)``; None keeps the data as is.
    picks : str or list, optional
        MNE channel selection; default: data channels, bad channels excluded.
    l_freq, h_freq : float, optional
        Band-pass edges (Hz) applied to the continuous data before epoching.
    resample : float, optional
        New sampling rate (Hz), applied to the epochs.
    modality : str, optional
        Overrides the modality inferred from the channel types (most data channels wins,
        MEG = magnetometers + gradiometers).
    reject : dict, optional
        MNE peak-to-peak rejection thresholds, e.g. ``{"eeg": 150e-6}``.
    stimulus_ids : array, shape (n_selected_events,), optional
        One id per selected event (events of ``event_id``, in time order); dropped epochs
        drop their ids.
    metadata : DataFrame, optional
        One row per selected event, like ``stimulus_ids``. Columns ``onset`` (s from the first
        sample) and ``event_code`` are added unless present.
    expected_sfreq : float, optional
        Raise :class:`DataError` if the file's sampling rate differs.
    ch_pos : mapping, optional
        Channel name → head-frame position (m), set before epoching (e.g. SEEG contacts).

    Returns
    -------
    TrialData
        ``X`` of shape (n_epochs, n_channels, n_times) in SI units; ``y`` the event names;
        ``info`` with ``sfreq``, ``ch_names``, ``ch_types``, ``ch_pos`` (m), ``tmin``.

    Raises
    ------
    DataError
        Missing or unreadable file, sampling-rate mismatch, unknown event codes, no events
        inside the recording, NaNs in the epochs.
    """
    path = Path(path)
    raw = read_raw(path, expected_sfreq=expected_sfreq)
    if ch_pos is not None:
        set_electrode_positions(raw, ch_pos)
    return epoch_raw(
        raw,
        subject,
        path,
        events=events,
        event_id=event_id,
        tmin=tmin,
        tmax=tmax,
        baseline=baseline,
        picks=picks,
        l_freq=l_freq,
        h_freq=h_freq,
        resample=resample,
        stim_channel=stim_channel,
        modality=modality,
        reject=reject,
        stimulus_ids=stimulus_ids,
        metadata=metadata,
    )


def epoch_raw(
    raw,
    subject: str,
    source: str | os.PathLike,
    *,
    events=None,
    event_id: dict[str, int] | None = None,
    tmin: float = -0.2,
    tmax: float = 0.5,
    baseline: tuple | None = None,
    picks=None,
    l_freq: float | None = None,
    h_freq: float | None = None,
    resample: float | None = None,
    stim_channel: str | None = None,
    modality: str | None = None,
    reject: dict | None = None,
    stimulus_ids=None,
    metadata: pd.DataFrame | None = None,
) -> TrialData:
    """:func:`load_raw_epochs` for a recording already opened (``source`` names it in errors).

    Filtering loads the data of ``raw`` and changes it in place.
    """
    path = source
    arr, event_id = find_raw_events(raw, events, event_id, stim_channel, source=path)
    n_events = len(arr)
    meta = _event_metadata(arr, raw, metadata, stimulus_ids, path)
    picks = "data" if picks is None else picks
    if l_freq is not None or h_freq is not None:
        # NaNs spread over their channel when filtered: the check on the epochs catches them.
        with reading(path, "recording"):
            raw.load_data(verbose="error")
        raw.filter(l_freq, h_freq, picks=picks, verbose="error")
    inside = (arr[:, 0] >= raw.first_samp) & (arr[:, 0] <= raw.last_samp)
    epochs = None
    if inside.any():
        with reading(path, "recording"):  # the data are read here, lazily
            epochs = _epochs(raw, arr, event_id, tmin, tmax, baseline, picks, reject, meta)
    if epochs is None or not len(epochs):
        raise DataError(
            f"{path}: none of the {n_events} events gave an epoch (events at samples "
            f"{int(arr[:, 0].min())}..{int(arr[:, 0].max())}, recording covers samples "
            f"{raw.first_samp}..{raw.last_samp}, window {tmin}..{tmax} s, reject={reject}); "
            "check that the events belong to this recording"
        )
    if resample is not None:
        epochs.resample(resample, verbose="error")
    _check_finite(epochs.get_data(copy=False), epochs.ch_names, path)
    ids = None
    if stimulus_ids is not None:
        ids = np.asarray(stimulus_ids)[epochs.selection]
    return TrialData.from_epochs(
        epochs,
        subject=subject,
        modality=modality or sensor_modality(epochs.get_channel_types()),
        stimulus_ids=ids,
    )


def _epochs(raw, arr, event_id, tmin, tmax, baseline, picks, reject, meta):
    import mne

    return mne.Epochs(
        raw,
        arr,
        event_id=event_id,
        tmin=tmin,
        tmax=tmax,
        baseline=baseline,
        picks=picks,
        reject=reject,
        proj=False,
        metadata=meta,
        preload=True,
        event_repeated="drop",
        on_missing="ignore",
        verbose="error",
    )


def _check_finite(data: np.ndarray, ch_names, path) -> None:
    """Raise :class:`DataError` naming the channels of ``data`` (n, n_ch, n_times) with NaNs."""
    bad = np.isnan(data).any(axis=(0, 2))
    if bad.any():
        names = [ch_names[i] for i in np.flatnonzero(bad)]
        raise DataError(
            f"{path}: NaN values in channels {names[:10]} ({len(names)} channels); "
            "mark them bad or interpolate them before loading"
        )


def _event_metadata(arr, raw, metadata, stimulus_ids, path) -> pd.DataFrame:
    n = len(arr)
    for name, value in (("metadata", metadata), ("stimulus_ids", stimulus_ids)):
        if value is not None and len(value) != n:
            raise DataError(
                f"{path}: {name} has {len(value)} rows for {n} selected events; give one "
                "row per event of event_id, in time order"
            )
    meta = (
        pd.DataFrame(index=pd.RangeIndex(n))
        if metadata is None
        else (metadata.reset_index(drop=True).copy())
    )
    if "onset" not in meta:
        meta["onset"] = (arr[:, 0] - raw.first_samp) / raw.info["sfreq"]
    if "event_code" not in meta:
        meta["event_code"] = arr[:, 2]
    return meta


def sensor_modality(ch_types) -> str:
    """The modality with the most channels among MEG (mag + grad), EEG, SEEG and ECoG."""
    counts = {
        "meg": sum(t in ("mag", "grad") for t in ch_types),
        **{k: sum(t == k for t in ch_types) for k in ("eeg", "seeg", "ecog")},
    }
    best = max(_SENSOR_KINDS, key=lambda k: counts[k])
    if counts[best] == 0:
        raise DataError(f"no MEG/EEG/SEEG/ECoG channels among types {sorted(set(ch_types))}")
    return best


# --------------------------------------------------------------------------- FIF files
def write_epochs(data: TrialData, path: str | os.PathLike) -> Path:
    """Save sensor trials as an MNE epochs FIF (``*-epo.fif``), atomically, with MNE's writer.

    The whole ``mne.Info`` travels (see :meth:`TrialData.to_epochs`); labels become the event
    names, and ``stimulus_ids`` a ``stimulus_id`` metadata column. :func:`read_epochs` reads
    it back.
    """
    path = Path(path)
    if not path.name.endswith(("-epo.fif", "_epo.fif", "-epo.fif.gz", "_epo.fif.gz")):
        raise DataError(f"{path}: MNE epochs files end in -epo.fif or _epo.fif")
    epochs = data.to_epochs()
    if data.stimulus_ids is not None:
        epochs.metadata["stimulus_id"] = data.stimulus_ids
    with _staged_files(path) as tmp:
        epochs.save(tmp, overwrite=True, split_size="2GB", verbose="error")
    return path


def read_epochs(path: str | os.PathLike, subject: str, modality: str | None = None) -> TrialData:
    """Read an MNE epochs FIF into :class:`TrialData` (labels from the event names,
    ``stimulus_ids`` from a ``stimulus_id`` metadata column); errors name the file."""
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: epochs file not found")
    with reading(path, "MNE epochs file"):
        epochs = mne.read_epochs(path, preload=True, proj=False, verbose="warning")
    ids = None
    if epochs.metadata is not None and "stimulus_id" in epochs.metadata:
        ids = epochs.metadata["stimulus_id"].to_numpy()
        with mne.utils.use_log_level("error"):
            epochs.metadata = epochs.metadata.drop(columns="stimulus_id")
    return TrialData.from_epochs(
        epochs, subject=subject, stimulus_ids=ids,
        modality=modality or sensor_modality(epochs.get_channel_types()),
    )  # fmt: skip


def load_evoked(path: str | os.PathLike, subject: str, baseline=None, picks=None) -> TrialData:
    """Every evoked response of an ``-ave.fif`` file as one trial each (``y`` = its comment).

    ``metadata`` has ``nave`` (number of averaged epochs); the whole ``mne.Info`` is kept.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: evoked file not found")
    with reading(path, "MNE evoked file"):
        evokeds = mne.read_evokeds(path, baseline=baseline, proj=False, verbose="warning")
    picks = "data" if picks is None else picks
    evokeds = [e.pick(picks) for e in evokeds]
    first = evokeds[0]
    X = np.stack([e.data for e in evokeds])
    td = TrialData(
        X=X, subject=subject, modality=sensor_modality(first.get_channel_types()),
        y=np.array([e.comment for e in evokeds]),
        metadata=pd.DataFrame({"nave": [e.nave for e in evokeds]}),
        info=dict(sfreq=float(first.info["sfreq"]), ch_names=list(first.ch_names),
                  ch_types=list(first.get_channel_types()),
                  ch_pos=np.array([ch["loc"][:3] for ch in first.info["chs"]]),
                  tmin=float(first.tmin), mne_info=first.info.copy()),
    )  # fmt: skip
    return td


def read_noise_cov(path: str | os.PathLike):
    """An MNE noise covariance (``-cov.fif``); errors name the file."""
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: covariance file not found")
    with reading(path, "MNE covariance file"):
        return mne.read_cov(path, verbose="warning")


def read_events(path: str | os.PathLike) -> np.ndarray:
    """An MNE events file (``-eve.fif`` or text ``.eve``) as an (n, 3) array; errors name it."""
    import mne

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: events file not found")
    with reading(path, "MNE events file"):
        return mne.read_events(path, verbose="warning")
