"""Metrics and targets for ordinal ratings (emotion valence/arousal on a 1-5 scale).

- :func:`ordinal_targets` — Gaussian label smoothing over ordered classes (HiSTN);
  :func:`onehot_targets` — the plain one-hot targets, a separate function on purpose (HiSTN's
  published Keras script trains on smoothed labels in its "one-hot" mode).
- :func:`seq2hr` — Seq2HR, the share of samples whose two most probable classes are adjacent
  ratings and contain the true one.
- :func:`macro_f1` — F1 averaged over classes with equal weight (HiSTN's "mean F1").
- :func:`mean_absolute_rating_error` — mean ``|predicted - true|`` in rating steps.
- :func:`ordinal_report` — all of the above (plus accuracy and chance levels) from
  probabilities.

Classes are ordered ratings: class index ``k`` of a probability matrix is the ``k``-th entry
of ``classes`` (default ``0..K-1``), and distances between classes are differences of
these values.
"""

from __future__ import annotations

import numpy as np

from neurodecode.errors import DataError


def _classes(n_classes: int, classes) -> np.ndarray:
    values = np.arange(n_classes, dtype=float) if classes is None else np.asarray(classes, float)
    if values.shape != (n_classes,):
        raise DataError(f"classes must have {n_classes} values, got shape {values.shape}")
    if np.any(np.diff(values) <= 0):
        raise DataError(f"classes must be strictly increasing ratings, got {values.tolist()}")
    return values


def _indices(y, values: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    idx = np.searchsorted(values, y)
    bad = (idx >= len(values)) | (values[np.minimum(idx, len(values) - 1)] != y)
    if np.any(bad):
        raise DataError(
            f"labels {np.unique(y[bad]).tolist()} are not among the classes {values.tolist()}"
        )
    return idx


def ordinal_targets(y, n_classes: int, sigma: float = 0.5, classes=None) -> np.ndarray:
    """Gaussian-smoothed targets over ordered classes.

    ``target[i, k] ∝ exp(-(c_k - y_i)² / (2 σ²))``, normalised to sum to 1 (HiSTN, ANCHORS
    section 4; the ordinal label distribution of Gao et al. 2017, "Deep label distribution
    learning", IEEE TIP 26:2825).

    Parameters
    ----------
    y : array of shape (n,)
        True labels, values of ``classes``.
    n_classes : int
    sigma : float
        Width in rating steps (> 0). For one-hot targets call :func:`onehot_targets`.
    classes : array of shape (n_classes,), optional
        The rating of each class (default ``0..n_classes-1``).

    Returns
    -------
    ndarray of shape (n, n_classes)
    """
    if not sigma > 0:
        raise DataError(f"sigma must be > 0 (got {sigma}); use onehot_targets for one-hot labels")
    values = _classes(n_classes, classes)
    y = values[_indices(y, values)]
    logits = -((values[None, :] - y[:, None]) ** 2) / (2.0 * sigma**2)
    t = np.exp(logits - logits.max(axis=1, keepdims=True))
    return t / t.sum(axis=1, keepdims=True)


def onehot_targets(y, n_classes: int, classes=None) -> np.ndarray:
    """One-hot targets ``(n, n_classes)``: 1 at the true class, 0 elsewhere."""
    values = _classes(n_classes, classes)
    out = np.zeros((len(np.ravel(y)), n_classes))
    out[np.arange(out.shape[0]), _indices(y, values)] = 1.0
    return out


def seq2hr(proba, y, classes=None) -> float:
    """Seq2HR: the share of samples whose top-2 classes are adjacent and contain the truth.

    A sample counts when the ratings ``r1``, ``r2`` of its most and second most probable
    classes satisfy ``|r1 - r2| = 1`` and the true rating is ``r1`` or ``r2`` (ANCHORS
    section 4). Ties are broken towards the lower class index, as ``argsort`` is stable.

    Parameters
    ----------
    proba : array of shape (n, n_classes)
        Predicted class probabilities (or any scores ordered like them).
    y : array of shape (n,)
        True ratings, values of ``classes``.
    classes : array of shape (n_classes,), optional
        Rating of each column (default ``0..n_classes-1``).
    """
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise DataError(f"proba must be (n_samples, n_classes >= 2), got {proba.shape}")
    values = _classes(proba.shape[1], classes)
    true = values[_indices(y, values)]
    if len(true) != len(proba):
        raise DataError(f"{len(true)} labels for {len(proba)} rows of probabilities")
    order = np.argsort(-proba, axis=1, kind="stable")
    r1, r2 = values[order[:, 0]], values[order[:, 1]]
    hit = (np.abs(r1 - r2) == 1) & ((true == r1) | (true == r2))
    return float(hit.mean())


def macro_f1(y_true, y_pred, labels=None) -> float:
    """F1 of each class averaged with equal weights (scikit-learn's ``average="macro"``).

    ``labels`` fixes the classes averaged over (default: those present in either array).
    """
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def mean_absolute_rating_error(y_true, y_pred) -> float:
    """Mean ``|y_pred - y_true|`` in rating steps."""
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    if y_true.shape != y_pred.shape:
        raise DataError(f"{len(y_true)} true ratings but {len(y_pred)} predictions")
    return float(np.mean(np.abs(y_pred - y_true)))


def ordinal_report(proba, y, classes=None) -> dict[str, float]:
    """Accuracy, macro-F1, Seq2HR and mean absolute rating error of argmax predictions.

    Also reports what a classifier ignoring the signal reaches on the same labels:
    ``chance_accuracy`` (always the most frequent true class) and ``chance_mae`` (always the
    median true rating, the constant that minimises the absolute error).
    """
    proba = np.asarray(proba, dtype=float)
    values = _classes(proba.shape[1], classes)
    y = np.asarray(y, dtype=float).ravel()
    pred = values[np.argmax(proba, axis=1)]
    _, counts = np.unique(y, return_counts=True)
    return {
        "accuracy": float(np.mean(pred == y)),
        "macro_f1": macro_f1(y, pred),
        "seq2hr": seq2hr(proba, y, values),
        "mae": mean_absolute_rating_error(y, pred),
        "chance_accuracy": float(counts.max() / len(y)),
        "chance_mae": mean_absolute_rating_error(y, np.full(len(y), np.median(y))),
        "n": float(len(y)),
    }
