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
    kind, shrinkage, zero_variance
        Passed to :func:`neurodecode.confounds.connectivity.connectivity_matrices`.
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
    table = pd.read_csv(phenotypic)
    if id_column not in table:
        raise DataError(
            f"{phenotypic}: no column {id_column!r}; columns are {list(table.columns)}; "
            "pass id_column= the column holding the file-name ids"
        )
    ids = table[id_column].astype(str).str.strip()
    keep, skipped, series = [], [], []
    names = None
    for row, pid in enumerate(ids):
        path = roi_file(directory, pid, atlas)
        if pid in MISSING_IDS or not path.is_file():
            if missing == "raise":
                raise DataError(
                    f"{path}: ROI time series file not found for participant {pid!r} "
                    f"(row {row} of {phenotypic}); pass missing='skip' to leave it out"
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
    matrices = connectivity_matrices(
        series, kind=kind, shrinkage=shrinkage, zero_variance=zero_variance,
        names=[ids.iloc[r] for r in keep],
    )
    n = series[0].shape[1]
    return TrialData(
        X=upper_triangle(matrices),
        subject=subject,
        modality="fc",
        metadata=table.iloc[keep].reset_index(drop=True),
        info=dict(
            atlas=atlas,
            roi_names=names or [str(i) for i in range(n)],
            n_rois=n,
            kind=kind,
            skipped=skipped,
        ),
    )
