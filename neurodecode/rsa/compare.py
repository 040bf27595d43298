"""Comparing RDMs: how similar are two representational geometries?

Every function returns a similarity matrix ``(n_rdm_a, n_rdm_b)``. Pairs that are NaN in any
input RDM (e.g. a bootstrap pairing a condition with its own copy) are left out of all of them.

Methods (rsatoolbox names in brackets, numbers agree with it):

- ``cosine``, ``corr`` (Pearson), ``spearman`` (rank correlation with average ranks);
- ``tau-a``: Kendall's τ-a, (concordant − discordant) / (n (n − 1) / 2), adequate when models
  predict ties (Nili et al. 2014, *PLoS Comput Biol* 10:e1003553);
- ``rho-a``: 12 ⟨rank-centred a, rank-centred b⟩ / (n³ − n), the expected Spearman correlation
  under random tie breaking;
- ``cosine-whitened`` [cosine_cov], ``corr-whitened`` [corr_cov]: the cosine after whitening by
  the covariance of RDM entries under i.i.d. pattern noise (Diedrichsen et al. 2021,
  arXiv:2007.02789), computed as the Frobenius cosine of the double-centred second-moment
  matrices ``G = -1/2 H D H``; ``sigma_k`` (n_cond,) whitens by known pattern variances.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau, rankdata

from neurodecode.data.errors import DataError
from neurodecode.rsa.rdm import RDMs, as_vectors, n_conditions

COMPARISONS = ("cosine", "corr", "spearman", "tau-a", "rho-a", "cosine-whitened", "corr-whitened")
_ALIASES = {"cosine_cov": "cosine-whitened", "corr_cov": "corr-whitened", "pearson": "corr"}


def compare(
    a: RDMs | np.ndarray,
    b: RDMs | np.ndarray,
    method: str = "cosine",
    sigma_k: np.ndarray | None = None,
) -> np.ndarray:
    """Similarity of every RDM in ``a`` with every RDM in ``b``.

    Parameters
    ----------
    a, b : RDMs or array, shape (n_pairs,) or (n_rdm, n_pairs)
    method : str
        One of :data:`COMPARISONS` (see the module docstring).
    sigma_k : array (n_cond,), optional
        Pattern variances for the whitened methods.

    Returns
    -------
    array, shape (n_rdm_a, n_rdm_b)
    """
    method = _ALIASES.get(method, method)
    if method not in COMPARISONS:
        raise DataError(f"unknown RDM comparison {method!r}; expected one of {COMPARISONS}")
    va, vb = as_vectors(a), as_vectors(b)
    if va.shape[1] != vb.shape[1]:
        raise DataError(f"RDMs of different sizes: {va.shape[1]} and {vb.shape[1]} pairs")
    valid = ~(np.isnan(va).any(axis=0) | np.isnan(vb).any(axis=0))
    if method in ("cosine-whitened", "corr-whitened"):
        if method == "corr-whitened":
            va = va - va[:, valid].mean(axis=1, keepdims=True)
            vb = vb - vb[:, valid].mean(axis=1, keepdims=True)
        return cosine(_whiten(va, valid, sigma_k), _whiten(vb, valid, sigma_k))
    va, vb = va[:, valid], vb[:, valid]
    if method == "cosine":
        return cosine(va, vb)
    if method == "corr":
        return cosine(_centre(va), _centre(vb))
    if method == "tau-a":
        ties_a, ties_b = [_tied_pairs(x) for x in va], [_tied_pairs(y) for y in vb]
        return np.array([[tau_a(x, y, tx, ty) for y, ty in zip(vb, ties_b, strict=True)]
                         for x, tx in zip(va, ties_a, strict=True)])
    ra, rb = _centre(rankdata(va, axis=1)), _centre(rankdata(vb, axis=1))
    if method == "spearman":
        return cosine(ra, rb)
    n = va.shape[1]
    return 12.0 * (ra @ rb.T) / (n**3 - n)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of ``a`` with the rows of ``b`` (0 for a zero vector)."""
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    out = a @ b.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out / np.outer(na, nb)
    return np.where(np.outer(na > 0, nb > 0), out, 0.0)


def tau_a(x: np.ndarray, y: np.ndarray, ties_x: float | None = None,
          ties_y: float | None = None) -> float:
    """Kendall's τ-a of two vectors, from scipy's O(n log n) τ-b and the tie counts.

    τ-b = (C − D) / sqrt((n0 − tx)(n0 − ty)), so τ-a = (C − D) / n0 = τ-b · sqrt((n0 − tx)
    (n0 − ty)) / n0, with n0 = n (n − 1) / 2 and tx, ty the pairs tied in x or y (computed
    here unless given).
    """
    n = len(x)
    n0 = n * (n - 1) / 2
    tx = _tied_pairs(x) if ties_x is None else ties_x
    ty = _tied_pairs(y) if ties_y is None else ties_y
    if tx == n0 or ty == n0:
        return 0.0
    tau_b = kendalltau(x, y).statistic
    return float(np.clip(tau_b * np.sqrt((n0 - tx) * (n0 - ty)) / n0, -1.0, 1.0))


def _tied_pairs(v: np.ndarray) -> float:
    counts = np.unique(v, return_counts=True)[1].astype(float)
    return float((counts * (counts - 1) / 2).sum())


def _centre(v: np.ndarray) -> np.ndarray:
    return v - v.mean(axis=1, keepdims=True)


def _whiten(v: np.ndarray, valid: np.ndarray, sigma_k: np.ndarray | None) -> np.ndarray:
    """RDM vectors mapped to an isotropic space: the entries of the double-centred G.

    Returns ``(n_rdm, n_pairs + n_cond)``: off-diagonal entries (times sqrt 2, as each appears
    twice in G) then the diagonal. With missing pairs, the row/column effects are removed by
    least squares over the measured entries only.
    """
    n_rdm, n_pairs = v.shape
    n_cond = n_conditions(n_pairs)
    iu = np.triu_indices(n_cond, 1)
    w = -0.5 * np.concatenate([np.where(valid, v, 0.0), np.zeros((n_rdm, n_cond))], axis=1)
    if np.all(valid):  # double centring, G = -1/2 H D H
        full = np.zeros((n_rdm, n_cond, n_cond))
        full[:, iu[0], iu[1]] = w[:, :n_pairs]
        row_means = (full.sum(axis=2) + full.sum(axis=1)) / n_cond  # diagonal of -D/2 is 0
        grand = row_means.mean(axis=1, keepdims=True)
        w[:, :n_pairs] += grand - row_means[:, iu[0]] - row_means[:, iu[1]]
        w[:, n_pairs:] = grand - 2 * row_means
    else:  # project out row/column effects, orthogonally in the metric of G's entries
        design = np.zeros((n_pairs + n_cond, n_cond))  # entry of G = row effect + column effect
        design[np.arange(n_pairs), iu[0]] = 1.0
        design[np.arange(n_pairs), iu[1]] = 1.0
        design[n_pairs + np.arange(n_cond), np.arange(n_cond)] = 1.0
        keep = np.concatenate([valid, np.ones(n_cond, bool)])
        weight = np.concatenate([np.full(n_pairs, 0.5), np.ones(n_cond)])[keep]
        x = design[keep]
        w[:, keep] -= (w[:, keep] @ x) @ np.linalg.inv(x.T @ (weight[:, None] * x)) @ (
            weight[:, None] * x
        ).T
        w[:, ~keep] = 0.0
    if sigma_k is not None:  # known pattern variances: G_ij / sqrt(s_i s_j)
        s = np.sqrt(np.asarray(sigma_k, dtype=float))
        if s.shape != (n_cond,):
            raise DataError(f"sigma_k must hold {n_cond} pattern variances, got {s.shape}")
        w /= np.concatenate([s[iu[0]] * s[iu[1]], s**2])
    w[:, :n_pairs] *= np.sqrt(2.0)
    return w

