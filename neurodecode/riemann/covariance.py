"""Covariance estimation on a whole batch of trials at once (numpy or torch).

pyRiemann's ``oas`` and ``lwf`` estimators call scikit-learn once per trial; here the
sample covariance, the shrinkage intensity and the shrunk matrix are computed for every trial
in one batched matrix product, with the same formulas as scikit-learn, so the results are
equal to pyRiemann's ``Covariances`` to rounding error.

References
----------
Ledoit, O. & Wolf, M. (2004). A well-conditioned estimator for large-dimensional covariance
matrices. J. Multivariate Anal. 88(2), 365-411.
Chen, Y., Wiesel, A., Eldar, Y. C. & Hero, A. O. (2010). Shrinkage algorithms for MMSE
covariance estimation. IEEE Trans. Signal Process. 58(10), 5016-5029.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

ESTIMATORS = ("scm", "cov", "oas", "lwf")

# Trials are processed in chunks of at most this many input values (float64: 64 MiB), so no
# temporary (e.g. a centred copy for Ledoit-Wolf) ever doubles the memory of a large batch.
_CHUNK_VALUES = 8 * 1024 * 1024
# Without a centred copy, C = X X^T / n - m m^T loses about log10(m^2 / var) digits; chunks
# where a channel's mean exceeds this many standard deviations are centred explicitly.
_MAX_OFFSET = 100.0


def batch_covariances(X: Any, estimator: str = "scm") -> Any:
    """Covariance matrices of many multichannel trials, computed together.

    Parameters
    ----------
    X : ndarray or torch.Tensor, shape (..., n_channels, n_times)
        Time series (any unit; the covariance is in that unit squared).
    estimator : {"scm", "cov", "oas", "lwf"}
        ``"scm"`` sample covariance normalised by ``n_times``; ``"cov"`` unbiased
        (``n_times - 1``, as :func:`numpy.cov`); ``"oas"`` Oracle Approximating Shrinkage
        (Chen et al., 2010); ``"lwf"`` Ledoit-Wolf shrinkage (2004). The same names and
        definitions as pyRiemann's :func:`~pyriemann.utils.covariance.covariances`.

    Returns
    -------
    C : same type as ``X``, shape (..., n_channels, n_channels)
        One symmetric matrix per trial, on the device of ``X`` for tensors.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown covariance estimator {estimator!r}; expected one of {ESTIMATORS}")
    if X.ndim < 2:
        raise ValueError(f"expected (..., n_channels, n_times) data, got shape {tuple(X.shape)}")
    if X.shape[-1] < 2:
        raise ValueError(f"need at least 2 time samples per trial, got {X.shape[-1]}")
    batch = tuple(X.shape[:-2])
    n_channels, n_times = X.shape[-2:]
    flat = X.reshape((-1, n_channels, n_times))
    if _is_numpy(flat) and not np.issubdtype(flat.dtype, np.floating):
        flat = flat.astype(np.float64)
    per_chunk = max(1, _CHUNK_VALUES // (n_channels * n_times))
    chunks = [
        _estimate(flat[i : i + per_chunk], estimator) for i in range(0, flat.shape[0], per_chunk)
    ]
    out = _concat(chunks, like=X) if chunks else _empty(X, n_channels)
    return out.reshape(batch + (n_channels, n_channels))


def _estimate(X: Any, estimator: str) -> Any:
    """Estimator on one chunk ``(n, n_channels, n_times)``."""
    n_channels, n_times = X.shape[-2:]
    mean = X.mean(-1)
    Xc = None
    # one product on the data as they are (no centred copy), then remove the mean
    S = X @ _t(X) / n_times - mean[:, :, None] * mean[:, None, :]
    if bool((mean**2 > _MAX_OFFSET**2 * S.diagonal(0, -2, -1)).any()):
        Xc = X - mean[..., None]
        S = Xc @ _t(Xc) / n_times
    if estimator == "scm":
        return S
    if estimator == "cov":
        return S * (n_times / (n_times - 1))
    if n_channels == 1:
        return S
    mu = _trace(S) / n_channels
    if estimator == "oas":
        alpha = (S**2).mean((-2, -1))
        num = alpha + mu**2
        den = (n_times + 1) * (alpha - mu**2 / n_channels)
        shrinkage = _where(den == 0, 1.0, _minimum(num / _nonzero(den), 1.0))
    else:
        # Ledoit-Wolf as in scikit-learn's ledoit_wolf_shrinkage (unblocked form).
        sq_norms = _centred_sq_norms(X, mean) if Xc is None else _sq_norms(Xc)
        beta_sum = (sq_norms**2).sum(-1)
        delta_sum = (S**2).sum((-2, -1))
        beta = (beta_sum / n_times - delta_sum) / (n_channels * n_times)
        delta = (delta_sum - 2.0 * mu * _trace(S) + n_channels * mu**2) / n_channels
        beta = _minimum(beta, delta)
        shrinkage = _where(beta == 0, 0.0, beta / _nonzero(delta))
    shrinkage = shrinkage[:, None, None]
    eye = _eye(n_channels, like=S)
    return (1.0 - shrinkage) * S + (shrinkage * mu[:, None, None]) * eye


def _sq_norms(X: Any) -> Any:
    """Squared norm of each time sample over channels, shape (n, n_times)."""
    return np.einsum("nct,nct->nt", X, X) if _is_numpy(X) else (X**2).sum(-2)


def _centred_sq_norms(X: Any, mean: Any) -> Any:
    """``_sq_norms(X - mean)`` without the centred copy: |x|^2 - 2 m.x + |m|^2."""
    if _is_numpy(X):
        cross = np.einsum("nc,nct->nt", mean, X)
    else:
        cross = (mean[:, None, :] @ X)[:, 0]
    return _sq_norms(X) - 2.0 * cross + (mean**2).sum(-1)[:, None]


# --------------------------------------------------------------------- numpy/torch helpers
def _is_numpy(a: Any) -> bool:
    return isinstance(a, np.ndarray)


def _t(a: Any) -> Any:
    return np.swapaxes(a, -1, -2) if _is_numpy(a) else a.transpose(-1, -2)


def _trace(a: Any) -> Any:
    if _is_numpy(a):
        return np.trace(a, axis1=-2, axis2=-1)
    return a.diagonal(dim1=-2, dim2=-1).sum(-1)


def _eye(n: int, like: Any) -> Any:
    if _is_numpy(like):
        return np.eye(n, dtype=like.dtype)
    import torch

    return torch.eye(n, dtype=like.dtype, device=like.device)


def _where(cond: Any, a: float, b: Any) -> Any:
    if _is_numpy(b):
        return np.where(cond, a, b)
    import torch

    return torch.where(cond, torch.full_like(b, a), b)


def _minimum(a: Any, b: Any) -> Any:
    if _is_numpy(a):
        return np.minimum(a, b)
    import torch

    return torch.clamp(a, max=b) if isinstance(b, float) else torch.minimum(a, b)


def _nonzero(a: Any) -> Any:
    """``a`` with zeros replaced by ones (the caller masks those entries)."""
    return _where(a == 0, 1.0, a)


def _concat(chunks: list, like: Any) -> Any:
    if _is_numpy(like):
        return np.concatenate(chunks)
    import torch

    return torch.cat(chunks)


def _empty(like: Any, n: int) -> Any:
    if _is_numpy(like):
        return np.zeros((0, n, n), dtype=like.dtype)
    import torch

    return torch.zeros((0, n, n), dtype=like.dtype, device=like.device)


class BatchCovariances(TransformerMixin, BaseEstimator):
    """Covariance matrices of trials, computed in batches (a drop-in for pyRiemann's).

    Parameters
    ----------
    estimator : {"scm", "cov", "oas", "lwf"}
        See :func:`batch_covariances`.
    device : str or None
        ``None`` computes with numpy on numpy input and with torch on tensor input;
        a torch device name (``"cpu"``, ``"cuda"``) computes there in float64 and returns
        numpy for numpy input.

    Examples
    --------
    >>> covs = BatchCovariances("oas").fit_transform(X)  # X: (n_trials, n_channels, n_times)
    """

    def __init__(self, estimator: str = "scm", device: str | None = None) -> None:
        self.estimator = estimator
        self.device = device

    def fit(self, X: Any, y: Any = None) -> BatchCovariances:
        """Nothing to learn; checks the estimator name."""
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"unknown covariance estimator {self.estimator!r}; expected one of {ESTIMATORS}"
            )
        return self

    def transform(self, X: Any) -> Any:
        """Covariances, shape (n_trials, n_channels, n_channels), same type as ``X``."""
        is_tensor = type(X).__module__.startswith("torch")
        if self.device is None:
            return batch_covariances(X if is_tensor else np.asarray(X), self.estimator)
        import torch

        if is_tensor:
            return batch_covariances(X.to(self.device), self.estimator)
        tensor = torch.as_tensor(np.asarray(X, dtype=np.float64), device=self.device)
        return batch_covariances(tensor, self.estimator).cpu().numpy()

    def __sklearn_is_fitted__(self) -> bool:
        return True
