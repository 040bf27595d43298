"""Delay embedding of multichannel trials and data-driven choice of its lag and order.

The lag is the first minimum of the auto mutual information (Fraser & Swinney, 1986); the
order (embedding dimension) comes from Cao's (1997) false-nearest-neighbour statistic ``E1``.
Both are the estimates Carrara & Papadopoulo (2024) propose to replace the order x lag grid of
the augmented covariance method.

References
----------
Fraser, A. M. & Swinney, H. L. (1986). Independent coordinates for strange attractors from
mutual information. Phys. Rev. A 33(2), 1134.
Cao, L. (1997). Practical method for determining the minimum embedding dimension of a scalar
time series. Physica D 110(1-2), 43-50.
Carrara, I. & Papadopoulo, T. (2024). Classification of BCI-EEG based on the augmented
covariance matrix. IEEE Trans. Biomed. Eng. (arXiv:2302.04508).
"""

from __future__ import annotations

import numpy as np

EDGES = ("trim", "roll")


def delay_embed(X: np.ndarray, order: int, lag: int, edge: str = "trim") -> np.ndarray:
    """Stack ``order`` copies of each trial delayed by multiples of ``lag`` samples.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    order : int
        Number of copies (embedding dimension), >= 1.
    lag : int
        Delay between consecutive copies, in samples, >= 1.
    edge : {"trim", "roll"}
        ``"trim"``: copy ``p`` (0-based) is ``X[..., p*lag : n_times - (order - p)*lag]``,
        so no sample wraps around; this is MOABB's ``AugmentedDataset`` (which leaves
        ``order=1`` untrimmed). ``"roll"``: copy ``p`` is ``X`` circularly shifted by
        ``p*lag`` samples (``np.roll``), as pyRiemann's ``TimeDelayCovariances``; the length is
        kept but ``p*lag`` samples wrap around.

    Returns
    -------
    ndarray, shape (n_trials, n_channels * order, n_kept)
        Channel-major blocks: rows ``[p*n_channels, (p+1)*n_channels)`` hold copy ``p``.
        ``n_kept`` is ``n_times - order*lag`` for ``"trim"`` with ``order > 1``, else ``n_times``.
    """
    _check_order_lag(order, lag)
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")
    n_times = X.shape[-1]
    if order == 1:
        return X
    if edge == "roll":
        return np.concatenate([np.roll(X, p * lag, axis=-1) for p in range(order)], axis=-2)
    if order * lag >= n_times:
        raise ValueError(
            f"order*lag = {order}*{lag} = {order * lag} samples leaves nothing of trials with "
            f"{n_times} samples; use a smaller order or lag"
        )
    return np.concatenate(
        [X[..., p * lag : n_times - (order - p) * lag] for p in range(order)], axis=-2
    )


def _check_order_lag(order: int, lag: int) -> None:
    for name, value in (("order", order), ("lag", lag)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def auto_mutual_information(
    X: np.ndarray, max_lag: int, n_bins: int = 16, max_trials: int = 200
) -> np.ndarray:
    """Mutual information between each channel and itself ``tau`` samples later.

    Each channel is discretised into ``n_bins`` equiprobable bins (pooled over trials), and the
    joint histogram of ``(x_t, x_{t+tau})`` within trials gives the mutual information.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    max_lag : int
        Largest lag, in samples.
    n_bins : int
        Bins per channel.
    max_trials : int
        At most this many evenly spaced trials are used (the estimate is cheap and stable).

    Returns
    -------
    ami : ndarray, shape (max_lag + 1,)
        Mean over channels of the mutual information (nats) at lags ``0 .. max_lag``.
    """
    X = _subsample_trials(X, max_trials)
    n_trials, n_channels, n_times = X.shape
    if max_lag >= n_times:
        raise ValueError(f"max_lag={max_lag} must be below the trial length ({n_times} samples)")
    pooled = np.moveaxis(X, 1, 0).reshape(n_channels, -1)
    edges = np.quantile(pooled, np.linspace(0, 1, n_bins + 1)[1:-1], axis=1).T
    codes = np.stack([np.searchsorted(edges[c], pooled[c]) for c in range(n_channels)])
    codes = codes.reshape(n_channels, n_trials, n_times)
    ami = np.empty(max_lag + 1)
    offset = (np.arange(n_channels) * n_bins * n_bins)[:, None, None]
    for tau in range(max_lag + 1):
        joint = codes[:, :, : n_times - tau] * n_bins + codes[:, :, tau:] + offset
        counts = np.bincount(joint.ravel(), minlength=n_channels * n_bins * n_bins)
        p = counts.reshape(n_channels, n_bins, n_bins) / joint[0].size
        px, py = p.sum(2, keepdims=True), p.sum(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(p / (px * py)), 0.0)
        ami[tau] = terms.sum((1, 2)).mean()
    return ami


def estimate_lag(X: np.ndarray, max_lag: int = 10, n_bins: int = 16) -> int:
    """Lag (samples) at the first local minimum of the auto mutual information.

    Falls back to the lag of smallest mutual information in ``1 .. max_lag`` when the curve
    has no local minimum there (e.g. a slowly decaying dependence).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    max_lag : int
        Largest lag considered.
    n_bins : int
        Bins per channel for the mutual information.
    """
    ami = auto_mutual_information(X, max_lag + 1, n_bins=n_bins)
    for tau in range(1, max_lag + 1):
        if ami[tau] < ami[tau - 1] and ami[tau] <= ami[tau + 1]:
            return tau
    return int(np.argmin(ami[1 : max_lag + 1])) + 1


def cao_e1(
    X: np.ndarray, lag: int, max_order: int = 10, n_points: int = 400, max_trials: int = 50
) -> np.ndarray:
    """Cao's ``E1(d)`` for ``d = 1 .. max_order``, averaged over channels.

    For each channel, embedding vectors are built within trials at ``n_points`` evenly spaced
    time points; ``E(d)`` is the mean ratio of the distance (maximum norm) between a point and
    its nearest neighbour in dimension ``d + 1`` to that in dimension ``d`` (neighbours from
    the same trial closer than ``lag`` samples are excluded), and ``E1(d) = E(d+1) / E(d)``.
    ``E1`` approaches 1 once the dimension suffices to unfold the dynamics.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    lag : int
        Embedding lag in samples.
    max_order : int
        Largest dimension for which ``E1`` is returned.
    n_points : int
        Embedding vectors per channel (nearest-neighbour search is quadratic in it).
    max_trials : int
        At most this many evenly spaced trials are used.

    Returns
    -------
    e1 : ndarray, shape (max_order,)
    """
    X = _subsample_trials(X, max_trials)
    n_trials, n_channels, n_times = X.shape
    span = (max_order + 1) * lag
    if span >= n_times:
        raise ValueError(
            f"(max_order + 1) * lag = {span} samples does not fit in trials of {n_times} samples"
        )
    starts = n_times - span
    flat = np.arange(n_trials * starts)
    pick = flat[np.linspace(0, flat.size - 1, min(n_points, flat.size)).astype(int)]
    trial, t0 = np.divmod(pick, starts)
    same = trial[:, None] == trial[None, :]
    excluded = same & (np.abs(t0[:, None] - t0[None, :]) < max(lag, 1))
    excluded |= np.eye(pick.size, dtype=bool)
    idx = t0[:, None] + lag * np.arange(max_order + 2)[None, :]
    E = np.zeros(max_order + 1)
    for c in range(n_channels):
        values = X[trial[:, None], c, idx]  # (n_points, max_order + 2) delayed coordinates
        dist = np.zeros((pick.size, pick.size))
        for d in range(1, max_order + 2):
            dist = np.maximum(dist, np.abs(values[:, d - 1, None] - values[None, :, d - 1]))
            masked = np.where(excluded, np.inf, dist)
            nn = masked.argmin(1)
            near = masked[np.arange(pick.size), nn]
            nxt = np.maximum(near, np.abs(values[:, d] - values[nn, d]))
            ok = near > 0
            E[d - 1] += np.mean(nxt[ok] / near[ok]) if ok.any() else 1.0
    E /= n_channels
    return E[1:] / E[:-1]


def estimate_order(
    X: np.ndarray, lag: int, max_order: int = 10, threshold: float = 0.9
) -> int:
    """Embedding dimension from Cao's ``E1``: ``d0 + 1`` for the first ``d0`` with
    ``E1(d0) >= threshold``, capped at ``max_order``.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
    lag : int
        Embedding lag in samples (e.g. from :func:`estimate_lag`).
    max_order : int
        Largest order returned.
    threshold : float
        Saturation level of ``E1`` (1 for a noise-free deterministic signal).
    """
    e1 = cao_e1(X, lag, max_order=max_order)
    above = np.flatnonzero(e1 >= threshold)
    d0 = int(above[0]) + 1 if above.size else max_order
    return min(d0 + 1, max_order)


def _subsample_trials(X: np.ndarray, max_trials: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 3:
        raise ValueError(f"expected (n_trials, n_channels, n_times) data, got shape {X.shape}")
    if X.shape[0] > max_trials:
        X = X[np.linspace(0, X.shape[0] - 1, max_trials).astype(int)]
    return X
