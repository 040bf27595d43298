"""Searchlight RSA over a volume (Kriegeskorte, Goebel & Bandettini 2006, *PNAS* 103:3863).

Spheres follow nilearn's searchlight geometry: a sphere holds the in-mask voxels whose centres
(in mm, through the image affine) lie within ``radius`` mm of the centre voxel's. They are
found without a neighbour search: the voxel offsets inside the radius are computed once from the
affine and looked up in an index volume, so a whole 2 mm brain is processed in chunks of sphere
centres with batched matrix products (every distance here is a function of the condition-by-
condition Gram matrix of the sphere's patterns) and little memory.

Distances: ``euclidean`` and ``correlation`` on condition means, ``crossnobis`` across runs
(balanced designs: every condition in every run) with univariate noise normalisation
(each voxel divided by its residual s.d.; multivariate normalisation per sphere is not
vectorisable this way).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from tqdm.auto import tqdm

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.rsa.compare import compare
from neurodecode.rsa.rdm import RDMs, _runs, as_vectors, noise_precision

SEARCHLIGHT_METHODS = ("euclidean", "correlation", "crossnobis")


def sphere_offsets(affine: np.ndarray, radius: float) -> np.ndarray:
    """Integer voxel offsets within ``radius`` mm of a voxel, shape (n_offsets, 3)."""
    linear = np.asarray(affine, dtype=float)[:3, :3]
    step = np.min(np.linalg.norm(linear, axis=0))
    reach = int(np.ceil(radius / step))
    grid = np.arange(-reach, reach + 1)
    offsets = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    inside = np.linalg.norm(offsets @ linear.T, axis=1) <= radius + 1e-9
    return offsets[inside]


def sphere_neighbours(mask: np.ndarray, affine: np.ndarray, radius: float,
                      centres: np.ndarray | None = None) -> np.ndarray:
    """In-mask neighbours of each centre, shape (n_centres, n_offsets).

    Entries index the mask's voxels (``volume[mask]`` order); -1 pads spheres cut by the mask
    or the volume's edge. ``centres`` are positions in that same order (default: all voxels).
    """
    mask = np.asarray(mask, dtype=bool)
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[mask] = np.arange(int(mask.sum()))
    ijk = np.argwhere(mask)
    if centres is not None:
        ijk = ijk[np.asarray(centres)]
    points = ijk[:, None, :] + sphere_offsets(affine, radius)[None]
    inside = np.all((points >= 0) & (points < np.array(mask.shape)), axis=2)
    points = np.where(inside[..., None], points, 0)
    return np.where(inside, index[points[..., 0], points[..., 1], points[..., 2]], -1)


def _prepare(data: TrialData, method: str, conditions: str | np.ndarray | None,
             runs: str | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-voxel pattern stacks (n_stacks, n_cond, n_voxels + 1; last column 0) and the
    condition ids."""
    from neurodecode.rsa.rdm import _group_means, _patterns

    X, labels, _ = _patterns(data, conditions)
    cond, inverse = np.unique(labels, return_inverse=True)
    if method == "crossnobis":
        scale = np.sqrt(noise_precision(X, labels, method="diag"))  # per voxel: commutes
        folds = _runs(data, runs, inverse)                             # with averaging
        n_folds = int(folds.max()) + 1
        cells = np.bincount(folds * len(cond) + inverse, minlength=n_folds * len(cond))
        if np.any(cells == 0):
            raise DataError(f"subject {data.subject}: the crossnobis searchlight needs every "
                            "condition in every run (balanced design)")
        stacks = [_group_means(X[folds == k], inverse[folds == k], len(cond)) * scale
                  for k in range(n_folds)]
    else:
        stacks = [_group_means(X, inverse, len(cond))]
    out = np.zeros((len(stacks), len(cond), X.shape[1] + 1))
    out[:, :, :-1] = stacks
    return out, cond


def _sphere_rdms(stacks: np.ndarray, neighbours: np.ndarray, method: str) -> np.ndarray:
    """RDM vectors of the spheres, shape (n_spheres, n_pairs)."""
    n_valid = (neighbours >= 0).sum(axis=1).astype(float)[:, None, None]
    P = stacks[:, :, neighbours].transpose(0, 2, 1, 3)  # (stacks, spheres, cond, voxels)
    if method == "crossnobis":
        total = P.sum(axis=0)
        gram = total @ total.transpose(0, 2, 1) - (P @ P.transpose(0, 1, 3, 2)).sum(axis=0)
        n_folds = len(P)
        gram /= n_folds * (n_folds - 1)
    else:
        gram = P[0] @ P[0].transpose(0, 2, 1)
    diag = np.diagonal(gram, axis1=1, axis2=2)
    n_cond = gram.shape[1]
    iu = np.triu_indices(n_cond, 1)
    if method == "correlation":
        sums = P[0].sum(axis=2)
        centred = gram - sums[:, :, None] * sums[:, None, :] / n_valid
        scale = np.sqrt(np.diagonal(centred, axis1=1, axis2=2))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = centred / (scale[:, :, None] * scale[:, None, :])
        return 1.0 - corr[:, iu[0], iu[1]]
    full = diag[:, :, None] + diag[:, None, :] - gram - gram.transpose(0, 2, 1)
    return full[:, iu[0], iu[1]] / n_valid[:, :, 0]


def searchlight_rdms(
    data: TrialData,
    centres: np.ndarray,
    radius: float = 6.0,
    method: str = "correlation",
    conditions: str | np.ndarray | None = None,
    runs: str | np.ndarray | None = None,
) -> RDMs:
    """The RDMs of the spheres around ``centres`` (positions among the mask's voxels).

    ``data`` is fMRI :class:`TrialData` with ``info["mask"]`` and ``info["affine"]``; the other
    arguments are as in :func:`searchlight`. Returns one RDM per centre (rdm descriptor
    ``centre``).
    """
    stacks, cond = _prepare(data, _check(data, method), conditions, runs)
    nb = sphere_neighbours(data.info["mask"], data.info["affine"], radius, centres)
    return RDMs(_sphere_rdms(stacks, nb, method), measure=f"searchlight {method}",
                pattern_descriptors={"condition": cond},
                rdm_descriptors={"centre": np.asarray(centres)})


def _check(data: TrialData, method: str) -> str:
    if method not in SEARCHLIGHT_METHODS:
        raise DataError(f"unknown searchlight method {method!r}; expected {SEARCHLIGHT_METHODS}")
    for key in ("mask", "affine"):
        if key not in data.info:
            raise DataError(f"subject {data.subject}: a searchlight needs info[{key!r}] (load "
                            "the betas with neurodecode.data.load_beta_series)")
    if int(np.sum(data.info["mask"])) != data.n_features:
        raise DataError(f"subject {data.subject}: mask has {int(np.sum(data.info['mask']))} "
                        f"voxels, data has {data.n_features}")
    return method


def searchlight(
    data: TrialData,
    models: Mapping[str, RDMs | np.ndarray],
    radius: float = 6.0,
    method: str = "correlation",
    comparison: str = "spearman",
    conditions: str | np.ndarray | None = None,
    runs: str | np.ndarray | None = None,
    min_voxels: int = 10,
    chunk_size: int = 500,
    progress: bool = True,
) -> dict:
    """Compare every sphere's RDM with model RDMs; one brain map per model.

    Parameters
    ----------
    data : TrialData
        fMRI trials with ``info["mask"]`` (3-D bool) and ``info["affine"]`` (4x4, mm).
    models : mapping of name to RDM (n_pairs,) over the sorted conditions
    radius : float
        Sphere radius in mm.
    method : {"correlation", "euclidean", "crossnobis"}
    comparison : str
        RDM comparison (:func:`~neurodecode.rsa.compare.compare`).
    conditions, runs
        As in :func:`~neurodecode.rsa.rdm.calc_rdm`.
    min_voxels : int
        Spheres with fewer in-mask voxels are NaN in the maps.
    chunk_size : int
        Sphere centres per batch (memory ~ chunk_size x n_conditions x sphere size x runs).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to nibabel.Nifti1Image
        One 3-D map per model (NaN outside the mask), plus ``"n_voxels"`` (sphere sizes).
    """
    import nibabel as nib

    stacks, _ = _prepare(data, _check(data, method), conditions, runs)
    names = list(models)
    model_v = np.concatenate([as_vectors(models[n]) for n in names])
    n_pairs = stacks.shape[1] * (stacks.shape[1] - 1) // 2
    if model_v.shape != (len(names), n_pairs):
        raise DataError(f"models must be {len(names)} RDMs of {n_pairs} pairs, "
                        f"got shape {model_v.shape}")
    mask = np.asarray(data.info["mask"], dtype=bool)
    n_vox = int(mask.sum())
    scores = np.full((len(names), n_vox), np.nan)
    sizes = np.zeros(n_vox)
    starts = range(0, n_vox, chunk_size)
    for start in tqdm(starts, desc="searchlight", disable=not progress, unit="chunk"):
        centres = np.arange(start, min(start + chunk_size, n_vox))
        nb = sphere_neighbours(mask, data.info["affine"], radius, centres)
        sizes[centres] = (nb >= 0).sum(axis=1)
        ok = sizes[centres] >= min_voxels
        if ok.any():
            rdms = _sphere_rdms(stacks, nb[ok], method)
            scores[:, centres[ok]] = compare(model_v, rdms, comparison)
    affine = np.asarray(data.info["affine"], dtype=float)
    maps = {}
    for name, values in zip([*names, "n_voxels"], [*scores, sizes], strict=True):
        vol = np.full(mask.shape, np.nan, dtype=np.float32)
        vol[mask] = values
        maps[name] = nib.Nifti1Image(vol, affine)
    return maps
