"""Network ablation of a trained decoder: which functional network carries the decoded content?

The whole-brain decoding study of ANCHORS §7 trained an image–fMRI model on the whole cortex
and then dropped one functional network's voxels at a time (Yeo et al. 2011's 7 networks),
re-evaluated the *trained* model and ranked the networks by how much the score fell; the
default mode network contributed most beyond visual cortex. :func:`ablate_networks` does this
for any fitted decoder with ``predict``: ablated voxels are replaced by their training mean (a
"virtual lesion": the decoder sees no information there, and no retraining compensates).

Networks come from an atlas image (:func:`network_masks`; any NIfTI label image, e.g.
``nilearn.datasets.fetch_atlas_yeo_2011()["thick_7"]`` when downloads are allowed, looked up
by voxel coordinates in millimetres) or per-voxel labels.

:func:`planted_networks` gives a test world: synthetic-vision's stimuli and voxel geometry with
networks of known, ordered contribution (the networks split the volume into slabs; each
network's voxels carry the semantic embedding with its own gain; one network carries none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.encoding.compare import score

#: Planted per-network gains of the test world, in decreasing order of contribution.
PLANTED_GAINS = {"visual": 1.0, "default": 0.7, "frontoparietal": 0.45, "somatomotor": 0.0}


def network_masks(data: TrialData, atlas, labels: Mapping[str, int] | None = None
                  ) -> dict[str, np.ndarray]:
    """Boolean voxel masks ``{network: (n_voxels,)}`` from an atlas.

    ``atlas`` is a NIfTI label image (path) looked up at ``data.info["voxel_coords"]``, or an
    array of one label per voxel. ``labels`` maps names to label values (default: every
    non-zero value, named by its number).
    """
    from neurodecode.encoding.guidance import roi_mask

    if isinstance(atlas, str) or hasattr(atlas, "__fspath__"):
        if labels is None:
            import nibabel as nib

            values = np.unique(np.asanyarray(nib.load(str(atlas)).dataobj))
            labels = {str(int(v)): int(v) for v in values if v != 0}
        return {name: roi_mask(data, atlas, label=value) for name, value in labels.items()}
    per_voxel = np.asarray(atlas)
    if per_voxel.shape != (data.X.shape[1],):
        raise DataError(f"atlas labels {per_voxel.shape} do not match subject {data.subject}'s "
                        f"{data.X.shape[1]} voxels")
    if labels is None:
        labels = {str(v): v for v in np.unique(per_voxel) if v not in (0, "", None)}
    return {name: per_voxel == value for name, value in labels.items()}


def ablate_networks(decoder, X: np.ndarray, targets: np.ndarray,
                    masks: Mapping[str, np.ndarray], *, fill: np.ndarray | float = 0.0,
                    metric: Callable[[np.ndarray, np.ndarray], float] | None = None
                    ) -> pd.DataFrame:
    """Score a trained decoder with each network's voxels removed; rank the networks.

    Parameters
    ----------
    decoder : object with ``predict(X)``
        Trained on all voxels (never refitted here).
    X : array, shape (n, n_voxels)
        Held-out brain data.
    targets : array, shape (n, d)
        What the decoder should output (e.g. the image embeddings).
    masks : mapping of str to bool array (n_voxels,)
    fill : float or array (n_voxels,)
        Value of ablated voxels: the training mean (0 for z-scored betas).
    metric : callable, optional
        ``metric(targets, predictions) -> float``, higher is better; default the Pearson r
        between predicted and true values of each target dimension, averaged over dimensions
        (it does not saturate as two-way identification does, pass
        ``lambda t, p: two_way_identification(t, p).mean()`` for that).

    Returns
    -------
    DataFrame, one row per network sorted by contribution: ``n_voxels``, ``score`` (ablated),
    ``contribution`` (full score minus ablated score), ``rank`` (1 = most); ``attrs["full"]``
    is the score with every voxel.
    """
    metric = metric or (lambda t, p: float(np.mean(score(t, p, "r"))))
    X = np.asarray(X, dtype=np.float64)
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), (X.shape[1],))
    for name, mask in masks.items():
        if np.shape(mask) != (X.shape[1],):
            raise DataError(f"network {name!r}: mask {np.shape(mask)} for {X.shape[1]} voxels")
    full = metric(targets, decoder.predict(X))
    rows = []
    for name, mask in masks.items():
        mask = np.asarray(mask, bool)
        lesioned = X.copy()
        lesioned[:, mask] = fill[mask]
        ablated = metric(targets, decoder.predict(lesioned))
        rows.append({"network": name, "n_voxels": int(mask.sum()), "score": ablated,
                     "contribution": full - ablated})
    table = pd.DataFrame(rows).sort_values("contribution", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.set_index("network")
    table.attrs["full"] = full
    return table


def planted_networks(world, gains: Mapping[str, float] = PLANTED_GAINS, noise: float = 2.0,
                     seed: int = 0):
    """synthetic-vision with functional networks of known contribution.

    The grid is cut into ``len(gains)`` slabs along x, one network each. Every voxel of
    network ``k`` responds to the stimulus's semantic embedding through its own random
    weights, scaled by ``gains[k]``, plus Gaussian noise of s.d. ``noise``; betas are z-scored
    per voxel. The world keeps its stimuli, ids, metadata and geometry; ``truth`` gains
    ``"networks"`` (labels per voxel, subject → array), ``"network_atlas"`` (label volume,
    values 1..K in ``gains`` order), ``"network_labels"`` and ``"network_order"``.
    """
    rng = np.random.default_rng(seed)
    names = list(gains)
    semantic = np.asarray(world.truth["semantic"], dtype=np.float64)
    semantic = (semantic - semantic.mean(0)) / (semantic.std(0) + 1e-9)
    subjects = {}
    networks = {}
    shape = None
    for subject, data in world.subjects.items():
        shape = tuple(data.info["shape"])
        ijk = np.rint((np.c_[data.info["voxel_coords"], np.ones(data.X.shape[1])]
                       @ np.linalg.inv(data.info["affine"]).T)[:, :3]).astype(int)
        label = np.minimum(ijk[:, 0] * len(names) // shape[0], len(names) - 1)
        W = rng.standard_normal((semantic.shape[1], data.X.shape[1])) / np.sqrt(
            semantic.shape[1])
        signal = semantic[data.stimulus_ids] @ W
        signal *= np.array([gains[names[k]] for k in label])[None]
        X = signal + noise * rng.standard_normal(signal.shape)
        X = (X - X.mean(0)) / X.std(0)
        subjects[subject] = replace(data, X=X.astype(np.float32))
        networks[subject] = np.array(names)[label]
    atlas = np.zeros(shape, np.int16)
    for k in range(len(names)):
        atlas[k * shape[0] // len(names):(k + 1) * shape[0] // len(names)] = k + 1
    order = sorted(names, key=lambda n: -gains[n])
    truth = {**world.truth, "networks": networks, "network_atlas": atlas,
             "network_labels": {n: k + 1 for k, n in enumerate(names)},
             "network_order": order}
    return replace(world, subjects=subjects, truth=truth,
                   params={**world.params, "network_gains": dict(gains),
                           "network_noise": noise, "network_seed": seed})
