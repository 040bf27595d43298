"""fMRI volumes: BOLD runs → single-trial betas, beta-series NIfTI, simulated runs, and
standardisation fit on training trials only.

Single-trial betas come from one of two estimators on the same nilearn design
(:func:`nilearn.glm.first_level.make_first_level_design_matrix`: HRF-convolved trial
regressors, cosine drifts, run confounds, constant):

- ``"lss"``, least-squares-separate (Mumford et al., 2012, NeuroImage 59:2636): for every
  trial a GLM with that trial and one regressor for all other trials. The many small GLMs
  share everything but two columns, so they are solved in closed form for all trials and
  voxels at once after projecting out the nuisance columns (Frisch–Waugh–Lovell).
- ``"glm"``, least-squares-all: one GLM with one regressor per trial, fitted by nilearn's
  :func:`~nilearn.glm.first_level.run_glm` (AR(1) pre-whitening by default).

Drifts and confounds enter the design rather than being regressed from the data beforehand:
cleaning the data but not the design biases the betas (Lindquist et al., 2019, HBM 40:2358).
Images must share the mask's grid exactly; nothing is resampled silently.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from neurodecode._files import atomic_path
from neurodecode.data.containers import TrialData
from neurodecode.errors import DataError

ImageLike = str | os.PathLike | Any  # a path or a nibabel image
TableLike = str | os.PathLike | pd.DataFrame

MOTION_CONFOUNDS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")


# ---------------------------------------------------------------------------- inputs
def _load_img(img: ImageLike, what: str, ndim: int) -> tuple[Any, str]:
    """A nibabel image and a name for messages; checks existence and dimensionality."""
    import nibabel as nib

    if isinstance(img, str | os.PathLike):
        path = Path(img)
        if not path.exists():
            raise DataError(f"{path}: {what} file not found")
        try:
            img = nib.load(path)
        except Exception as err:  # nibabel raises several types for unreadable files
            raise DataError(f"{path}: cannot read {what} as NIfTI ({err})") from None
        name = str(path)
    else:
        name = f"in-memory {what} image"
    if len(img.shape) != ndim:
        raise DataError(
            f"{name}: {what} must be {ndim}-D, found shape {tuple(img.shape)}"
            + (" (one volume per time point or trial)" if ndim == 4 else "")
        )
    return img, name


def _voxels(img: Any, name: str, dtype: Any = None) -> np.ndarray:
    """The image's voxel array; a truncated or damaged file is a :class:`DataError` naming
    it (nibabel raises OSError for short .nii files, EOFError or zlib.error for cut .gz)."""
    import zlib

    try:
        return np.asarray(img.dataobj, dtype=dtype)
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise DataError(f"{name}: cannot read the voxel data ({type(err).__name__}: "
                        f"{' '.join(str(err).split())}); the file is truncated or damaged: get a "
                        "complete copy") from None


def _load_mask(mask_img: ImageLike) -> tuple[Any, np.ndarray, str]:
    img, name = _load_img(mask_img, "mask", 3)
    mask = _voxels(img, name)
    if not np.isfinite(mask).all():
        raise DataError(f"{name}: mask contains NaN values")
    mask = mask != 0
    if not mask.any():
        raise DataError(f"{name}: mask selects no voxels")
    return img, mask, name


def compute_mask(imgs: ImageLike | Sequence[ImageLike], kind: str = "epi", **options):
    """A 3-D brain mask computed with nilearn when none is given.

    Parameters
    ----------
    imgs : path or image, or a list (one per run)
        4-D BOLD runs (``kind="epi"``) or beta/statistic images (``kind="background"``).
    kind : {"epi", "background", "brain"}
        ``epi``: :func:`nilearn.masking.compute_epi_mask` (one run) or
        ``compute_multi_epi_mask`` (several runs; voxels kept in at least half of them),
        the lower cut of the mean EPI histogram (Nichols' method as in nilearn);
        ``background``: :func:`nilearn.masking.compute_background_mask` (voxels that differ
        from the image's constant border, e.g. zero outside the brain in beta maps);
        ``brain``: :func:`nilearn.masking.compute_brain_mask`, the MNI152 grey-matter
        template resampled onto the images (for data already in MNI space).
    **options
        Passed to the nilearn function (e.g. ``opening=False`` for very small volumes, where
        the default morphological opening erodes the whole mask).

    Returns
    -------
    nibabel.Nifti1Image
        uint8 mask on the images' grid.
    """
    from nilearn import masking

    runs = [_load_img(r, "BOLD run" if kind == "epi" else "image", 4)[0]
            if not (hasattr(r, "shape") and len(r.shape) == 3) else r for r in _as_list(imgs)]
    try:
        if kind == "epi":
            return (masking.compute_epi_mask(runs[0], **options) if len(runs) == 1
                    else masking.compute_multi_epi_mask(runs, **{"threshold": 0.5, **options}))
        if kind == "background":
            return masking.compute_background_mask(runs[0] if len(runs) == 1 else runs,
                                                   **options)
        if kind == "brain":
            return masking.compute_brain_mask(runs[0], **{"mask_type": "whole-brain",
                                                          **options})
    except ValueError as err:
        raise DataError(f"nilearn could not compute a {kind} mask: {err}; pass mask_img") from err
    raise DataError(f"mask kind must be 'epi', 'background' or 'brain', got {kind!r}")


def _check_grid(mask_img: Any, mask_name: str, img: Any, name: str) -> None:
    """The image must lie on the mask's voxel grid (shape and affine)."""
    if tuple(img.shape[:3]) != tuple(mask_img.shape[:3]):
        raise DataError(
            f"{name}: volume shape {tuple(img.shape[:3])} differs from the mask "
            f"{mask_name} {tuple(mask_img.shape[:3])}; resample one onto the other first "
            "(nilearn.image.resample_to_img)"
        )
    if not np.allclose(img.affine, mask_img.affine, atol=1e-3):
        raise DataError(
            f"{name}: affine differs from the mask {mask_name}:\n{np.round(img.affine, 3)}\n"
            f"vs\n{np.round(mask_img.affine, 3)}; both must be in the same space"
        )


def _masked(img: Any, mask: np.ndarray, name: str) -> np.ndarray:
    """Voxels inside ``mask`` of a 4-D image as ``(n_volumes, n_voxels)`` float32."""
    data = _voxels(img, name, np.float32)[mask].T
    bad = ~np.isfinite(data)
    if bad.any():
        vols = np.unique(np.nonzero(bad)[0])
        raise DataError(
            f"{name}: {int(bad.sum())} NaN/inf values inside the mask (volumes "
            f"{vols[:5].tolist()}{'...' if len(vols) > 5 else ''}); fix or exclude those voxels"
        )
    return data


def fmri_info(mask: np.ndarray, affine: np.ndarray) -> dict:
    """``info`` for fMRI :class:`TrialData`: affine, mask, voxel_coords (mm) and shape.

    Voxels are ordered as ``volume[mask]`` orders them (C order of the 3-D grid).
    """
    from nibabel.affines import apply_affine

    mask = np.asarray(mask, dtype=bool)
    affine = np.asarray(affine, dtype=float)
    return dict(
        affine=affine,
        mask=mask,
        voxel_coords=apply_affine(affine, np.argwhere(mask)),
        shape=tuple(int(s) for s in mask.shape),
    )


def read_table(table: TableLike, what: str) -> tuple[pd.DataFrame, str]:
    """A DataFrame from a DataFrame or a TSV/CSV path (``n/a`` and empty cells are missing)."""
    if isinstance(table, pd.DataFrame):
        return table.reset_index(drop=True), f"in-memory {what} table"
    path = Path(table)
    if not path.exists():
        raise DataError(f"{path}: {what} file not found")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        frame = pd.read_csv(path, sep=sep, na_values=["n/a", ""], keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot parse {what} table ({err})") from None
    return frame, str(path)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as TSV (or CSV for a ``.csv`` suffix); missing values as ``n/a``."""
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    frame.to_csv(path, sep=sep, index=False, na_rep="n/a")


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _read_events(events: TableLike, run_length: float) -> tuple[pd.DataFrame, str]:
    """Events of one run, validated against the run length (s)."""
    table, name = read_table(events, "events")
    missing = {"onset", "duration"} - set(table.columns)
    if missing:
        raise DataError(
            f"{name}: events lack column(s) {sorted(missing)}; found {list(table.columns)} "
            "(BIDS events need onset and duration, in seconds)"
        )
    if "stimulus_id" not in table and "trial_type" not in table:
        raise DataError(
            f"{name}: events need a 'stimulus_id' or 'trial_type' column naming each trial; "
            f"found {list(table.columns)}"
        )
    if len(table) == 0:
        raise DataError(f"{name}: events table has no trials")
    times = table[["onset", "duration"]].to_numpy(dtype=float)
    if not np.isfinite(times).all():
        raise DataError(f"{name}: onset/duration contain missing or non-numeric values")
    end = times.sum(axis=1)
    bad = np.flatnonzero((times[:, 0] < 0) | (end > run_length + 1e-6))
    if bad.size:
        raise DataError(
            f"{name}: {bad.size} event(s) fall outside the run (0 to {run_length:g} s), e.g. "
            f"row {bad[0]} at onset {times[bad[0], 0]:g} s lasting {times[bad[0], 1]:g} s; "
            "check the events belong to this run and that t_r is right"
        )
    return table, name


def _read_confounds(confounds: TableLike | np.ndarray | None, n_scans: int) -> pd.DataFrame | None:
    if confounds is None:
        return None
    if isinstance(confounds, np.ndarray):
        frame = pd.DataFrame(np.atleast_2d(confounds.T).T)
        frame.columns = [f"confound_{i}" for i in range(frame.shape[1])]
        name = "in-memory confounds array"
    else:
        frame, name = read_table(confounds, "confounds")
    if len(frame) != n_scans:
        raise DataError(f"{name}: {len(frame)} confound rows for a run of {n_scans} volumes")
    values = frame.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise DataError(
            f"{name}: confounds contain NaN (fMRIPrep derivatives start with n/a); "
            "fill or drop those columns first"
        )
    return frame


# ---------------------------------------------------------------------------- design
def _trial_names(n: int) -> list[str]:
    return [f"trial_{i:05d}" for i in range(n)]


def _design(
    events: pd.DataFrame,
    n_scans: int,
    t_r: float,
    hrf_model: str,
    drift_model: str | None,
    high_pass: float,
    confounds: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Trial regressors ``(n_scans, n_trials)`` and nuisance regressors ``(n_scans, q)``."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    names = _trial_names(len(events))
    design = make_first_level_design_matrix(
        np.arange(n_scans) * t_r,
        pd.DataFrame(dict(onset=events["onset"], duration=events["duration"], trial_type=names)),
        hrf_model=hrf_model,
        drift_model=drift_model,
        high_pass=high_pass,
        add_regs=None if confounds is None else confounds.to_numpy(dtype=float),
        add_reg_names=None if confounds is None else [str(c) for c in confounds.columns],
    )
    trials = design[names].to_numpy()
    return trials, design.drop(columns=names).to_numpy()


def _percent_signal_change(Y: np.ndarray) -> np.ndarray:
    """Express each voxel's time course in % of its mean (voxels with zero mean: centred)."""
    mean = Y.mean(axis=0)
    safe = np.where(np.abs(mean) > 1e-6, mean, 1.0)
    return 100.0 * (Y - mean) / safe


def _lss(Y: np.ndarray, trials: np.ndarray, nuisance: np.ndarray, name: str = "") -> np.ndarray:
    """Least-squares-separate betas ``(n_trials, n_voxels)``, all trial GLMs at once.

    After projecting the nuisance columns out of data and regressors, trial ``i``'s GLM has
    two columns, ``t_i`` and ``o_i = s - t_i`` (``s`` the sum of all trial regressors; the
    convolution is linear), whose 2x2 normal equations are solved in closed form.
    """
    from scipy.linalg import orth

    basis = orth(nuisance)
    T = trials - basis @ (basis.T @ trials)
    Yr = Y - basis @ (basis.T @ Y)
    if T.shape[1] == 1:
        return (T.T @ Yr) / (T**2).sum(axis=0)[:, None]
    s = T.sum(axis=1)
    a = T.T @ Yr  # t_i' y
    c = (s @ Yr)[None, :] - a  # o_i' y
    g11 = (T**2).sum(axis=0)
    g1s = T.T @ s
    g12 = g1s - g11
    g22 = s @ s - 2 * g1s + g11
    det = g11 * g22 - g12**2
    if np.any(det <= 1e-10 * g11 * np.maximum(g22, 1e-12)):
        raise DataError(
            f"{name}: a trial regressor is collinear with the other trials and nuisance "
            "regressors (LSS design); check for duplicated or overlapping events"
        )
    return (g22[:, None] * a - g12[:, None] * c) / det[:, None]


def _lsa(Y: np.ndarray, trials: np.ndarray, nuisance: np.ndarray, noise_model: str) -> np.ndarray:
    """Least-squares-all betas ``(n_trials, n_voxels)`` from nilearn's GLM."""
    from nilearn.glm.first_level import run_glm

    design = np.column_stack([trials, nuisance])
    labels, results = run_glm(Y, design, noise_model=noise_model)
    theta = np.empty((design.shape[1], Y.shape[1]))
    for label, result in results.items():
        theta[:, labels == label] = result.theta
    return theta[: trials.shape[1]]


def load_fmri_runs(
    bold_imgs: ImageLike | Sequence[ImageLike],
    events: TableLike | Sequence[TableLike],
    mask_img: ImageLike,
    subject: str,
    t_r: float,
    method: str = "lss",
    confounds: TableLike | np.ndarray | Sequence | None = None,
    hrf_model: str = "glover",
    high_pass: float = 0.01,
    drift_model: str | None = "cosine",
    signal_scaling: bool = True,
    noise_model: str = "ar1",
    sessions: Sequence | None = None,
    mask_options: dict | None = None,
) -> TrialData:
    """Single-trial betas from 4-D BOLD runs, an events table per run and a mask.

    Parameters
    ----------
    bold_imgs : path or nibabel image, or a list of them
        One 4-D image per run, on the mask's grid (same shape and affine).
    events : DataFrame or TSV path, or a list (one per run)
        BIDS events: ``onset`` and ``duration`` (s from the first volume) and ``stimulus_id``
        or ``trial_type``; other columns are kept in ``metadata``.
    mask_img : path or nibabel image, or None
        3-D mask; non-zero voxels are kept, in C order. None: computed from the runs with
        nilearn (:func:`compute_mask`, ``kind="epi"``); ``info["mask_source"]`` says so.
    subject : str
    t_r : float
        Repetition time (s).
    method : {"lss", "glm"}
        Least-squares-separate (one GLM per trial, Mumford 2012) or one GLM with a regressor
        per trial (least-squares-all).
    confounds : DataFrame, TSV path or array (n_scans, n_confounds), or a list per run
        Nuisance regressors (e.g. fMRIPrep motion), entered in the design.
    hrf_model, high_pass, drift_model
        Passed to :func:`nilearn.glm.first_level.make_first_level_design_matrix`
        (``high_pass`` in Hz, cosine drift basis).
    signal_scaling : bool
        Convert each voxel's run to percent signal change first, so betas are in % (as NSD).
    noise_model : {"ar1", "ols"}
        Noise model of the ``"glm"`` method (LSS is ordinary least squares).
    sessions : sequence, optional
        Session label of each run, stored in ``metadata["session"]``.
    mask_options : dict, optional
        Options of nilearn's EPI mask when ``mask_img`` is None (see :func:`compute_mask`).

    Returns
    -------
    TrialData
        ``X`` (n_trials, n_voxels) float32 betas; ``stimulus_ids`` from ``stimulus_id`` (else
        ``trial_type``); ``y`` from ``trial_type`` when present; ``metadata`` with ``run``
        (1-based), ``trial`` (1-based within run), onset, duration and the other event
        columns; ``info`` with affine, mask, voxel_coords, shape.
    """
    if method not in ("lss", "glm"):
        raise DataError(f"method must be 'lss' or 'glm', got {method!r}")
    runs = _as_list(bold_imgs)
    run_events = _as_list(events)
    run_confounds = [None] * len(runs) if confounds is None else _as_list(confounds)
    if len(run_events) != len(runs) or len(run_confounds) != len(runs):
        raise DataError(
            f"subject {subject}: {len(runs)} BOLD runs but {len(run_events)} events tables and "
            f"{len(run_confounds) if confounds is not None else 0} confounds; pass one per run"
        )
    if sessions is not None and len(sessions) != len(runs):
        raise DataError(f"subject {subject}: {len(sessions)} session labels for {len(runs)} runs")
    mask_source = "given"
    if mask_img is None:
        mask_img = compute_mask(runs, kind="epi", **(mask_options or {}))
        mask_source = "nilearn compute_epi_mask" if len(runs) == 1 else (
            "nilearn compute_multi_epi_mask")
    mask_img, mask, mask_name = _load_mask(mask_img)

    betas, tables = [], []
    for r, (run, ev, conf) in enumerate(zip(runs, run_events, run_confounds, strict=True)):
        img, name = _load_img(run, "BOLD run", 4)
        _check_grid(mask_img, mask_name, img, name)
        Y = _masked(img, mask, name).astype(np.float64)
        n_scans = Y.shape[0]
        table, _ = _read_events(ev, n_scans * t_r)
        trials, nuisance = _design(
            table, n_scans, t_r, hrf_model, drift_model, high_pass, _read_confounds(conf, n_scans)
        )
        if signal_scaling:
            Y = _percent_signal_change(Y)
        if method == "lss":
            betas.append(_lss(Y, trials, nuisance, name))
        else:
            betas.append(_lsa(Y, trials, nuisance, noise_model))
        table = table.assign(run=r + 1, trial=np.arange(1, len(table) + 1))
        if sessions is not None:
            table["session"] = sessions[r]
        tables.append(table)

    meta = pd.concat(tables, ignore_index=True)
    ids_column = "stimulus_id" if "stimulus_id" in meta else "trial_type"
    stimulus_ids = meta[ids_column].to_numpy()
    y = meta["trial_type"].to_numpy() if "trial_type" in meta else None
    meta = meta.drop(columns=[c for c in ("stimulus_id", "trial_type") if c in meta])
    first = ["session", "run", "trial", "onset", "duration"]
    meta = meta[[c for c in first if c in meta] + [c for c in meta if c not in first]]
    return TrialData(
        X=np.concatenate(betas).astype(np.float32),
        subject=subject,
        modality="fmri",
        y=y,
        stimulus_ids=stimulus_ids,
        metadata=meta,
        info={**fmri_info(mask, mask_img.affine), "mask_source": mask_source},
    )


# ---------------------------------------------------------------------------- beta series
def _sidecar(img_path: str | os.PathLike) -> Path:
    """``<name>.tsv`` beside ``<name>.nii[.gz]``."""
    path = Path(img_path)
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".tsv")


def trial_table(data: TrialData) -> pd.DataFrame:
    """``stimulus_id``, ``y`` (when present) and the metadata columns, one row per trial."""
    table = data.metadata.copy()
    if data.y is not None:
        table.insert(0, "y", data.y)
    if data.stimulus_ids is not None:
        table.insert(0, "stimulus_id", data.stimulus_ids)
    return table


def split_trial_table(table: pd.DataFrame) -> dict:
    """Inverse of :func:`trial_table`: ``stimulus_ids``, ``y`` and ``metadata`` arguments."""
    return dict(
        stimulus_ids=table["stimulus_id"].to_numpy() if "stimulus_id" in table else None,
        y=table["y"].to_numpy() if "y" in table else None,
        metadata=table.drop(columns=[c for c in ("stimulus_id", "y") if c in table]),
    )


def load_beta_series(
    img: ImageLike,
    mask_img: ImageLike,
    subject: str,
    trials: TableLike | None = None,
) -> TrialData:
    """Trials from a 4-D beta-series image (one volume per trial) and a 3-D mask.

    Parameters
    ----------
    img : path or nibabel image
        4-D, on the mask's grid.
    mask_img : path or nibabel image, or None
        None: nilearn's background mask of ``img`` (:func:`compute_mask`).
    subject : str
    trials : DataFrame or TSV path, optional
        One row per volume: ``stimulus_id`` and ``y`` become those fields, other columns the
        metadata. When None, the sidecar ``<image name>.tsv`` is read if it exists (as
        :func:`write_beta_series` writes it).

    Returns
    -------
    TrialData
        ``X`` (n_volumes, n_voxels) float32 in the image's units.
    """
    if trials is None and isinstance(img, str | os.PathLike) and _sidecar(img).exists():
        trials = _sidecar(img)
    if mask_img is None:  # beta maps are constant (zero) outside the brain
        mask_img = compute_mask(img, kind="background")
    mask_img, mask, mask_name = _load_mask(mask_img)
    img, name = _load_img(img, "beta series", 4)
    _check_grid(mask_img, mask_name, img, name)
    X = _masked(img, mask, name)
    fields: dict = {}
    if trials is not None:
        table, table_name = read_table(trials, "trials")
        if len(table) != X.shape[0]:
            raise DataError(
                f"{table_name}: {len(table)} trial rows for {X.shape[0]} volumes in {name}"
            )
        fields = split_trial_table(table)
    return TrialData(
        X=X, subject=subject, modality="fmri", info=fmri_info(mask, mask_img.affine), **fields
    )


def write_beta_series(
    data: TrialData,
    img_path: str | os.PathLike,
    trials_path: str | os.PathLike | None = None,
    mask_path: str | os.PathLike | None = None,
) -> list[Path]:
    """Write fMRI trials as a 4-D NIfTI (one volume per trial) and its trial table.

    Parameters
    ----------
    data : TrialData
        fMRI, with ``info["mask"]`` and ``info["affine"]``.
    img_path : path
        ``.nii`` or ``.nii.gz``.
    trials_path : path, optional
        Trial table (``stimulus_id``, ``y``, metadata columns); default ``<image name>.tsv``
        beside the image, which :func:`load_beta_series` finds by itself. Not written when
        there is nothing to store.
    mask_path : path, optional
        Also write the mask (uint8 NIfTI) there.

    Returns
    -------
    list of Path
        The files written. All are written to temporary names and renamed together at the
        end; on error none is left.
    """
    import nibabel as nib

    img = data.to_nifti()
    table = trial_table(data)
    targets: list[tuple[Path, Any]] = [(Path(img_path), img)]
    if table.shape[1]:
        targets.append((Path(trials_path) if trials_path else _sidecar(img_path), table))
    if mask_path is not None:
        mask = np.asarray(data.info["mask"], dtype=np.uint8)
        targets.append((Path(mask_path), nib.Nifti1Image(mask, img.affine)))
    return write_all(targets)


def write_all(targets: Sequence[tuple[Path, Any]]) -> list[Path]:
    """Write NIfTI images and tables together: all renamed into place, or none on error."""
    import nibabel as nib

    with contextlib.ExitStack() as stack:
        for path, obj in targets:
            tmp = stack.enter_context(atomic_path(path))
            if isinstance(obj, pd.DataFrame):
                write_table(obj, tmp)
            else:
                nib.save(obj, tmp)
    return [path for path, _ in targets]


# ---------------------------------------------------------------------------- simulation
@dataclass
class BoldRunFiles:
    """Paths written by :func:`write_bold_runs` (one entry per run in each list)."""

    bold: list[Path]
    events: list[Path]
    mask: Path
    confounds: list[Path] = field(default_factory=list)

    def paths(self) -> list[Path]:
        return [*self.bold, *self.events, *self.confounds, self.mask]


def write_bold_runs(
    data: TrialData,
    out_dir: str | os.PathLike,
    t_r: float = 1.5,
    n_runs: int = 2,
    trial_duration: float = 3.0,
    soa: tuple[float, float] = (5.0, 8.0),
    noise_std: float = 1.0,
    drift_std: float = 2.0,
    confound_std: float = 0.0,
    baseline: tuple[float, float] = (500.0, 1500.0),
    seed: int = 0,
) -> BoldRunFiles:
    """Simulate BIDS-like BOLD runs whose single-trial betas are ``data.X``.

    Trials are split in order into ``n_runs`` runs. Each voxel's signal (in percent of its
    baseline) is the sum of trial regressors (nilearn's HRF-convolved boxcars, the same
    regressors the loader fits) weighted by the planted betas, plus slow cosine drifts (periods
    of one and two run lengths, below a 0.01 Hz high-pass for runs over 100 s), AR(1)
    noise (ρ = 0.3) and, when ``confound_std > 0``, six motion-like confound time courses
    with random voxel loadings, written as an fMRIPrep-style confounds TSV.

    Parameters
    ----------
    data : TrialData
        fMRI betas (% signal change) with ``info`` mask and affine.
    out_dir : path
    t_r : float
        Repetition time (s).
    n_runs : int
    trial_duration : float
        Stimulus duration (s).
    soa : (float, float)
        Range of the uniform stimulus-onset asynchrony (s).
    noise_std, drift_std, confound_std : float
        Standard deviations, in % signal change.
    baseline : (float, float)
        Range of the voxel-wise baseline intensity (scanner units).
    seed : int

    Returns
    -------
    BoldRunFiles
        ``sub-<subject>_task-sim_run-<NN>_bold.nii.gz``, ``..._events.tsv``,
        ``..._desc-confounds_timeseries.tsv`` and ``sub-<subject>_mask.nii.gz``.
    """
    import nibabel as nib

    if data.modality != "fmri" or "mask" not in data.info or "affine" not in data.info:
        raise DataError(f"subject {data.subject}: simulation needs fMRI data with mask and affine")
    if not 1 <= n_runs <= data.n_trials:
        raise DataError(f"n_runs must be between 1 and {data.n_trials}, got {n_runs}")
    rng = np.random.default_rng(seed)
    mask = np.asarray(data.info["mask"], dtype=bool)
    affine = np.asarray(data.info["affine"], dtype=float)
    X = np.asarray(data.X, dtype=np.float64)
    n_vox = X.shape[1]
    base = rng.uniform(*baseline, size=n_vox)
    ids = data.stimulus_ids if data.stimulus_ids is not None else np.arange(data.n_trials)
    out = Path(out_dir)
    prefix = f"sub-{data.subject}_task-sim"
    files = BoldRunFiles(bold=[], events=[], mask=out / f"sub-{data.subject}_mask.nii.gz")
    targets: list[tuple[Path, Any]] = [(files.mask, nib.Nifti1Image(mask.astype(np.uint8), affine))]
    for r, idx in enumerate(np.array_split(np.arange(data.n_trials), n_runs)):
        onsets = 6.0 + np.concatenate([[0.0], np.cumsum(rng.uniform(*soa, len(idx) - 1))])
        n_scans = int(np.ceil((onsets[-1] + trial_duration + 20.0) / t_r))
        events = pd.DataFrame(
            dict(onset=np.round(onsets, 3), duration=trial_duration, stimulus_id=ids[idx])
        )
        if data.y is not None:
            events["trial_type"] = data.y[idx]
        trials, _ = _design(events, n_scans, t_r, "glover", None, 0.01, None)
        signal = trials @ X[idx]
        t = (np.arange(n_scans) + 0.5) / n_scans
        cosines = np.cos(np.pi * np.outer(t, [1, 2]))  # periods of 2 and 1 run lengths
        signal += cosines @ rng.normal(0, drift_std, (2, n_vox))
        noise = rng.normal(0, noise_std, (n_scans, n_vox))
        for i in range(1, n_scans):
            noise[i] += 0.3 * noise[i - 1]
        signal += noise
        run_name = f"{prefix}_run-{r + 1:02d}"
        if confound_std > 0:
            walks = np.cumsum(rng.normal(0, 1, (n_scans, len(MOTION_CONFOUNDS))), axis=0)
            walks = (walks - walks.mean(0)) / walks.std(0)
            signal += walks @ rng.normal(0, confound_std, (len(MOTION_CONFOUNDS), n_vox))
            conf_path = out / f"{run_name}_desc-confounds_timeseries.tsv"
            files.confounds.append(conf_path)
            targets.append((conf_path, pd.DataFrame(walks, columns=list(MOTION_CONFOUNDS))))
        vol = np.zeros(mask.shape + (n_scans,), dtype=np.float32)
        vol[mask] = (base * (1.0 + signal / 100.0)).T
        img = nib.Nifti1Image(vol, affine)
        img.header.set_zooms(img.header.get_zooms()[:3] + (t_r,))
        img.header.set_xyzt_units("mm", "sec")
        files.bold.append(out / f"{run_name}_bold.nii.gz")
        files.events.append(out / f"{run_name}_events.tsv")
        targets += [(files.bold[-1], img), (files.events[-1], events)]
    write_all(targets)
    return files


# ---------------------------------------------------------------------------- standardisation
class SessionStandardizer(TransformerMixin, BaseEstimator):
    """Z-score voxels per session (or run, or globally), with one of two named rules.

    ``statistics="training"`` (the default) learns the statistics from training trials;
    ``statistics="own"`` z-scores every session/run with *its own* mean and standard
    deviation, computed from the trials being transformed. The second rule uses no labels and
    no other run, so it is allowed on test runs too (the usual practice for fMRI, e.g. NSD's
    per-session z-scoring and nilearn's ``clean(standardize=...)`` per run); it needs each
    run to hold enough trials for stable statistics.

    ``statistics="training"``:

    NSD betas are z-scored per voxel within each scan session. Here the mean and standard
    deviation are learned by :meth:`fit` on training trials only and :meth:`transform`
    applies them unchanged to any trials (train or test): test trials never contribute to the
    statistics (leakage rule). NSD's released z-scoring used all trials of a session,
    test trials included; to reproduce it knowingly, fit on all trials. A session without
    training trials is standardised with the pooled training statistics.

    Parameters
    ----------
    by : {"session", "run", "global"}
        Statistics per session (``metadata["session"]`` or the ``sessions`` argument), per
        run (``metadata["run"]``, or ``sessions=`` holding run labels) or one set for all
        trials.
    statistics : {"training", "own"}
        Where the statistics come from: the trials given to :meth:`fit` (training), or each
        session/run of the trials given to :meth:`transform` (own; :meth:`fit` only checks
        the input).
    eps : float
        Standard deviations below ``eps`` are replaced by 1 (constant voxels are centred).

    Attributes
    ----------
    sessions_ : array (n_sessions,)
    means_, scales_ : arrays (n_sessions, n_voxels)
    mean_, scale_ : arrays (n_voxels,)
        Pooled training statistics.
    """

    def __init__(self, by: str = "session", statistics: str = "training", eps: float = 1e-8):
        self.by = by
        self.statistics = statistics
        self.eps = eps

    def _inputs(self, X, sessions) -> tuple[np.ndarray, np.ndarray | None]:
        if self.by not in ("session", "run", "global"):
            raise ValueError(f"by must be 'session', 'run' or 'global', got {self.by!r}")
        if self.statistics not in ("training", "own"):
            raise ValueError(f"statistics must be 'training' or 'own', got {self.statistics!r}")
        if isinstance(X, TrialData):
            if sessions is None and self.by != "global":
                if self.by not in X.metadata:
                    raise DataError(
                        f"subject {X.subject}: per-{self.by} standardisation needs "
                        f"metadata['{self.by}'] (or use by='global')"
                    )
                sessions = X.metadata[self.by].to_numpy()
            X = X.X
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"expected (n_trials, n_voxels), got shape {X.shape}")
        if self.by == "global":
            return X, None
        if sessions is None:
            raise DataError(f"by={self.by!r} needs the {self.by} of each trial (sessions=...)")
        sessions = np.asarray(sessions)
        if sessions.shape != (X.shape[0],):
            raise DataError(f"{sessions.shape[0]} session labels for {X.shape[0]} trials")
        return X, sessions

    def _scale(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        std = X.std(axis=0)
        return X.mean(axis=0), np.where(std < self.eps, 1.0, std)

    def fit(self, X, y=None, sessions=None) -> SessionStandardizer:
        """Learn statistics from training trials ``X`` (array or TrialData)."""
        X, sessions = self._inputs(X, sessions)
        self.mean_, self.scale_ = self._scale(X)
        self.sessions_ = np.array([]) if sessions is None else np.unique(sessions)
        stats = [self._scale(X[sessions == s]) for s in self.sessions_]
        self.means_ = np.array([m for m, _ in stats]).reshape(len(stats), X.shape[1])
        self.scales_ = np.array([s for _, s in stats]).reshape(len(stats), X.shape[1])
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X, sessions=None):
        """Apply the training statistics; returns float32 (a TrialData for a TrialData)."""
        data = X if isinstance(X, TrialData) else None
        X, sessions = self._inputs(X, sessions)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"fitted on {self.n_features_in_} voxels, got {X.shape[1]}")
        if self.statistics == "own":  # each run/session with its own statistics (label-free)
            mean, scale = np.empty_like(X), np.empty_like(X)
            groups = np.zeros(len(X)) if sessions is None else sessions
            for g in np.unique(groups):
                rows = groups == g
                mean[rows], scale[rows] = self._scale(X[rows])
        else:
            mean = np.broadcast_to(self.mean_, X.shape).copy()
            scale = np.broadcast_to(self.scale_, X.shape).copy()
        if sessions is not None and self.statistics == "training":
            for k, s in enumerate(self.sessions_):
                rows = sessions == s
                mean[rows], scale[rows] = self.means_[k], self.scales_[k]
        Z = ((X - mean) / scale).astype(np.float32)
        if data is None:
            return Z
        return replace(data, X=Z, info=dict(data.info))

    def fit_transform(self, X, y=None, sessions=None):
        return self.fit(X, sessions=sessions).transform(X, sessions=sessions)


# ----------------------------------------------------------------------------- ROI masks
ROI_GLOB = "roi-*.nii.gz"
"""ROI masks beside a subject's betas: ``roi-<name>.nii.gz``, a 3-D volume on the grid of
``mask.nii.gz`` (same shape and affine), non-zero inside the ROI — the form NSD ships its
ROIs in (``nsddata/ppdata/subjNN/<space>/roi/<roi>.nii.gz``) and nilearn's maskers read.
The ROI ``<name>`` becomes ``TrialData.info["rois"][<name>]``, a bool mask over the
columns (voxels of ``mask.nii.gz`` in C order). ROI voxels outside the mask are ignored."""


def roi_file(name: str) -> str:
    """File name of ROI ``name`` (``roi-<name>.nii.gz``); names are file-name safe."""
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise DataError(f"ROI name {name!r} cannot be a file name (roi-<name>.nii.gz)")
    return f"roi-{name}.nii.gz"


def roi_images(data: TrialData) -> dict[str, Any]:
    """``roi-<name>.nii.gz`` file name → NIfTI image (uint8 0/1 volume on the mask's grid)
    for each ROI of ``data.info["rois"]``; empty when there are none."""
    import nibabel as nib

    rois = data.info.get("rois") or {}
    if not rois:
        return {}
    for key in ("mask", "affine"):
        if key not in data.info:
            raise DataError(f"subject {data.subject}: info lacks {key!r}; ROI masks are "
                            "written as volumes on the mask's grid")
    mask = np.asarray(data.info["mask"], dtype=bool)
    out = {}
    for name, cols in rois.items():
        cols = np.asarray(cols, dtype=bool)
        if cols.shape != (int(mask.sum()),):
            raise DataError(f"subject {data.subject}: ROI {name!r} has shape {cols.shape}, "
                            f"expected one bool per voxel ({int(mask.sum())},)")
        vol = np.zeros(mask.shape, np.uint8)
        vol[mask] = cols
        out[roi_file(str(name))] = nib.Nifti1Image(vol, np.asarray(data.info["affine"], float))
    return out


def read_roi_masks(folder: str | os.PathLike, mask_img: Any, mask: np.ndarray,
                   mask_name: str) -> dict[str, np.ndarray]:
    """ROI name → bool mask over the columns, from the ``roi-<name>.nii.gz`` files of
    ``folder`` (see :data:`ROI_GLOB`). A file whose shape or affine differs from the mask's
    is a :class:`DataError` naming it."""
    rois = {}
    for path in sorted(Path(folder).glob(ROI_GLOB)):
        name = path.name[len("roi-"):-len(".nii.gz")]
        img, label = _load_img(path, "ROI mask", 3)
        if tuple(img.shape) != tuple(mask.shape):
            raise DataError(
                f"{label}: ROI mask shape {tuple(img.shape)} does not match the voxel mask "
                f"{mask_name} {tuple(mask.shape)}; ROI masks must lie on the betas' grid "
                "(resample with nilearn.image.resample_to_img, interpolation='nearest')")
        _check_grid(mask_img, mask_name, img, label)
        values = _voxels(img, label)
        if not np.isfinite(values).all():
            raise DataError(f"{label}: ROI mask contains NaN values")
        rois[name] = (values != 0)[mask]
    return rois
