"""NSD-style HDF5 single-trial betas: one file per scan session plus a trial table.

The Natural Scenes Dataset (Allen et al., 2022, Nat. Neurosci. 25:116) ships betas as
``betas_sessionNN.hdf5`` files whose dataset ``/betas`` holds int16 values equal to percent
signal change x 300, 750 trials per session (written by MATLAB as X x Y x Z x 750, which
h5py sees as ``(750, Z, Y, X)``), and a behavioural table (``responses.tsv``: SESSION, RUN,
TRIAL, 73KID, ...) listing the trials of each session in order.

neurodecode writes the same family, reduced to the voxels of a mask::

    out_dir/
      betas_session01.hdf5   /betas int16 (n_trials_in_session, n_voxels), attrs scale, subject
      betas_session02.hdf5   ...
      trials.tsv             session, trial (1-based within session), stimulus_id,
                             repetition (0-based), split, y, other metadata
      mask.nii.gz            the 3-D mask whose voxels (C order) are the columns
      roi-<name>.nii.gz      (optional) ROI masks on the same grid, non-zero inside, as NSD
                             ships its ROIs; read into ``info["rois"][<name>]`` (bool per
                             column; ROI voxels outside mask.nii.gz are ignored)

Row-major storage makes a subset of trials a read of only those rows.
:func:`load_nsd_betas` also reads real NSD volume files (4-D ``/betas``) with an ROI mask
such as ``nsdgeneral`` and NSD's ``responses.tsv``. Nothing is read until ``X`` is indexed:
``X`` is a :class:`HDF5Betas`, a lazy array that opens the session files on access.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path
from neurodecode.data.containers import TrialData, take_rows
from neurodecode.data.fmri import (
    _check_grid,
    _load_mask,
    fmri_info,
    read_roi_masks,
    read_table,
    roi_images,
    split_trial_table,
    trial_table,
    write_table,
)
from neurodecode.errors import DataError

SCALE = 300.0
"""int16 value = percent signal change x SCALE (NSD's convention)."""
DATASET = "betas"
TRIAL_TABLE = "trials.tsv"
MASK_FILE = "mask.nii.gz"
TRIALS_PER_SESSION = 750
_SESSION_FILE = re.compile(r"betas_session(\d+)\.hdf5$")
_READ_BYTES = 16 * 2**20  # largest block read from a file at once


def session_file(session: int) -> str:
    """File name of a session, e.g. ``betas_session01.hdf5``."""
    return f"betas_session{int(session):02d}.hdf5"


class _LazyRows:
    """Array-like ``(n_trials, n_voxels)`` float32 view over session files; subclasses read
    the requested rows (absolute trial numbers, ``self.rows``) in ``_read``."""

    dtype = np.dtype(np.float32)
    ndim = 2
    rows: np.ndarray
    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        cols = slice(None)
        if isinstance(key, tuple):
            key, cols = key[0], key[1] if len(key) > 1 else slice(None)
        rows = self.rows[key]
        out = self._read(np.atleast_1d(rows))[:, cols]
        return out[0] if np.ndim(rows) == 0 else out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self._read(self.rows)
        return out if dtype is None else out.astype(dtype, copy=False)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class HDF5Betas(_LazyRows):
    """Lazy ``(n_trials, n_voxels)`` float32 view of NSD-style session files.

    Rows are trials (in session-file order, or any subset/permutation of them); columns are
    voxels. Indexing with an int, slice, index array or boolean mask reads only the requested
    rows (sorted, in contiguous runs, at most ~16 MB per read) and returns a float32 array
    in percent signal change (stored integers / scale). ``np.asarray(x)`` reads everything.
    :meth:`take` returns a smaller lazy view without reading.

    Parameters
    ----------
    files : sequence of path
        Session files, in order.
    counts : sequence of int
        Rows (trials) of each file.
    rows : array of int, optional
        Positions in the concatenation of all files (default: all, in order).
    voxels : array of int, optional
        Columns to keep: positions in a 2-D file's columns, or flat indices into a 4-D file's
        ``(Z, Y, X)`` volume. Default: all columns of a 2-D file.
    scales : sequence of float
        Divisor of each file's stored values (default 300).
    n_columns : int, optional
        Columns of a 2-D file, when ``voxels`` is None.
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike],
        counts: Sequence[int],
        rows: np.ndarray | None = None,
        voxels: np.ndarray | None = None,
        scales: Sequence[float] | None = None,
        n_columns: int | None = None,
    ):
        self.files = tuple(str(f) for f in files)
        self.counts = np.asarray(counts, dtype=int)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.rows = np.arange(self.offsets[-1]) if rows is None else np.asarray(rows, int)
        self.voxels = None if voxels is None else np.asarray(voxels, dtype=int)
        self.scales = np.full(len(self.files), SCALE) if scales is None else np.asarray(scales)
        n_cols = len(self.voxels) if self.voxels is not None else n_columns
        if n_cols is None:
            raise ValueError("give voxels or n_columns")
        self.shape = (len(self.rows), int(n_cols))

    def __repr__(self) -> str:
        return f"HDF5Betas(shape={self.shape}, files={len(self.files)})"

    def take(self, index) -> HDF5Betas:
        """Lazy view of rows ``index`` (positions, slice or boolean mask); reads nothing."""
        return HDF5Betas(
            self.files, self.counts, self.rows[index], self.voxels, self.scales, self.shape[1]
        )

    def _read(self, rows: np.ndarray) -> np.ndarray:
        import h5py

        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for f in np.unique(which):
            dest = np.flatnonzero(which == f)
            local = rows[dest] - self.offsets[f]
            order = np.argsort(local, kind="stable")
            with h5py.File(self.files[f], "r") as handle:
                ds = handle[DATASET]
                # NSD's volume files are chunked across all trials of a voxel: read ROI slabs.
                slabs = ds.ndim == 4 and ds.chunks is not None and ds.chunks[0] > 1
                fill = self._fill_slabs if slabs else self._fill_rows
                fill(ds, local[order], dest[order], out, f)
        return out

    def _store(self, out, dest, cols, block, f: int, where: str) -> None:
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            raise DataError(f"{self.files[f]}: NaN/inf betas in {where}")
        values = block.astype(np.float32)
        values /= np.float32(self.scales[f])
        if cols is None:
            out[dest] = values
        else:
            out[np.ix_(dest, cols)] = values

    def _fill_rows(self, ds, local, dest, out, f: int) -> None:
        """Read sorted rows in contiguous runs of at most ``_READ_BYTES``."""
        row_bytes = int(np.prod(ds.shape[1:])) * ds.dtype.itemsize
        for start, stop, pos in _runs(local, max(1, _READ_BYTES // row_bytes)):
            block = ds[start:stop].reshape(stop - start, -1)
            if self.voxels is not None:
                block = block[:, self.voxels]
            if len(pos) != stop - start:  # repeated rows
                block = block[local[pos] - start]
            self._store(out, dest[pos], None, block, f, f"rows {start}-{stop}")

    def _fill_slabs(self, ds, local, dest, out, f: int) -> None:
        """Volume files chunked per voxel: read each Z slice's ROI box for all trials."""
        z, y, x = np.unravel_index(self.voxels, ds.shape[1:])
        for k in np.unique(z):
            cols = np.flatnonzero(z == k)
            y0, x0 = y[cols].min(), x[cols].min()
            slab = ds[:, k, y0 : y[cols].max() + 1, x0 : x[cols].max() + 1]
            block = slab[local][:, y[cols] - y0, x[cols] - x0]
            self._store(out, dest, cols, block, f, f"slice z={k}")


def _runs(sorted_rows: np.ndarray, step: int):
    """Contiguous ranges ``(start, stop, positions)`` covering sorted rows, ≤ ``step`` long.

    Repeated rows stay in one range, so a range never spans more rows than positions.
    """
    breaks = np.flatnonzero(np.diff(sorted_rows) > 1) + 1
    for seg in np.split(np.arange(len(sorted_rows)), breaks):
        for first in range(0, len(seg), step):
            pos = seg[first : first + step]
            yield sorted_rows[pos[0]], sorted_rows[pos[-1]] + 1, pos


# ---------------------------------------------------------------------------- writing
def write_nsd_betas(
    data: TrialData,
    out_dir: str | os.PathLike,
    scale: float = SCALE,
    trials_per_session: int = TRIALS_PER_SESSION,
    block_trials: int = 500,
) -> list[Path]:
    """Write fMRI trials as NSD-style session files, a trial table and the mask.

    Parameters
    ----------
    data : TrialData
        fMRI betas (n_trials, n_voxels), with ``info["mask"]`` and ``info["affine"]``. ``X``
        may be any array-like with row indexing (e.g. a memmap); it is read ``block_trials``
        rows at a time.
    out_dir : path
        Folder for ``betas_sessionNN.hdf5``, ``trials.tsv`` and ``mask.nii.gz``. It must not
        hold other ``betas_session*.hdf5`` files.
    scale : float
        Stored int16 = round(beta x scale); NSD uses 300 for percent signal change. Values
        beyond the int16 range raise :class:`DataError`.
    trials_per_session : int
        Used when ``metadata`` has no ``session`` column: consecutive blocks of trials
        become sessions 1, 2, ...
    block_trials : int
        Rows converted and written at a time (bounds memory).

    Returns
    -------
    list of Path
        Session files, then the trial table, the mask and one ``roi-<name>.nii.gz`` per
        ROI of ``info["rois"]`` (bool per column). Trials are stored grouped by
        session (stable order within a session), which is the order
        :func:`load_nsd_betas` returns. All files appear together or not at all.
    """
    import h5py
    import nibabel as nib

    if data.modality != "fmri":
        raise DataError(f"subject {data.subject}: NSD betas are fMRI, got {data.modality}")
    for key in ("mask", "affine"):
        if key not in data.info:
            raise DataError(f"subject {data.subject}: info lacks {key!r} (needed for mask.nii.gz)")
    mask = np.asarray(data.info["mask"], dtype=bool)
    if int(mask.sum()) != data.n_features:
        raise DataError(
            f"subject {data.subject}: mask has {int(mask.sum())} voxels, data {data.n_features}"
        )
    limit = np.iinfo(np.int16).max / scale
    out = Path(out_dir)
    table = trial_table(data)
    if "session" in table:
        sessions = table["session"].to_numpy()
        if not np.issubdtype(sessions.dtype, np.integer) or sessions.min() < 1:
            raise DataError(f"subject {data.subject}: metadata['session'] must be integers >= 1")
    else:
        sessions = np.arange(data.n_trials) // trials_per_session + 1
    order = np.argsort(sessions, kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    table["session"] = sessions[order]
    table["trial"] = table.groupby("session").cumcount() + 1  # renumbered within session
    if "repetition" not in table and "stimulus_id" in table:
        table["repetition"] = table.groupby("stimulus_id", sort=False).cumcount()
    first = [c for c in ("session", "trial", "stimulus_id", "repetition", "split") if c in table]
    table = table[first + [c for c in table if c not in first]]

    written = {p.name for p in out.glob("betas_session*.hdf5")} if out.is_dir() else set()
    unique = np.unique(sessions)
    stale = written - {session_file(s) for s in unique}
    if stale:
        raise DataError(
            f"{out}: holds other session files {sorted(stale)}; write into an empty folder"
        )
    rois = roi_images(data)  # roi-<name>.nii.gz beside mask.nii.gz (info["rois"])
    paths = [out / session_file(s) for s in unique] + [out / TRIAL_TABLE, out / MASK_FILE]
    paths += [out / name for name in rois]
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p)) for p in paths]
        for img, tmp in zip(rois.values(), tmps[len(paths) - len(rois):], strict=True):
            nib.save(img, tmp)
        tmps = tmps[: len(paths) - len(rois)]
        for s, tmp in zip(unique, tmps[: len(unique)], strict=True):
            idx = order[sessions[order] == s]
            with h5py.File(tmp, "w") as handle:
                ds = handle.create_dataset(DATASET, (len(idx), data.n_features), dtype=np.int16)
                handle.attrs.update(
                    scale=scale, subject=data.subject, session=int(s), layout="trials x voxels"
                )
                for start in range(0, len(idx), block_trials):
                    block = np.asarray(take_rows(data.X, idx[start : start + block_trials]))
                    if not np.isfinite(block).all():
                        raise DataError(f"subject {data.subject}: NaN/inf betas in session {s}")
                    peak = float(np.abs(block).max(initial=0.0))
                    if peak > limit:
                        raise DataError(
                            f"subject {data.subject}: |beta| up to {peak:.4g} exceeds the int16 "
                            f"range at scale {scale:g} (max {limit:.4g}); pass a smaller scale"
                        )
                    ds[start : start + len(block)] = np.rint(block * scale).astype(np.int16)
        write_table(table, tmps[-2])
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), data.info["affine"]), tmps[-1])
    return paths


# ---------------------------------------------------------------------------- reading
def _session_files(source, sessions: Sequence[int] | None) -> tuple[dict[int, Path], Path]:
    """Session number → file, and the folder to look for the trial table and mask in."""
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        folder = Path(source)
        found = sorted(folder.glob("betas_session*.hdf5"))
        if not found:
            raise DataError(f"{folder}: no betas_sessionNN.hdf5 files")
    elif isinstance(source, str | os.PathLike) and not Path(source).suffix:
        raise DataError(f"{source}: betas folder not found")
    else:
        found = [Path(p) for p in ([source] if isinstance(source, str | os.PathLike) else source)]
        if not found:
            raise DataError("no HDF5 betas files given")
        folder = found[0].parent
    files = {}
    for path in found:
        match = _SESSION_FILE.search(path.name)
        if match is None:
            raise DataError(f"{path}: name must be betas_sessionNN.hdf5 (NN the session)")
        if not path.exists():
            raise DataError(f"{path}: HDF5 betas file not found")
        files[int(match.group(1))] = path
    if sessions is not None:
        missing = sorted(set(int(s) for s in sessions) - set(files))
        if missing:
            raise DataError(f"{folder}: no files for session(s) {missing}; found {sorted(files)}")
        files = {s: files[s] for s in sorted(set(int(s) for s in sessions))}
    return dict(sorted(files.items())), folder


def _open_dataset(path: Path, subject: str) -> tuple[tuple, float]:
    """Shape and scale of a file's ``/betas``; checks it is readable and the subject."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if DATASET not in handle:
                raise DataError(f"{path}: no '/{DATASET}' dataset; found {list(handle)}")
            ds = handle[DATASET]
            shape, kind = ds.shape, ds.dtype.kind
            scale = float(handle.attrs.get("scale", SCALE if kind in "iu" else 1.0))
            owner = handle.attrs.get("subject")
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    if len(shape) not in (2, 4):
        raise DataError(
            f"{path}: /{DATASET} must be (trials, voxels) or (trials, Z, Y, X), found {shape}"
        )
    if owner is not None and subject is not None and str(owner) != str(subject):
        raise DataError(f"{path}: holds subject {owner!r}, not {subject!r}")
    return shape, scale


def _nsd_table(table: pd.DataFrame) -> pd.DataFrame:
    """Our trial-table columns from NSD's ``responses.tsv`` (SESSION, RUN, 73KID, ...)."""
    if "73KID" not in table or "SESSION" not in table:
        return table
    out = table.rename(columns={"73KID": "stimulus_id"})
    out.columns = [c.lower() for c in out.columns]
    out = out.drop(columns=[c for c in ("subject", "trial") if c in out])
    out.insert(1, "trial", out.groupby("session").cumcount() + 1)
    return out


def _trial_table(trial_table, folder: Path, files: dict[int, Path], counts: dict) -> pd.DataFrame:
    """Rows of the selected sessions, in file order, checked against the file lengths."""
    if trial_table is None:
        trial_table = folder / TRIAL_TABLE
        if not trial_table.exists():
            raise DataError(
                f"{folder}: no {TRIAL_TABLE}; pass trial_table= (ours or NSD's responses.tsv)"
            )
    table, name = read_table(trial_table, "trial table")
    table = _nsd_table(table)
    if "session" not in table:
        raise DataError(f"{name}: needs a 'session' column; found {list(table.columns)}")
    if "trial" not in table:
        table["trial"] = table.groupby("session").cumcount() + 1
    table = table[table["session"].isin(list(files))]
    table = table.sort_values(["session", "trial"], kind="stable").reset_index(drop=True)
    for s, path in files.items():
        trials = table.loc[table["session"] == s, "trial"].to_numpy()
        if len(trials) != counts[s]:
            raise DataError(
                f"{name}: lists {len(trials)} trials for session {s} but {path} has "
                f"{counts[s]} rows; the table and the betas files do not match"
            )
        if not np.array_equal(trials, np.arange(1, counts[s] + 1)):
            raise DataError(f"{name}: session {s} trials must be numbered 1..{counts[s]}")
    if "repetition" not in table and "stimulus_id" in table:
        table["repetition"] = table.groupby("stimulus_id", sort=False).cumcount()
    return table


def load_nsd_betas(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    subject: str,
    sessions: Sequence[int] | None = None,
    trials: Sequence[int] | np.ndarray | None = None,
    mask: Any = None,
    trial_table: str | os.PathLike | pd.DataFrame | None = None,
) -> TrialData:
    """Lazily load NSD-style HDF5 betas (ours or NSD's own volume files).

    Parameters
    ----------
    source : folder, or list of ``betas_sessionNN.hdf5`` paths
        The folder also holds ``trials.tsv`` and ``mask.nii.gz`` unless given below.
    subject : str
        Checked against the files' ``subject`` attribute when present.
    sessions : sequence of int, optional
        Sessions to load (default all found).
    trials : array of int or bool, optional
        Trials to keep: positions (any order) or a boolean mask over the trials of the
        selected sessions, in (session, trial) order. Nothing is read here either.
    mask : path or nibabel image, optional
        Voxels to return. For our masked files: default the stored ``mask.nii.gz``; a
        smaller mask on the same grid (e.g. an ROI such as ``nsdgeneral``) selects columns.
        For NSD volume files (4-D ``/betas``): required, on the betas' grid.
        ``roi-<name>.nii.gz`` files in the folder (same grid) become ``info["rois"]``, bool
        masks over the returned columns.
    trial_table : DataFrame or TSV/CSV path, optional
        Default ``<folder>/trials.tsv``. NSD's ``responses.tsv`` is accepted (73KID becomes
        ``stimulus_id``; repetitions are counted in trial order).

    Returns
    -------
    TrialData
        ``X`` is a lazy :class:`HDF5Betas` (n_trials, n_voxels) float32 in percent signal
        change (stored int16 / 300); ``select`` and indexing read only the rows asked for.
        ``metadata`` has session, trial (1-based within session), repetition, split... and
        ``info`` affine, mask, voxel_coords, shape.
    """
    files, folder = _session_files(source, sessions)
    shapes, scales = {}, []
    for s, path in files.items():
        shape, scale = _open_dataset(path, subject)
        shapes[s] = shape
        scales.append(scale)
    kinds = {shape[1:] for shape in shapes.values()}
    if len(kinds) != 1:
        raise DataError(f"{folder}: session files disagree on voxels: {sorted(kinds)}")
    (per_trial,) = kinds
    counts = {s: shape[0] for s, shape in shapes.items()}
    table = _trial_table(trial_table, folder, files, counts)

    if len(per_trial) == 3:  # NSD volume files, (Z, Y, X) as h5py sees MATLAB's X, Y, Z
        if mask is None:
            raise DataError(f"{folder}: volume betas need mask= (e.g. the nsdgeneral ROI)")
        mask_img, roi, mask_name = _load_mask(mask)
        if roi.shape != per_trial[::-1]:
            raise DataError(
                f"{mask_name}: mask shape {roi.shape} does not match the betas volume "
                f"{per_trial[::-1]} (X, Y, Z) in {next(iter(files.values()))}"
            )
        i, j, k = np.nonzero(roi)
        voxels = np.ravel_multi_index((k, j, i), per_trial)
    else:
        stored_path = folder / MASK_FILE
        if not stored_path.exists() and mask is None:
            raise DataError(f"{folder}: no {MASK_FILE}; pass mask= (the voxels of the columns)")
        stored_img, stored, stored_name = _load_mask(stored_path if stored_path.exists() else mask)
        if int(stored.sum()) != per_trial[0]:
            raise DataError(
                f"{stored_name}: mask has {int(stored.sum())} voxels but the betas files have "
                f"{per_trial[0]} columns"
            )
        voxels = None
        mask_img, roi, mask_name = stored_img, stored, stored_name
        if mask is not None and stored_path.exists():
            mask_img, roi, mask_name = _load_mask(mask)
            _check_grid(stored_img, stored_name, mask_img, mask_name)
            if (roi & ~stored).any():
                raise DataError(
                    f"{mask_name}: {int((roi & ~stored).sum())} voxels lie outside the stored "
                    f"mask {stored_name}; only stored voxels can be read"
                )
            voxels = (np.cumsum(stored.ravel()) - 1).reshape(stored.shape)[roi]
    rois = read_roi_masks(folder, mask_img, roi, mask_name)  # roi-<name>.nii.gz files
    X = HDF5Betas(
        list(files.values()),
        list(counts.values()),
        voxels=voxels,
        scales=scales,
        n_columns=per_trial[0] if len(per_trial) == 1 else None,
    )
    if trials is not None:
        index = np.asarray(trials)
        if index.dtype == bool and index.shape != (len(table),):
            raise DataError(f"boolean trials mask of length {len(index)} for {len(table)} trials")
        out_of_range = index.dtype != bool and len(index) and index.max() >= len(table)
        if out_of_range or (index.dtype != bool and len(index) and index.min() < 0):
            raise DataError(
                f"trial positions must be in 0..{len(table) - 1} (the selected sessions)"
            )
        X = X.take(index)
        table = table.iloc[index].reset_index(drop=True)
    return TrialData(
        X=X,
        subject=subject,
        modality="fmri",
        info={**fmri_info(roi, mask_img.affine), **({"rois": rois} if rois else {})},
        **split_trial_table(table),
    )


# ---------------------------------------------------------------------------- NSD's layout
#: Paths of NSD's release (Allen et al. 2022; the AWS bucket ``natural-scenes-dataset``).
NSD_EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
NSD_STIMULI = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
NSD_BETAS = "nsddata_betas/ppdata/subj{subject:02d}/{space}/{betas}"
NSD_ROI = "nsddata/ppdata/subj{subject:02d}/{space}/roi/{roi}.nii.gz"
NSD_SHARED = 1000  # the first 1000 of each subject's 10,000 images are the shared ones


def is_nsd_layout(root: str | os.PathLike) -> bool:
    """True when ``root`` holds NSD's experiment design file at its published path."""
    return (Path(root) / NSD_EXPDESIGN).is_file()


def read_nsd_expdesign(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``nsd_expdesign.mat``: ``masterordering`` (30,000 trials → image 1..10,000),
    ``subjectim`` (8 x 10,000 subject images → 73k ids, 1-based) and ``sharedix`` (the
    shared 1000 73k ids), as integer arrays."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: NSD experiment design file not found")
    try:
        mat = loadmat(path)
    except Exception as err:  # scipy raises several types for unreadable files
        raise DataError(f"{path}: not a readable MATLAB file ({err})") from None
    missing = [k for k in ("masterordering", "subjectim", "sharedix") if k not in mat]
    if missing:
        raise DataError(f"{path}: lacks {missing}; is this NSD's nsd_expdesign.mat?")
    return {k: np.asarray(mat[k]).astype(np.int64) for k in ("masterordering", "subjectim",
                                                               "sharedix")}


def nsd_trial_table(design: dict[str, np.ndarray], subject: int, sessions: Sequence[int],
                    trials_per_session: int = TRIALS_PER_SESSION) -> pd.DataFrame:
    """One row per trial of ``sessions``: session, trial (1-based), stimulus_id (73k id,
    1-based as NSD's ``73KID``), repetition (0-based, counted over *all* sessions in
    presentation order) and split (``test`` for the shared 1000 images)."""
    order = design["masterordering"].ravel()
    subjectim = design["subjectim"]
    if not 1 <= subject <= subjectim.shape[0]:
        raise DataError(f"NSD subject {subject} not in 1..{subjectim.shape[0]}")
    ids = subjectim[subject - 1, order - 1]
    shared = set(design["sharedix"].ravel().tolist())
    seen: dict[int, int] = {}
    repetition = np.empty(len(ids), dtype=int)
    for t, i in enumerate(ids.tolist()):
        repetition[t] = seen.get(i, 0)
        seen[i] = repetition[t] + 1
    rows = []
    for s in sessions:
        lo, hi = (s - 1) * trials_per_session, s * trials_per_session
        if hi > len(ids):
            raise DataError(f"NSD session {s}: the design lists only {len(ids)} trials")
        for t in range(lo, hi):
            rows.append((s, t - lo + 1, int(ids[t]), int(repetition[t]),
                         "test" if int(ids[t]) in shared else "train"))
    return pd.DataFrame(rows, columns=["session", "trial", "stimulus_id", "repetition", "split"])


class HDF5Images:
    """Lazy images of ``nsd_stimuli.hdf5`` (``/imgBrick``, (73000, 425, 425, 3) uint8).

    ``rows`` are positions in the brick; indexing reads only those images.
    """

    def __init__(self, path: str | os.PathLike, rows: np.ndarray, dataset: str = "imgBrick"):
        self.path, self.rows, self.dataset = Path(path), np.asarray(rows, dtype=int), dataset

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.read([i])[0]

    def subset(self, pos) -> HDF5Images:
        return HDF5Images(self.path, self.rows[np.asarray(pos, dtype=int)], self.dataset)

    def read(self, pos) -> np.ndarray:
        """Images at positions ``pos`` as uint8 (n, H, W, 3), read in sorted order."""
        import h5py

        rows = self.rows[np.asarray(pos, dtype=int)]
        unique, inverse = np.unique(rows, return_inverse=True)
        try:
            with h5py.File(self.path, "r") as handle:
                if self.dataset not in handle:
                    raise DataError(f"{self.path}: no '/{self.dataset}'; found {list(handle)}")
                block = handle[self.dataset][unique.tolist()]
        except OSError as err:
            raise DataError(f"{self.path}: not a readable HDF5 file ({err})") from None
        return np.asarray(block, dtype=np.uint8)[inverse]


class NiftiBetas(_LazyRows):
    """Lazy ``(n_trials, n_voxels)`` float32 view of NSD's NIfTI session betas
    (``betas_sessionNN.nii.gz``, X x Y x Z x 750 int16 = percent signal change x 300).

    Rows are read one volume at a time in increasing order (a compressed file is decompressed
    once, forward), so memory holds one volume plus the selected rows' ROI voxels.
    """

    def __init__(self, files, counts, mask: np.ndarray, rows=None, scale: float = SCALE):
        self.files = tuple(str(f) for f in files)
        self.counts = np.asarray(counts, dtype=int)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.rows = np.arange(self.offsets[-1]) if rows is None else np.asarray(rows, int)
        self.mask = np.asarray(mask, dtype=bool)
        self.scale = scale
        self.shape = (len(self.rows), int(self.mask.sum()))

    def take(self, index) -> NiftiBetas:
        return NiftiBetas(self.files, self.counts, self.mask, self.rows[index], self.scale)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        import nibabel as nib

        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for f in np.unique(which):
            dest = np.flatnonzero(which == f)
            local = rows[dest] - self.offsets[f]
            order = np.argsort(local, kind="stable")
            t = -1
            try:
                img = nib.load(self.files[f], keep_file_open=True)
                for d, t in zip(dest[order], local[order], strict=True):
                    vol = np.asarray(img.dataobj[..., int(t)])
                    out[d] = vol[self.mask].astype(np.float32) / np.float32(self.scale)
            except DataError:
                raise
            except Exception as err:  # nibabel/gzip raise several types on cut files
                raise DataError(
                    f"{self.files[f]}: cannot read (volume {int(t)}; {type(err).__name__}: "
                    f"{err}); the file may be truncated"
                ) from None
        return out


def _nsd_roi(root: Path, subject: int, space: str, roi: str | os.PathLike | None):
    import nibabel as nib

    if roi is None:
        return None
    path = Path(roi) if Path(str(roi)).suffix else root / NSD_ROI.format(
        subject=subject, space=space, roi=roi)
    img, values, name = _load_mask_values(path)
    # NSD ROI files: -1 outside the brain, 0 outside the ROI, 1.. inside (labels)
    mask = values > 0
    if not mask.any():
        raise DataError(f"{name}: ROI selects no voxels (values > 0)")
    return nib.Nifti1Image(mask.astype(np.uint8), img.affine)


def _load_mask_values(path: Path):
    from neurodecode.data.fmri import _load_img

    img, name = _load_img(path, "ROI", 3)
    return img, np.asarray(img.dataobj), name


def _nsd_named_rois(root: Path, subject: int, space: str, rois: dict, data: TrialData
                    ) -> TrialData:
    """``info["rois"]`` from NSD ROI files: name → ``"<file>"`` (values > 0) or
    ``"<file>:<label>,<label>"`` (those integer labels), ``<file>`` an NSD ROI name such as
    ``streams`` or ``prf-visualrois`` (looked up under ``roi/``) or a NIfTI path."""
    from dataclasses import replace

    from neurodecode.data.fmri import _check_grid

    mask = np.asarray(data.info["mask"], dtype=bool)
    grid = _nib_like(mask, data.info["affine"])
    out = {}
    for name, spec in rois.items():
        file, _, labels = str(spec).partition(":")
        path = Path(file) if Path(file).suffix else root / NSD_ROI.format(
            subject=subject, space=space, roi=file)
        img, values, label = _load_mask_values(path)
        if tuple(img.shape) != mask.shape:
            raise DataError(f"{label}: ROI mask shape {tuple(img.shape)} does not match the "
                            f"betas' voxel grid {mask.shape} (ROI {name!r})")
        _check_grid(grid, "the betas' grid", img, label)
        try:
            wanted = [int(x) for x in labels.split(",")] if labels else None
        except ValueError:
            raise DataError(f"ROI {name!r}: {spec!r} must be <file> or <file>:<label>,<label> "
                            "with integer labels") from None
        keep = np.isin(values, wanted) if wanted else values > 0
        out[name] = keep[mask]
    return replace(data, info={**data.info, "rois": {**data.info.get("rois", {}), **out}})


def _nib_like(mask: np.ndarray, affine: np.ndarray):
    import nibabel as nib

    return nib.Nifti1Image(mask.astype(np.uint8), np.asarray(affine, float))


def load_nsd_subject(
    root: str | os.PathLike,
    subject: int | str,
    sessions: Sequence[int] | None = None,
    roi: str | os.PathLike | None = "nsdgeneral",
    space: str = "func1pt8mm",
    betas: str = "betas_fithrf_GLMdenoise_RR",
    design: dict | None = None,
    rois: dict[str, str] | None = None,
) -> TrialData:
    """One subject of NSD as released (``root`` is the folder holding ``nsddata/``,
    ``nsddata_betas/`` and ``nsddata_stimuli/``).

    Betas come from ``nsddata_betas/ppdata/subjNN/<space>/<betas>/betas_sessionNN.hdf5`` (or
    ``.nii.gz`` when no HDF5 is there), masked by the ROI
    ``nsddata/ppdata/subjNN/<space>/roi/<roi>.nii.gz`` (values > 0; a path also works); the
    trial table comes from ``nsd_expdesign.mat`` (stimulus_id = 73k id, 1-based; split test =
    the shared 1000; repetition counted over all sessions). ``X`` is lazy: nothing is read
    until rows are indexed, and only the ROI's voxels of those rows are kept.

    ``rois`` names further ROIs for ``info["rois"]`` (bool per column), e.g. Takagi &
    Nishimoto's (CVPR 2023) ``{"early": "streams:1", "higher": "streams:5,6,7"}`` from NSD's
    ``streams`` labels (1 early, 5 ventral, 6 lateral, 7 parietal); a value is an NSD ROI
    file name or a NIfTI path, optionally ``:labels`` (default: values > 0).
    """
    root = Path(root)
    s = int(str(subject).removeprefix("subj").removeprefix("sub-"))
    design = design or read_nsd_expdesign(root / NSD_EXPDESIGN)
    folder = root / NSD_BETAS.format(subject=s, space=space, betas=betas)
    if not folder.is_dir():
        raise DataError(f"{folder}: NSD betas folder of subject {s} not found")
    h5 = {int(m.group(1)): p for p in folder.glob("betas_session*.hdf5")
          if (m := _SESSION_FILE.search(p.name))}
    nii = {int(m.group(1)): p for p in folder.glob("betas_session*.nii*")
           if (m := re.search(r"betas_session(\d+)\.nii(\.gz)?$", p.name))}
    found = h5 or nii
    if not found:
        raise DataError(f"{folder}: no betas_sessionNN.hdf5 or .nii.gz files")
    wanted = sorted(found) if sessions is None else sorted(int(x) for x in sessions)
    missing = [x for x in wanted if x not in found]
    if missing:
        raise DataError(f"{folder}: no files for session(s) {missing}; found {sorted(found)}")
    per_session = _session_length(found[wanted[0]])  # 750 in NSD; smaller test folders
    table = nsd_trial_table(design, s, wanted, per_session)
    roi_img = _nsd_roi(root, s, space, roi)
    if h5:
        data = load_nsd_betas([found[x] for x in wanted], subject=str(s), mask=roi_img,
                              trial_table=table)
        return _nsd_named_rois(root, s, space, rois, data) if rois else data
    import nibabel as nib

    first = nib.load(found[wanted[0]])
    if roi_img is None:
        raise DataError(f"{folder}: NIfTI betas need an ROI (roi='nsdgeneral' or a path)")
    _check_grid(roi_img, f"ROI {roi}", first.slicer[..., 0], str(found[wanted[0]]))
    counts = []
    for x in wanted:
        shape = nib.load(found[x]).shape
        if len(shape) != 4 or shape[:3] != first.shape[:3]:
            raise DataError(f"{found[x]}: betas must be X x Y x Z x trials like "
                            f"{found[wanted[0]]}, found {shape}")
        if shape[3] != (table["session"] == x).sum():
            raise DataError(f"{found[x]}: {shape[3]} volumes, the design lists "
                            f"{int((table['session'] == x).sum())} trials for session {x}")
        counts.append(shape[3])
    mask = np.asarray(roi_img.dataobj) > 0
    X = NiftiBetas([found[x] for x in wanted], counts, mask)
    data = TrialData(X=X, subject=str(s), modality="fmri", info=fmri_info(mask, roi_img.affine),
                     **split_trial_table(table))
    return _nsd_named_rois(root, s, space, rois, data) if rois else data


def _session_length(path: Path) -> int:
    """Trials in one session file (HDF5 ``/betas`` rows or the NIfTI's 4th axis)."""
    if path.suffix == ".hdf5":
        return int(_open_dataset(path, subject=None)[0][0])
    import nibabel as nib

    try:
        shape = nib.load(path).shape
    except Exception as err:  # nibabel raises several types for unreadable files
        raise DataError(f"{path}: cannot read as NIfTI ({err})") from None
    if len(shape) != 4:
        raise DataError(f"{path}: NSD betas must be 4-D (X, Y, Z, trials), found {shape}")
    return int(shape[3])


def nsd_stimuli(root: str | os.PathLike, ids: np.ndarray):
    """A :class:`StimulusSet` of the 73k ids ``ids`` (1-based) whose images are read lazily
    from ``nsd_stimuli.hdf5`` (row = id - 1)."""
    from neurodecode.data.containers import StimulusSet

    path = Path(root) / NSD_STIMULI
    if not path.exists():
        raise DataError(f"{path}: NSD stimuli file not found (images are needed for targets)")
    ids = np.unique(np.asarray(ids, dtype=int))
    return StimulusSet(ids=ids, images=HDF5Images(path, ids - 1))


def write_nsd_layout(root: str | os.PathLike, betas: dict[int, list[np.ndarray]],
                     affine: np.ndarray, roi: np.ndarray, images: np.ndarray,
                     masterordering: np.ndarray, subjectim: np.ndarray, sharedix: np.ndarray,
                     fmt: str = "hdf5", space: str = "func1pt8mm",
                     name: str = "betas_fithrf_GLMdenoise_RR") -> list[Path]:
    """Write a (small) folder in NSD's published layout: per subject and session
    ``betas_sessionNN.hdf5`` (``/betas`` int16 trials x Z x Y x X as MATLAB writes it) or
    ``.nii.gz`` (X x Y x Z x trials), the ``nsdgeneral`` ROI, ``nsd_expdesign.mat`` and
    ``nsd_stimuli.hdf5`` (``/imgBrick`` n x H x W x 3 uint8). For tests and demos.

    ``betas[subject]`` lists one float array (X, Y, Z, trials) per session, in percent
    signal change (stored x 300).
    """
    import h5py
    import nibabel as nib
    from scipy.io import savemat

    root = Path(root)
    paths = []
    for s, sessions in betas.items():
        folder = root / NSD_BETAS.format(subject=s, space=space, betas=name)
        folder.mkdir(parents=True, exist_ok=True)
        for k, vol in enumerate(sessions, start=1):
            data = np.rint(np.asarray(vol) * SCALE).astype(np.int16)
            if fmt == "hdf5":
                path = folder / session_file(k)
                with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
                    handle.create_dataset(DATASET, data=np.transpose(data, (3, 2, 1, 0)))
            else:
                path = folder / f"betas_session{k:02d}.nii.gz"
                with atomic_path(path) as tmp:
                    nib.save(nib.Nifti1Image(data, affine), tmp)
            paths.append(path)
        roi_path = root / NSD_ROI.format(subject=s, space=space, roi="nsdgeneral")
        roi_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(roi_path) as tmp:
            nib.save(nib.Nifti1Image(np.asarray(roi, dtype=np.int16), affine), tmp)
        paths.append(roi_path)
    design = root / NSD_EXPDESIGN
    design.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(design) as tmp, open(tmp, "wb") as fh:
        savemat(fh, {"masterordering": np.atleast_2d(masterordering).astype(float),
                     "subjectim": np.asarray(subjectim, dtype=float),
                     "sharedix": np.atleast_2d(sharedix).astype(float)})
    stim = root / NSD_STIMULI
    stim.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(stim) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("imgBrick", data=np.asarray(images, dtype=np.uint8),
                              chunks=(1, *images.shape[1:]))
    return [*paths, design, stim]
