"""Loader for ROI time series in the ABIDE-PCP layout → connectivity :class:`TrialData`.

Layout: one text file per participant, ``<directory>/<id>_rois_<atlas>.1D``, whitespace
separated, one row per time point and one column per ROI, optionally preceded by a header
line of ROI names each starting with ``#`` (e.g. ``#2001 #2002 ...``); plus a phenotypic CSV
with one row per participant whose ``id_column`` holds ``<id>`` (ABIDE-PCP: ``FILE_ID``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.confounds.connectivity import connectivity_matrices, upper_triangle
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

MISSING_IDS = ("", "no_filename", "nan")


def roi_file(directory: str | Path, participant_id: str, atlas: str) -> Path:
    """Path of one participant's ROI time series file."""
    return Path(directory) / f"{participant_id}_rois_{atlas}.1D"


def read_roi_timeseries(path: str | Path) -> tuple[list[str] | None, np.ndarray]:
    """Read one ``.1D`` file.

    Returns
    -------
    roi_names : list of str or None
        Names from the ``#`` header line (without the ``#``), None when there is no header.
    timeseries : array, shape (n_times, n_rois)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: ROI time series file not found")
    with path.open() as f:
        first = f.readline()
    names = None
    if first.lstrip().startswith("#"):
        names = [tok.lstrip("#") for tok in first.split()]
    try:
        data = np.loadtxt(path, comments="#", ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise DataError(f"{path}: not a whitespace-separated numeric table ({err})") from None
    if data.size == 0:
        raise DataError(f"{path}: no time points")
    if names is not None and len(names) != data.shape[1]:
        raise DataError(
            f"{path}: header names {len(names)} ROIs but rows have {data.shape[1]} columns"
        )
    if not np.isfinite(data).all():
        rows = np.flatnonzero(~np.isfinite(data).all(axis=1))
        raise DataError(
            f"{path}: NaN or infinite values in time points {rows[:10].tolist()}; "
            "re-extract the ROI signals or exclude this participant"
        )
    return names, data


def load_roi_connectivity(
    directory: str | Path,
    phenotypic: str | Path,
    atlas: str,
    id_column: str = "FILE_ID",
    n_rois: int | None = None,
    kind: str = "correlation",
    shrinkage: bool = False,
    zero_variance: str = "raise",
    missing: str = "raise",
    subject: str = "group",
) -> TrialData:
    """Connectivity edges of all participants listed in a phenotypic table.

    Parameters
    ----------
    directory : path
        Folder holding ``<id>_rois_<atlas>.1D`` files.
    phenotypic : path
        CSV with one row per participant (demographics, diagnosis...).
    atlas : str
        Atlas name in the file names, e.g. ``"cc200"``, ``"power264"``.
    id_column : str
        Column of ``phenotypic`` holding the ``<id>`` part of the file names.
    n_rois : int, optional
        Expected number of ROIs; by default taken from the first file, all must agree.
    kind, shrinkage
        Passed to :func:`neurodecode.confounds.connectivity.connectivity_matrices`.
    zero_variance : {"raise", "zero", "drop"}
        ROIs whose time series is constant in some participant (outside the field of view):
        raise; give them zero connectivity in those participants (``"zero"``); or drop every
        such ROI from all participants (``"drop"``: fewer edges, the same for everyone; the
        dropped ROIs are listed in ``info["dropped_rois"]``).
    missing : {"raise", "skip"}
        Participants whose id is empty/``no_filename`` or whose file is absent: raise, or
        leave them out (their ids are listed in ``info["skipped"]``).
    subject : str
        Name of the returned group.

    Returns
    -------
    TrialData
        ``modality="fc"``, ``X`` of shape ``(n_participants, n_rois * (n_rois - 1) / 2)``
        (strict upper triangles, row-major), ``metadata`` = the phenotypic rows kept,
        ``info`` with ``atlas``, ``roi_names``, ``n_rois``, ``kind``, ``skipped``.
    """
    phenotypic = Path(phenotypic)
    if not phenotypic.is_file():
        raise DataError(f"{phenotypic}: phenotypic CSV not found")
    if missing not in ("raise", "skip"):
        raise DataError(f"missing must be 'raise' or 'skip', got {missing!r}")
    if zero_variance not in ("raise", "zero", "drop"):
        raise DataError(f"zero_variance must be 'raise', 'zero' or 'drop', got {zero_variance!r}")
    table = pd.read_csv(phenotypic)
    if id_column not in table:
        raise DataError(
            f"{phenotypic}: no column {id_column!r}; columns are {list(table.columns)}; "
            "choose the column holding the file-name ids (--id-column on the command line, "
            "id_column= in Python)"
        )
    ids = table[id_column].astype(str).str.strip()
    duplicated = sorted(set(ids[ids.duplicated() & ~ids.isin(MISSING_IDS)]))
    if duplicated:
        raise DataError(f"{phenotypic}: column {id_column!r} repeats ids {duplicated[:5]}; "
                        "one row per participant is expected")
    found = sorted(Path(directory).glob(f"*_rois_{atlas}.1D"))
    if not any(roi_file(directory, pid, atlas).is_file() for pid in ids):
        examples = [p.name for p in found[:3]]
        raise DataError(
            f"no participant of {phenotypic} (column {id_column!r}, e.g. "
            f"{ids.head(3).tolist()}) has a file <id>_rois_{atlas}.1D in {directory}; "
            f"files there: {len(found)} for atlas {atlas!r}, e.g. {examples}. Check "
            "--atlas and --id-column (ABIDE-PCP file names use FILE_ID, not SUB_ID)"
        )
    keep, skipped, series = [], [], []
    names = None
    for row, pid in enumerate(ids):
        path = roi_file(directory, pid, atlas)
        if pid in MISSING_IDS or not path.is_file():
            if missing == "raise":
                raise DataError(
                    f"{path}: ROI time series file not found for participant {pid!r} "
                    f"(row {row} of {phenotypic}); leave such participants out with "
                    "--missing skip (missing='skip' in Python)"
                )
            skipped.append(pid)
            continue
        file_names, ts = read_roi_timeseries(path)
        expected = n_rois if n_rois is not None else (series[0].shape[1] if series else None)
        if expected is not None and ts.shape[1] != expected:
            raise DataError(
                f"{path}: {ts.shape[1]} ROIs, expected {expected} (atlas {atlas!r}); "
                "all participants must be extracted with the same atlas"
            )
        names = names or file_names
        keep.append(row)
        series.append(ts)
    if not series:
        raise DataError(f"no ROI time series found in {directory} for atlas {atlas!r}")
    n = series[0].shape[1]
    names = names or [str(i) for i in range(n)]
    dropped: list[str] = []
    if zero_variance == "drop":
        constant = np.any([np.ptp(ts, axis=0) == 0 for ts in series], axis=0)
        if constant.all():
            raise DataError(f"every ROI is constant in some participant of {directory}")
        dropped = [names[r] for r in np.flatnonzero(constant)]
        series = [ts[:, ~constant] for ts in series]
        names = [nm for nm, c in zip(names, constant, strict=True) if not c]
        n = len(names)
    matrices = connectivity_matrices(
        series, kind=kind, shrinkage=shrinkage,
        zero_variance="zero" if zero_variance == "zero" else "raise",
        names=[ids.iloc[r] for r in keep],
    )
    return TrialData(
        X=upper_triangle(matrices),
        subject=subject,
        modality="fc",
        metadata=table.iloc[keep].reset_index(drop=True),
        info=dict(
            atlas=atlas,
            roi_names=names,
            n_rois=n,
            kind=kind,
            skipped=skipped,
            dropped_rois=dropped,
        ),
    )


def check_demographics(table: pd.DataFrame, continuous=(), categorical=(),
                       missing: str = "raise", source: str = "phenotypic table",
                       max_levels: float = 0.5, ids=None) -> np.ndarray:
    """Validate declared demographic columns of a phenotypic table.

    Parameters
    ----------
    table : DataFrame
    continuous, categorical : sequences of str
        Declared columns (a column may not be both).
    missing : {"raise", "skip"}
        Rows with an empty value in a declared column: raise, or mark them to be left out.
        (Numeric missing-value codes such as ABIDE's ``-9999`` are values: replace them by
        empty cells first.) Non-numeric text in a continuous column always raises.
    source : str
        Name of the table in messages.
    max_levels : float
        A categorical column with more levels than this fraction of the rows is refused (a
        continuous column declared categorical, e.g. age).
    ids : sequence, optional
        Participant ids, to name the participants lacking a value (default: row numbers).

    Returns
    -------
    keep : boolean array (n_rows,), rows with every declared value present
    """
    continuous, categorical = list(continuous), list(categorical)
    both = sorted(set(continuous) & set(categorical))
    if both:
        raise DataError(f"{both} declared both continuous and categorical; choose one")
    if not continuous and not categorical:
        raise DataError("declare at least one demographic column (--continuous/--categorical)")
    absent = [c for c in continuous + categorical if c not in table.columns]
    if absent:
        raise DataError(f"{source} has no column(s) {absent}; columns are {list(table.columns)}")
    keep = np.ones(len(table), bool)
    for col in continuous:
        raw = table[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad_text = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad_text.any():
            examples = sorted(set(raw[bad_text].astype(str)))[:5]
            raise DataError(f"{source}: continuous column {col!r} has non-numeric values "
                            f"{examples}; declare it --categorical if it is a category")
        keep &= values.notna().to_numpy()
    for col in categorical:
        values = table[col]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        keep &= ~blank.to_numpy()
        n_levels = values[~blank].nunique()
        if n_levels > max(2, max_levels * (~blank).sum()):
            raise DataError(f"{source}: categorical column {col!r} has {n_levels} levels for "
                            f"{int((~blank).sum())} participants; declare it --continuous if "
                            "it is a number")
        if n_levels < 2:
            raise DataError(f"{source}: categorical column {col!r} has a single level")
    if not keep.all() and missing == "raise":
        rows = np.flatnonzero(~keep)
        named = (f"participants {np.asarray(ids)[rows][:10].tolist()}" if ids is not None
                 else f"rows {rows[:10].tolist()}")
        raise DataError(f"{source}: {len(rows)} participants lack a value of "
                        f"{continuous + categorical} ({named}); leave them "
                        "out with --missing skip (missing='skip' in Python)")
    return keep
