"""The augmented covariance matrix (ACM): covariance of the delay-embedded signal."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from neurodecode.riemann.covariance import ESTIMATORS, batch_covariances
from neurodecode.riemann.embedding import EDGES, delay_embed, estimate_lag, estimate_order


class AugmentedCovariances(TransformerMixin, BaseEstimator):
    """Covariance of trials embedded with ``order`` copies delayed by multiples of ``lag``.

    The augmented covariance matrix of Carrara & Papadopoulo (2024): its off-diagonal blocks
    are lagged cross-covariances, so it captures temporal (autoregressive) structure that the
    zero-lag covariance cannot see. Feed it to pyRiemann's ``TangentSpace`` or ``MDM``.

    Parameters
    ----------
    order : int or "auto"
        Number of delayed copies (embedding dimension). ``"auto"``: Cao's false-nearest-
        neighbour estimate on the training trials (:func:`~neurodecode.riemann.estimate_order`).
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

    Attributes
    ----------
    order_, lag_ : int
        The order and lag in use, estimated in :meth:`fit` when ``"auto"``.

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
    ) -> None:
        self.order = order
        self.lag = lag
        self.edge = edge
        self.estimator = estimator
        self.max_order = max_order
        self.max_lag = max_lag

    def fit(self, X: np.ndarray, y: Any = None) -> AugmentedCovariances:
        """Resolve ``"auto"`` order and lag from the training trials ``X``.

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
        self.lag_ = estimate_lag(X, self.max_lag) if self.lag == "auto" else self.lag
        self.order_ = (
            estimate_order(X, self.lag_, self.max_order) if self.order == "auto" else self.order
        )
        delay_embed(X[:1], self.order_, self.lag_, self.edge)  # validates order, lag, length
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Augmented covariances, shape (n_trials, n_channels*order_, n_channels*order_)."""
        check_is_fitted(self, ("order_", "lag_"))
        embedded = delay_embed(np.asarray(X, dtype=float), self.order_, self.lag_, self.edge)
        return batch_covariances(embedded, self.estimator)
