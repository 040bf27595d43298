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


def fold_predictions(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray,
                     alphas: np.ndarray = ALPHAS) -> np.ndarray:
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

    Returns
    -------
    array, shape (n_test, n_sets, k)
    """
    X_train, X_test = _standardise(np.asarray(X_train, np.float64),
                                   np.asarray(X_test, np.float64))
    n = len(X_train)
    U, s, Vt = np.linalg.svd(X_train, full_matrices=False)
    keep = s > s.max(initial=0.0) * 1e-10  # drop null directions (constant features)
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    y_bar = Y_train.mean(0)
    UtY = np.einsum("nr,npk->rpk", U, Y_train)
    test_proj = X_test @ Vt.T  # (n_test, r)
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
                                alphas: np.ndarray = ALPHAS) -> np.ndarray:
    """Out-of-fold ridge predictions, shape like ``Y`` (n, n_sets, k).

    ``folds`` is a sequence of ``(train_index, test_index)`` pairs covering every row once.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    out = np.empty_like(Y)
    for train, test in folds:
        out[test] = fold_predictions(X[train], Y[train], X[test], alphas)
    return out
