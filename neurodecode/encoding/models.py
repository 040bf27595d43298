"""Voxel-wise / electrode-wise encoding models: features → responses, scored out of sample.

An encoding model predicts every recorded target (a voxel, an electrode × time bin) from a
stimulus feature space with a ridge regression whose penalty is chosen per target (Naselaris et
al. 2011; Huth et al. 2016; Dupré la Tour et al. 2022, the himalaya paper). Its score is only
meaningful out of sample, and for time series only with *contiguous* folds: neighbouring events
share slow drifts (scene content, 1/f background), so a shuffled K-fold lets the model read the
held-out answer off its neighbours (see ``tests/encoding/test_models.py``).

Two protocols share one ridge machinery (:mod:`neurodecode.ridge`, also behind the linear
decoders):

- :func:`fit_encoding` (Subramaniam et al. 2024, ANCHORS §7): contiguous K folds; each held-out
  fold is cut into two contiguous halves; the model is fitted on the other folds, each target's
  ``alpha`` is chosen on one half (``selection="validation"``) and the target is scored on the
  other, then the halves swap, so every event gets exactly one test prediction made without
  looking at it. ``selection="inner"`` instead chooses ``alpha`` by blocked CV inside the
  training folds (himalaya) and tests on the whole held-out fold.
- :func:`fit_banded` — banded ridge over several feature spaces (Nunez-Elizalde et al. 2019;
  Dupré la Tour et al. 2022) with himalaya's :class:`~himalaya.ridge.BandedRidgeCV` (one penalty
  per feature space and target, random search over blocked inner folds), giving the joint score
  and its split into per-space contributions (``r2_score_split``, the product measure).

Both return an :class:`EncodingResult`: out-of-fold predictions, the chosen penalties and per
target ``r``, ``r2`` (and ``r2_split[space]``). Targets are processed in batches, and the
validated solver runs on torch, so ``device="cuda"`` handles 100k targets on a GPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurodecode.data.errors import DataError
from neurodecode.encoding.compare import score
from neurodecode.ridge import MultiRidgeCV, ridge_path

#: The penalty grid of Subramaniam et al. (2024): 1e-1 … 1e5, 7 values (standardised features).
ALPHAS = np.logspace(-1, 5, 7)

Folds = Sequence[tuple[np.ndarray, np.ndarray]]


def blocked_folds(n_samples: int, n_folds: int = 5, gap: int = 0) -> list[tuple[np.ndarray,
                                                                               np.ndarray]]:
    """Contiguous, unshuffled K folds ``[(train, held_out), ...]``.

    ``gap`` samples on each side of the held-out block are dropped from training (a purged
    split, for responses that overlap neighbouring events).
    """
    if not 2 <= n_folds <= n_samples // 2:
        raise DataError(f"blocked CV: n_folds must be in [2, n_samples/2] (got n_folds="
                        f"{n_folds} for {n_samples} samples)")
    bounds = np.linspace(0, n_samples, n_folds + 1).round().astype(int)
    idx = np.arange(n_samples)
    folds = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        train = idx[(idx < lo - gap) | (idx >= hi + gap)]
        folds.append((train, idx[lo:hi]))
    return folds


@dataclass
class EncodingResult:
    """Out-of-fold encoding results for ``n_targets`` targets.

    Attributes
    ----------
    predictions : array, shape (n_samples, n_targets)
        Each sample predicted once, by a model that never saw it (nor chose alpha with it).
    Y : array, shape (n_samples, n_targets)
        The targets.
    alphas : array, shape (n_folds, n_parts, n_targets)
        Penalty chosen per fold (and per validation half) and target.
    r, r2 : array, shape (n_targets,)
        Pearson r and R² on each test part (a fold, or half a fold), averaged over parts.
        Scores of predictions pooled over folds are biased below zero under the null
        (each fold's intercept comes from the other folds, anti-correlated with its own mean;
        slow drifts make it worse), hence per part.
    parts : list of arrays
        The test parts (sample indices) the scores average over.
    r2_split : dict of str to array, shape (n_targets,)
        Banded models only: each feature space's share of the held-out R² (product measure;
        computed on held-out predictions pooled over folds without the fold intercepts, so
        they sum to about ``r2``).
    targets : index labels of the targets (e.g. electrode, time bin).
    """

    predictions: np.ndarray
    Y: np.ndarray = field(repr=False)
    alphas: np.ndarray = field(repr=False)
    r: np.ndarray = field(repr=False)
    r2: np.ndarray = field(repr=False)
    r2_split: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    parts: list = field(default_factory=list, repr=False)
    targets: list | None = None
    protocol: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per target: ``r``, ``r2``, ``alpha`` (median over folds), ``r2[space]``."""
        index = pd.Index(range(len(self.r)) if self.targets is None else self.targets,
                         name="target")
        frame = pd.DataFrame({"r": self.r, "r2": self.r2,
                              "alpha": np.median(self.alphas.reshape(-1, len(self.r)), 0)},
                             index=index)
        for name, values in self.r2_split.items():
            frame[f"r2[{name}]"] = values
        return frame


def fit_encoding(X: np.ndarray, Y: np.ndarray, *, n_folds: int = 5, folds: Folds | None = None,
                 alphas: Sequence[float] = ALPHAS, selection: str = "validation",
                 gap: int = 0, standardize: bool = True, device: str = "cpu",
                 n_targets_batch: int = 20000, targets: list | None = None) -> EncodingResult:
    """Ridge encoding model of every target, scored on held-out samples.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
        Stimulus features (e.g. one row per event), in time order.
    Y : array, shape (n_samples, n_targets)
        Responses (voxels, or electrodes × time bins).
    n_folds : int
        Contiguous outer folds (Subramaniam et al.: 5).
    folds : list of (train, held_out), optional
        Explicit outer folds instead (e.g. a shuffled ``KFold``, to see why not to).
    alphas : sequence of float
        Candidate penalties for standardised features.
    selection : {"validation", "inner"}
        ``"validation"``: alpha per target on one contiguous half of the held-out fold, scored
        on the other half (and swapped). ``"inner"``: alpha by blocked 5-fold CV inside the
        training folds (:class:`neurodecode.ridge.MultiRidgeCV`), scored on the whole fold.
    gap : int
        Samples dropped from training on both sides of each held-out fold.
    standardize : bool
        Z-score features with training statistics.
    device : str
        Torch device of the validated solver (``"cuda"`` for many targets).
    n_targets_batch : int
        Targets solved at once.
    targets : list, optional
        Labels of the targets, kept in the result.
    """
    X, Y = _check(X, Y)
    if selection not in ("validation", "inner"):
        raise DataError(f"selection must be 'validation' or 'inner', got {selection!r}")
    folds = blocked_folds(len(X), n_folds, gap) if folds is None else _check_folds(folds, len(X))
    alphas = np.asarray(alphas, dtype=np.float64)
    pred = np.full(Y.shape, np.nan)
    n_parts = 2 if selection == "validation" else 1
    chosen = np.empty((len(folds), n_parts, Y.shape[1]))
    for k, (train, held) in enumerate(folds):
        if selection == "inner":
            model = MultiRidgeCV(alphas=alphas, cv=min(5, len(train) // 2),
                                 standardize=standardize).fit(X[train], Y[train])
            pred[held] = model.predict(X[held])
            chosen[k, 0] = model.best_alphas_
            continue
        if len(held) < 4:
            raise DataError(f"fold {k} holds {len(held)} samples; validation/test halves need "
                            ">= 4 (use fewer folds)")
        half = len(held) // 2
        parts = (held[:half], held[half:])
        for start in range(0, Y.shape[1], n_targets_batch):
            cols = slice(start, start + n_targets_batch)
            paths = ridge_path(X[train], Y[train, cols], X[held], alphas,
                               standardize=standardize, device=device)  # (a, n_held, t)
            paths = {p: paths[:, :half] if p == 0 else paths[:, half:] for p in (0, 1)}
            for p in (0, 1):  # choose on part p, test on the other part
                err = ((paths[p] - Y[parts[p], cols][None]) ** 2).sum(1)  # (a, t)
                best = err.argmin(0)
                other = paths[1 - p]
                pred[parts[1 - p], cols] = np.take_along_axis(
                    other, best[None, None, :].repeat(other.shape[1], 1), 0)[0]
                chosen[k, 1 - p, cols] = alphas[best]
    covered = ~np.isnan(pred[:, 0])
    if not covered.all():
        raise DataError(f"the folds leave {(~covered).sum()} samples without a test prediction")
    parts = [held for _, held in folds] if selection == "inner" else [
        p for _, held in folds for p in (held[:len(held) // 2], held[len(held) // 2:])]
    return EncodingResult(
        predictions=pred, Y=Y, alphas=chosen, r=part_scores(Y, pred, parts, "r"),
        r2=part_scores(Y, pred, parts, "r2"), parts=parts, targets=targets,
        protocol={"n_folds": len(folds), "selection": selection, "alphas": alphas.tolist(),
                  "gap": gap, "standardize": standardize, "scores": "mean over test parts"},
    )


def part_scores(Y: np.ndarray, P: np.ndarray, parts: Sequence[np.ndarray],
                metric: str = "r") -> np.ndarray:
    """Score per test part, averaged over parts: ``(n_targets,)``."""
    return np.mean([score(Y[p], P[p], metric) for p in parts], axis=0)


def fit_banded(spaces: Mapping[str, np.ndarray], Y: np.ndarray, *, n_folds: int = 5,
               folds: Folds | None = None, alphas: Sequence[float] = ALPHAS, n_iter: int = 20,
               inner_folds: int = 4, gap: int = 0, backend: str = "numpy", seed: int = 0,
               targets: list | None = None) -> EncodingResult:
    """Banded ridge over named feature spaces, scored on contiguous held-out folds.

    Each feature space is standardised with training statistics and gets its own penalty per
    target, found by himalaya's random search (``n_iter`` Dirichlet draws of the band weights ×
    ``alphas``) over ``inner_folds`` contiguous folds of the training part. The result's
    ``r2_split[space]`` splits the held-out R² between spaces (``himalaya.scoring.
    r2_score_split``; they sum to the joint R²).

    Parameters
    ----------
    spaces : mapping of str to array, shape (n_samples, n_features_i)
    Y : array, shape (n_samples, n_targets)
    backend : str
        himalaya backend (``"numpy"``, ``"torch"``, ``"torch_cuda"``).
    """
    from himalaya.backend import set_backend
    from himalaya.ridge import BandedRidgeCV
    from himalaya.scoring import r2_score_split
    from sklearn.model_selection import KFold

    if not spaces:
        raise DataError("banded ridge needs at least one feature space")
    names = list(spaces)
    arrays = [np.asarray(spaces[n], dtype=np.float64) for n in names]
    X = np.hstack([a if a.ndim == 2 else a[:, None] for a in arrays])
    X, Y = _check(X, Y)
    bounds = np.cumsum([0] + [a.shape[1] if a.ndim == 2 else 1 for a in arrays])
    folds = blocked_folds(len(X), n_folds, gap) if folds is None else _check_folds(folds, len(X))
    be = set_backend(backend, on_error="raise")
    pred = np.full(Y.shape, np.nan)
    split = np.zeros((len(names), *Y.shape))
    chosen = np.empty((len(folds), 1, Y.shape[1]))
    for k, (train, held) in enumerate(folds):
        mean, sd = X[train].mean(0), X[train].std(0)
        sd[sd < 1e-12] = 1.0
        Xtr, Xte = (X[train] - mean) / sd, (X[held] - mean) / sd
        Xs_tr = [Xtr[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        Xs_te = [Xte[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        y_bar = Y[train].mean(0)
        model = BandedRidgeCV(
            groups="input", cv=KFold(inner_folds, shuffle=False), random_state=seed,
            solver_params={"alphas": np.asarray(alphas, np.float64), "n_iter": n_iter,
                           "progress_bar": False, "warn": False})
        model.fit(Xs_tr, Y[train] - y_bar)
        parts = be.to_numpy(model.predict(Xs_te, split=True))  # (n_spaces, n_held, t)
        split[:, held] = parts
        pred[held] = parts.sum(0) + y_bar
        chosen[k, 0] = be.to_numpy(model.best_alphas_)
    centred = Y - Y.mean(0)
    # r2_score_split assumes zero-mean targets: split the centred predictions the same way.
    r2_parts = be.to_numpy(r2_score_split(centred, split - split.mean(1, keepdims=True)))
    set_backend("numpy", on_error="warn")
    parts = [held for _, held in folds]
    return EncodingResult(
        predictions=pred, Y=Y, alphas=chosen, r=part_scores(Y, pred, parts, "r"),
        r2=part_scores(Y, pred, parts, "r2"), parts=parts,
        r2_split={n: r2_parts[i] for i, n in enumerate(names)}, targets=targets,
        protocol={"n_folds": len(folds), "selection": f"banded, {inner_folds} inner blocked "
                  f"folds, {n_iter} random-search draws", "alphas": list(map(float, alphas)),
                  "gap": gap, "spaces": names, "scores": "mean over test parts"})


def _check(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or Y.ndim != 2:
        raise DataError(f"encoding: features must be (n_samples, n_features) and responses "
                        f"(n_samples, n_targets); got {X.shape} and {Y.shape}")
    if len(X) != len(Y):
        raise DataError(f"encoding: {len(X)} feature rows but {len(Y)} response rows; align "
                        "the features to the events first")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise DataError("encoding: features or responses contain NaN/inf")
    return X, Y


def _check_folds(folds: Folds, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = [(np.asarray(tr, int), np.asarray(te, int)) for tr, te in folds]
    for tr, te in out:
        if np.intersect1d(tr, te).size:
            raise DataError("a fold's training and held-out samples overlap")
        if len(te) and (te.min() < 0 or te.max() >= n):
            raise DataError(f"fold indices outside 0..{n - 1}")
    return out
