"""The augmented covariance matrix (ACM): covariance of the delay-embedded signal."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from neurodecode.riemann.covariance import ESTIMATORS, batch_covariances
from neurodecode.riemann.embedding import EDGES, delay_embed, estimate_lag, estimate_order

# At most this many training trials are used for the rank and conditioning checks in fit.
_CHECK_TRIALS = 12


def data_rank(X: np.ndarray) -> int:
    """Numerical rank of the channel covariance pooled over trials ``(n, channels, times)``.

    Below the number of channels for average-referenced data, data cleaned by ICA or with
    interpolated channels: then the zero-lag covariance of every trial is singular, and so is
    every augmented covariance built from it.
    """
    X = np.asarray(X, dtype=float)
    Xc = X - X.mean(-1, keepdims=True)
    C = np.einsum("nct,ndt->cd", Xc, Xc) / max(1, Xc.shape[0] * Xc.shape[2])
    return int(np.linalg.matrix_rank(C, hermitian=True))


def worst_condition(C: np.ndarray) -> float:
    """Smallest ratio of smallest to largest eigenvalue over matrices ``(n, p, p)``."""
    eig = np.linalg.eigvalsh(C)
    return float(np.min(eig[:, 0] / eig[:, -1]))


class AugmentedCovariances(TransformerMixin, BaseEstimator):
    """Covariance of trials embedded with ``order`` copies delayed by multiples of ``lag``.

    The augmented covariance matrix of Carrara & Papadopoulo (2024): its off-diagonal blocks
    are lagged cross-covariances, so it captures temporal (autoregressive) structure that the
    zero-lag covariance cannot see. Feed it to pyRiemann's ``TangentSpace`` or ``MDM``.

    Real EEG makes it singular in two ways, both handled in :meth:`fit` from the training
    trials when ``rank_safe`` (the default):

    - **rank-deficient channels** (average reference, ICA, interpolated channels): the data
      are projected onto their ``rank_`` leading principal components (fitted on the
      training trials) before embedding, a lossless change of basis on the data's subspace;
    - **too many rows for the samples**: an embedding has ``order * rank_`` rows but only
      ``n_times - order*lag`` samples, and band-passed EEG is close to predictable a few
      samples ahead, so high orders give numerically singular matrices long before the rows
      outnumber the samples. ``order="auto"`` is lowered until ``order * rank_`` fits in half
      the samples and every training matrix has a condition (smallest / largest eigenvalue)
      of at least ``min_condition``. A fixed order that fails this gets a ridge: every matrix
      gets ``min_condition * trace(C_mean) / p`` added to its diagonal (``ridge_``), the
      smallest documented regularisation that makes the matrices usable; ``ridge_ = 0`` when
      the data need none, so well-conditioned data give exactly MOABB's matrices.

    ``rank_safe=False`` is MOABB's ``AugmentedDataset`` + ``Covariances("cov")`` unchanged.

    Parameters
    ----------
    order : int or "auto"
        Number of delayed copies (embedding dimension). ``"auto"``: Cao's false-nearest-
        neighbour estimate on the training trials (:func:`~neurodecode.riemann.estimate_order`),
        limited as above.
    lag : int or "auto"
        Delay between copies, in samples. ``"auto"``: first minimum of the auto mutual
        information of the training trials (:func:`~neurodecode.riemann.estimate_lag`).
    edge : {"trim", "roll"}
        ``"trim"`` drops the edges so nothing wraps around (MOABB's ``AugmentedDataset``);
        ``"roll"`` shifts circularly (pyRiemann's ``TimeDelayCovariances``).
    estimator : {"cov", "scm", "oas", "lwf"}
        Covariance estimator (:func:`~neurodecode.riemann.batch_covariances`); MOABB's ACM
        pipelines use ``"cov"``.
    max_order, max_lag : int
        Upper bounds of the automatic estimates (MOABB's grid spans 1-10 for both).
    rank_safe : bool
        Detect rank deficiency and ill-conditioning and handle them (see above).
    min_condition : float
        Smallest acceptable ratio of smallest to largest eigenvalue of a training matrix.

    Attributes
    ----------
    order_, lag_ : int
        The order and lag in use, estimated in :meth:`fit` when ``"auto"``.
    order_estimate_ : int
        Cao's order before the limits (equal to ``order_`` for a fixed order).
    rank_ : int
        Numerical rank of the training trials' channel covariance.
    projection_ : ndarray of shape (rank_, n_channels) or None
        Principal subspace the trials are projected onto (None at full rank).
    ridge_ : float
        Diagonal loading added to every matrix (0 when none is needed).

    References
    ----------
    Carrara, I. & Papadopoulo, T. (2024). Classification of BCI-EEG based on the augmented
    covariance matrix. IEEE Trans. Biomed. Eng. (arXiv:2302.04508).
    """

    def __init__(
        self,
        order: int | str = "auto",
        lag: int | str = "auto",
        edge: str = "trim",
        estimator: str = "cov",
        max_order: int = 10,
        max_lag: int = 10,
        rank_safe: bool = True,
        min_condition: float = 1e-10,
    ) -> None:
        self.order = order
        self.lag = lag
        self.edge = edge
        self.estimator = estimator
        self.max_order = max_order
        self.max_lag = max_lag
        self.rank_safe = rank_safe
        self.min_condition = min_condition

    def fit(self, X: np.ndarray, y: Any = None) -> AugmentedCovariances:
        """Resolve ``"auto"`` order and lag, the subspace and the ridge from the training trials.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ignored
        """
        if self.edge not in EDGES:
            raise ValueError(f"edge must be one of {EDGES}, got {self.edge!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        X = np.asarray(X, dtype=float)
        if X.ndim != 3:
            raise ValueError(f"expected (n_trials, n_channels, n_times) data, got {X.shape}")
        n_channels, n_times = X.shape[1:]
        self.rank_ = data_rank(X) if self.rank_safe else n_channels
        self.projection_ = None
        if self.rank_ < n_channels:
            self.projection_ = _principal_subspace(X, self.rank_)
            X = self._project(X)
        self.ridge_ = 0.0
        self.lag_ = estimate_lag(X, self.max_lag) if self.lag == "auto" else self.lag
        if self.order == "auto":
            self.order_estimate_ = estimate_order(X, self.lag_, self.max_order)
            self.order_ = self._limit_order(X, self.order_estimate_)
        else:
            self.order_estimate_ = self.order_ = self.order
        delay_embed(X[:1], self.order_, self.lag_, self.edge)  # validates order, lag, length
        if self.rank_safe:
            sample = self._covariances(_some(X), ridge=0.0)
            if worst_condition(sample) < self.min_condition:
                p = sample.shape[-1]
                self.ridge_ = float(self.min_condition * np.trace(sample.mean(0)) / p)
        return self

    def _limit_order(self, X: np.ndarray, order: int) -> int:
        """The largest order <= ``order`` that the samples and the conditioning support."""
        if not self.rank_safe:
            return order
        sample = _some(X)
        while order > 1:
            n_kept = X.shape[-1] - (order * self.lag_ if self.edge == "trim" else 0)
            if 2 * order * self.rank_ <= n_kept and worst_condition(
                batch_covariances(delay_embed(sample, order, self.lag_, self.edge),
                                  self.estimator)) >= self.min_condition:  # fmt: skip
                break
            order -= 1
        return order

    def _project(self, X: np.ndarray) -> np.ndarray:
        if self.projection_ is None:
            return X
        return np.einsum("rc,nct->nrt", self.projection_, X)

    def _covariances(self, X: np.ndarray, ridge: float) -> np.ndarray:
        C = batch_covariances(delay_embed(X, self.order_, self.lag_, self.edge), self.estimator)
        if ridge:
            C = C + ridge * np.eye(C.shape[-1])
        return C

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Augmented covariances, shape (n_trials, d*order_, d*order_) with ``d = rank_``
        (the number of channels at full rank)."""
        check_is_fitted(self, ("order_", "lag_"))
        X = np.asarray(X, dtype=float)
        return self._covariances(self._project(X), self.ridge_)


def _principal_subspace(X: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank`` leading eigenvectors (rows) of the pooled channel covariance."""
    Xc = X - X.mean(-1, keepdims=True)
    C = np.einsum("nct,ndt->cd", Xc, Xc)
    _, vectors = np.linalg.eigh(C)
    return vectors[:, ::-1][:, :rank].T.copy()


def _some(X: np.ndarray) -> np.ndarray:
    """At most :data:`_CHECK_TRIALS` evenly spaced trials."""
    if X.shape[0] <= _CHECK_TRIALS:
        return X
    return X[np.linspace(0, X.shape[0] - 1, _CHECK_TRIALS).astype(int)]
