"""Cross-validated ridge read-outs for many target vectors at once, for permutation nulls.

A leakage test asks whether a target (a demographic) can be predicted from a representation
better than chance. The honest null refits the whole cross-validated procedure on permuted
targets: out-of-fold predictions of a permuted target are *not* like fixed predictions scored
against a permuted target (each fold's intercept is fitted on the other folds, so out-of-fold
predictions are anti-correlated with the target under the null and R² sits below zero; a model
shrunk to a constant gives a degenerate band). Refitting with scikit-learn for every
permutation is slow, but a ridge fit is linear in the target, so all permutations share one
SVD per fold:

for a training fold with standardised, centred features ``Xc = U S V^T``, the fitted values
are ``y_bar + U diag(s^2 / (s^2 + a)) U^T y``; the leave-one-out residuals are
``(y - y_hat) / (1 - h)`` with ``h = 1/n + sum_r U^2 s^2 / (s^2 + a)`` (exact for penalised
least squares with an unpenalised intercept); each target vector gets the ``a`` with the
smallest leave-one-out squared error (as :class:`sklearn.linear_model.RidgeCV` picks it), and
the held-out fold gets ``y_bar + (X_test - mean) / scale V diag(s / (s^2 + a)) U^T y``.

Wide data (``p`` features much more than ``n`` participants, e.g. 20,000 edges): the same
``U`` and ``s`` come from the eigendecomposition of the ``n x n`` Gram matrix
``Xc Xc^T = U diag(s^2) U^T``, and the test projections from the cross-Gram,
``X_test V = X_test Xc^T U diag(1/s)``; no ``p``-sized SVD is needed (the kernel form of ridge
regression, e.g. Hastie, Tibshirani & Friedman, Elements of Statistical Learning, 2009,
sec. 18.3.5). ``solver="auto"`` takes it when ``p > 2 n``. Directions with
``s < 1e-6 * max(s)`` are dropped in both forms (the Gram matrix squares the condition number,
so smaller singular values are not resolved by it). A fold's factors do not depend on the
targets, so :func:`fold_factors` computes them once for every target of a report.

Classification follows :class:`sklearn.linear_model.RidgeClassifier`: targets coded ``+-1``
(one column for two classes, one per class otherwise); the decision is the ridge output
(binary) or its arg-max (multiclass).
"""

from __future__ import annotations

import numpy as np

ALPHAS = np.logspace(-2, 5, 15)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(0)
    scale = train.std(0)
    scale[scale == 0] = 1.0
    return (train - mean) / scale, (test - mean) / scale


RANK_TOL = 1e-6


def fold_factors(X_train: np.ndarray, X_test: np.ndarray, solver: str = "auto"):
    """``(U, s, test_proj)`` of a training fold: left singular vectors and singular values
    of the standardised, centred training features (null directions dropped) and the
    standardised test features projected on the right singular vectors.

    ``solver``: ``"svd"`` (thin SVD of the ``n x p`` matrix), ``"kernel"`` (eigendecomposition
    of the ``n x n`` Gram matrix) or ``"auto"`` (kernel when ``p > 2 n``).
    """
    if solver not in ("auto", "svd", "kernel"):
        raise ValueError(f"solver must be 'auto', 'svd' or 'kernel', got {solver!r}")
    X_train, X_test = _standardise(np.asarray(X_train, np.float64),
                                   np.asarray(X_test, np.float64))
    n, p = X_train.shape
    if solver == "kernel" or (solver == "auto" and p > 2 * n):
        eigval, U = np.linalg.eigh(X_train @ X_train.T)
        eigval, U = eigval[::-1], U[:, ::-1]
        s = np.sqrt(np.clip(eigval, 0.0, None))
        keep = s > s.max(initial=0.0) * RANK_TOL
        U, s = U[:, keep], s[keep]
        test_proj = (X_test @ X_train.T) @ U / s
    else:
        U, s, Vt = np.linalg.svd(X_train, full_matrices=False)
        keep = s > s.max(initial=0.0) * RANK_TOL  # drop null directions (constant features)
        U, s, Vt = U[:, keep], s[keep], Vt[keep]
        test_proj = X_test @ Vt.T  # (n_test, r)
    return U, s, test_proj


def fold_predictions(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray,
                     alphas: np.ndarray = ALPHAS, solver: str = "auto",
                     factors=None) -> np.ndarray:
    """Ridge predictions for many target sets, alpha chosen per set by leave-one-out.

    Parameters
    ----------
    X_train, X_test : arrays, shape (n_train, p) and (n_test, p)
        Features, standardised with the training statistics inside.
    Y_train : array, shape (n_train, n_sets, k)
        ``n_sets`` target sets (e.g. the real target and its permutations) of ``k`` columns;
        one alpha is chosen per set (shared by its ``k`` columns).
    alphas : array of float
        Candidate penalties.
    solver : {"auto", "svd", "kernel"}
        How the fold is factorised (:func:`fold_factors`); same numbers either way.
    factors : tuple, optional
        Precomputed :func:`fold_factors` of this fold (then ``X_train``/``X_test`` are unused).

    Returns
    -------
    array, shape (n_test, n_sets, k)
    """
    U, s, test_proj = factors if factors is not None else fold_factors(X_train, X_test, solver)
    n = len(U)
    y_bar = Y_train.mean(0)
    UtY = np.einsum("nr,npk->rpk", U, Y_train)
    loo_error = np.empty((len(alphas), Y_train.shape[1]))
    for i, alpha in enumerate(alphas):
        shrink = s ** 2 / (s ** 2 + alpha)
        fitted = y_bar + np.einsum("nr,rpk->npk", U, shrink[:, None, None] * UtY)
        leverage = 1.0 / n + (U ** 2) @ shrink
        loo = (Y_train - fitted) / (1.0 - leverage)[:, None, None]
        loo_error[i] = (loo ** 2).sum(axis=(0, 2))
    best = loo_error.argmin(0)  # (n_sets,)
    gain = s[None, :] / (s[None, :] ** 2 + alphas[best][:, None])  # (n_sets, r)
    return y_bar + np.einsum("tr,rpk->tpk", test_proj, gain.T[:, :, None] * UtY)


def cross_validated_predictions(X: np.ndarray, Y: np.ndarray, folds,
                                alphas: np.ndarray = ALPHAS, solver: str = "auto",
                                factors=None) -> np.ndarray:
    """Out-of-fold ridge predictions, shape like ``Y`` (n, n_sets, k).

    ``folds`` is a sequence of ``(train_index, test_index)`` pairs covering every row once;
    ``factors`` optionally holds each fold's precomputed :func:`fold_factors`.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    out = np.empty_like(Y)
    for i, (train, test) in enumerate(folds):
        f = factors[i] if factors is not None else fold_factors(X[train], X[test], solver)
        out[test] = fold_predictions(None, Y[train], None, alphas, factors=f)
    return out
