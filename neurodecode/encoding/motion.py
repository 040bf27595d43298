"""Decoding optical flow from brain responses to video clips, scored against baselines.

Dynamic-stimulus decoding (Yeung et al., ANCHORS §7) decodes the dense optical flow of a clip
from fMRI and reports end-point error (EPE: the mean Euclidean distance between predicted and
true flow vectors, px/frame) against two baselines that need no brain: *zero flow* and the
*mean flow* of the training clips. Angular error (Barron, Fleet & Beauchemin 1994: the angle
between the space-time vectors ``(u, v, 1)``, degrees) is reported beside it.

:func:`decode_flow` fits a ridge (the shared :class:`neurodecode.ridge.MultiRidgeCV`, one
penalty per flow component by blocked CV) or a small MLP (scikit-learn) from responses to the
flattened flow field; :func:`motion_decoding` runs the study on a world with known flow
(``synthetic-motion``) and, with ``shuffle=True``, on brain data shuffled across clips, which
must fall to the mean-flow baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurodecode.data.errors import DataError
from neurodecode.data.splits import split_from_metadata

MODELS = ("ridge", "mlp")


def endpoint_error(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean end-point error per clip: ``(n, h, w, 2)`` flows → ``(n,)`` px/frame."""
    true, pred = _pair(true, pred)
    return np.linalg.norm(pred - true, axis=-1).mean((1, 2))


def angular_error(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean angular error per clip (degrees) between ``(u, v, 1)`` vectors (Barron et al.)."""
    true, pred = _pair(true, pred)
    num = (true * pred).sum(-1) + 1.0
    den = np.sqrt(((true**2).sum(-1) + 1.0) * ((pred**2).sum(-1) + 1.0))
    return np.degrees(np.arccos(np.clip(num / den, -1.0, 1.0))).mean((1, 2))


def decode_flow(X_train: np.ndarray, flow_train: np.ndarray, X_test: np.ndarray, *,
                model: str = "ridge", seed: int = 0, cv: int = 5) -> np.ndarray:
    """Fit responses → flow on training clips; predict test flows ``(n_test, h, w, 2)``."""
    flow_train = np.asarray(flow_train, dtype=np.float64)
    shape = flow_train.shape[1:]
    Y = flow_train.reshape(len(flow_train), -1)
    if model == "ridge":
        from neurodecode.ridge import MultiRidgeCV

        est = MultiRidgeCV(cv=cv).fit(X_train, Y)
        pred = est.predict(X_test)
    elif model == "mlp":
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        est = make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(256,), alpha=1.0, early_stopping=True, max_iter=300,
            random_state=seed))
        pred = est.fit(X_train, Y).predict(X_test)
    else:
        raise DataError(f"unknown flow decoder {model!r}; choose one of {MODELS}")
    return np.asarray(pred).reshape(len(X_test), *shape)


def evaluate_flow(true: np.ndarray, pred: np.ndarray, flow_train: np.ndarray) -> dict:
    """EPE and angular error of ``pred`` and of the zero- and mean-flow baselines (means)."""
    mean = np.broadcast_to(np.asarray(flow_train).mean(0), np.shape(true))
    zero = np.zeros(np.shape(true))
    out = {}
    for name, p in (("decoded", pred), ("zero", zero), ("mean", mean)):
        out[f"epe[{name}]"] = float(endpoint_error(true, p).mean())
        out[f"angular[{name}]"] = float(angular_error(true, p).mean())
    return out


def motion_decoding(world, subject: str = "1", *, model: str = "ridge", shuffle: bool = False,
                    seed: int = 0) -> dict:
    """The dynamic-stimulus study on one subject of a world with ``truth["flow"]``.

    Trains on the training clips (``metadata["split"]``), tests on the test clips averaged
    over repetitions; ``shuffle=True`` permutes the training responses across clips first.
    Returns :func:`evaluate_flow`'s numbers plus ``n_train``, ``n_test``, ``model``,
    ``shuffle``.
    """
    if "flow" not in world.truth:
        raise DataError(f"world {world.name!r} has no known flow (truth['flow']); use "
                        "synthetic-motion")
    if subject not in world.subjects:
        raise DataError(f"subject {subject!r} not in {sorted(world.subjects)}")
    flow = np.asarray(world.truth["flow"], dtype=np.float64)
    train, test = split_from_metadata(world.subjects[subject])
    X_train = np.asarray(train.X, dtype=np.float64)
    if shuffle:
        X_train = X_train[np.random.default_rng(seed).permutation(len(X_train))]
    ids = np.unique(test.stimulus_ids)
    X_test = np.stack([np.asarray(test.X)[test.stimulus_ids == i].mean(0) for i in ids])
    flow_train = flow[train.stimulus_ids]
    pred = decode_flow(X_train, flow_train, X_test, model=model, seed=seed)
    result = evaluate_flow(flow[ids], pred, flow_train)
    result.update(n_train=len(X_train), n_test=len(ids), model=model, shuffle=shuffle)
    return result


def video_vs_image_encoding(world, subject: str = "1", *, n_boot: int = 1000,
                            alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Do motion (video) features predict the voxels better than image features?

    Yeung et al. found video encoders predict fMRI better than image encoders. Per voxel, two
    encoding models on the training clips' responses (contiguous folds, validation/test halves,
    :func:`neurodecode.encoding.fit_encoding`): *video* features (the clip's block-averaged
    flow) and *image* features (the first frame, block-averaged to the same grid), compared
    with shared event bootstraps and BH FDR both ways (:func:`~neurodecode.encoding.
    compare_models`). Returns one row per voxel: ``r[video]``, ``r[image]``, ``video>image``,
    ``image>video`` (significant) and the voxel's ROI when ``info["rois"]`` has one.
    """
    from neurodecode.encoding.compare import compare_models
    from neurodecode.encoding.models import fit_encoding
    from neurodecode.synth.motion import block_mean

    train, _ = split_from_metadata(world.subjects[subject])
    flow = np.asarray(world.truth["flow"], dtype=np.float64)
    size = flow.shape[1]
    frames = np.asarray(world.truth["frames"], dtype=np.float64)[:, 0, ..., None]
    spaces = {"video": flow[train.stimulus_ids].reshape(len(train.stimulus_ids), -1),
              "image": block_mean(frames, size)[train.stimulus_ids].reshape(
                  len(train.stimulus_ids), -1)}
    Y = np.asarray(train.X, dtype=np.float64)
    preds = {k: fit_encoding(v, Y).predictions for k, v in spaces.items()}
    comp = compare_models(Y, preds, [("video", "image"), ("image", "video")], n_boot=n_boot,
                          alpha=alpha, seed=seed)
    table = pd.DataFrame({"r[video]": comp.scores["video"], "r[image]": comp.scores["image"],
                          "video>image": comp.table["sig[video>image]"],
                          "image>video": comp.table["sig[image>video]"]})
    rois = train.info.get("rois") or {}
    if rois:
        table["roi"] = "none"
        for name, mask in rois.items():
            table.loc[np.asarray(mask, bool), "roi"] = name
    return table


def results_table(rows: list[dict]) -> pd.DataFrame:
    """Rows of :func:`motion_decoding` as a table (one row per model × shuffle)."""
    return pd.DataFrame(rows).set_index(["model", "shuffle"])


def _pair(true, pred) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    if true.shape != pred.shape or true.shape[-1] != 2:
        raise DataError(f"flows must share a shape (..., 2); got {true.shape} and {pred.shape}")
    return true, pred
