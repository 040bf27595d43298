"""Topological RSA: geo-topological (GT) and geodesic transforms of RDMs.

Lin & Kriegeskorte (2024), "The Topology and Geometry of Neural Representations", *PNAS*
121:e2317881121 (arXiv:2309.11028). A GT transform keeps the *topology* of a representation
(which conditions are neighbours) while discarding geometry that varies between brains:

1. rank-transform the dissimilarities of each RDM and min-max scale them to [0, 1];
2. take that RDM's own quantiles ``a = q(lower)`` and ``b = q(upper)``;
3. ``GT(d) = 0`` for ``d < a``, ``(d - a) / (b - a)`` for ``a <= d <= b``, ``1`` for ``d > b``.

Because of step 1 the result is invariant to any strictly monotone transform of ``d``; with
``lower=0, upper=1`` it is the (min-max scaled) rank RDM. ``rank=False`` skips step 1 (raw
thresholds). The regimes are :data:`PRESETS`: topology-sensitive (``l >= .4, u <= .6``),
geometry-sensitive (``u - l >= .8``) and the paper's default (.2, .8).

Geodesic transforms (:func:`geodesic_transform`) shift each RDM so its smallest value is
at least 0 (negative crossnobis estimates become valid edge weights) and scale it by its
maximum, keep only short edges of the complete graph
(the ``p``-quantile of all distances, or each node's ``p``-fraction or ``k`` nearest), take
shortest paths and rank-transform them; ``two-step`` follows the geodesic step with a GT
transform. Edges of weight 0 (identical patterns, or the most negative crossnobis estimate
after the shift) are kept: they connect their conditions.

Why this differs from ``rsatoolbox.rdm.transform.geotopological_transform`` (0.3): that
function takes quantiles pooled over *all* RDMs of the object instead of per RDM, has no rank
step (so it is not invariant to monotone transforms), and saturates in place: after rescaling
the middle band to [0, 1] it sets every value above the upper *threshold* to 1, which catches
rescaled middle values whenever the threshold is below 1. Its geodesic transform builds the
graph with ``networkx.from_numpy_array``, which drops zero-weight edges.
"""

from __future__ import annotations

from typing import overload

import numpy as np
from scipy.sparse.csgraph import csgraph_from_dense, shortest_path
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

from neurodecode.data.errors import DataError
from neurodecode.rsa.rdm import RDMs, as_vectors

# name -> (lower, upper) quantiles of the GT transform
PRESETS: dict[str, tuple[float, float]] = {
    "rank": (0.0, 1.0),
    "geometry-sensitive": (0.1, 0.9),
    "geo-topological": (0.2, 0.8),
    "topology-sensitive": (0.4, 0.6),
    "adjacency": (0.5, 0.5),
}
GEODESIC_METHODS = ("p-shortest", "p-nearest", "k-nearest", "two-step")


@overload
def gt_transform(rdms: RDMs, lower: float | str = ..., upper: float | None = ...,
                 rank: bool = ..., kind: str = ...) -> RDMs: ...
@overload
def gt_transform(rdms: np.ndarray, lower: float | str = ..., upper: float | None = ...,
                 rank: bool = ..., kind: str = ...) -> np.ndarray: ...
def gt_transform(rdms, lower=0.2, upper=None, rank=True, kind="linear"):
    """Geo-topological transform of each RDM, with thresholds from its own quantiles.

    Parameters
    ----------
    rdms : RDMs or array, shape (n_pairs,) or (n_rdm, n_pairs)
    lower : float or str
        Lower quantile ``l`` in [0, 1], or a name in :data:`PRESETS` (then ``upper`` is unused).
    upper : float, optional
        Upper quantile ``u`` (>= ``l``); default .8.
    rank : bool
        Rank-transform and min-max scale first (the paper's pipeline). False: raw thresholds.
    kind : {"linear", "sigmoid"}
        ``sigmoid`` replaces the ramp by a logistic centred at ``(a + b) / 2`` that passes
        through .05 at ``a`` and .95 at ``b`` (a smooth GT).

    Returns
    -------
    RDMs or array like ``rdms``, values in [0, 1]. NaN pairs stay NaN.
    """
    lo, up = _quantiles(lower, upper)
    if kind not in ("linear", "sigmoid"):
        raise DataError(f"unknown GT kind {kind!r}; expected 'linear' or 'sigmoid'")
    v = as_vectors(rdms)
    out = np.stack([_gt_one(row, lo, up, rank, kind) for row in v])
    return _like(rdms, out, f"gt({lo:g},{up:g}{',raw' if not rank else ''})")


def _quantiles(lower: float | str, upper: float | None) -> tuple[float, float]:
    if isinstance(lower, str):
        if lower not in PRESETS:
            raise DataError(f"unknown GT preset {lower!r}; expected one of {list(PRESETS)}")
        return PRESETS[lower]
    up = 0.8 if upper is None else float(upper)
    if not 0.0 <= lower <= up <= 1.0:
        raise DataError(f"GT quantiles must satisfy 0 <= lower <= upper <= 1, got {lower}, {up}")
    return float(lower), up


def rank_minmax(v: np.ndarray) -> np.ndarray:
    """Ranks (ties averaged) min-max scaled to [0, 1]; NaN stays NaN."""
    out = np.full(v.shape, np.nan)
    ok = ~np.isnan(v)
    out[ok] = _minmax(rankdata(v[ok]))
    return out


def _minmax(v: np.ndarray) -> np.ndarray:
    span = np.nanmax(v) - np.nanmin(v)
    return np.zeros_like(v) if span == 0 else (v - np.nanmin(v)) / span


def _gt_one(d: np.ndarray, lower: float, upper: float, rank: bool, kind: str) -> np.ndarray:
    d = rank_minmax(d) if rank else _minmax(d)
    a, b = np.nanquantile(d, [lower, upper])
    if kind == "sigmoid":
        if b == a:
            return np.where(np.isnan(d), np.nan, (d > a).astype(float))
        slope = 2 * np.log(19.0) / (b - a)
        return 1.0 / (1.0 + np.exp(-slope * (d - (a + b) / 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ramp = (d - a) / (b - a) if b > a else np.zeros_like(d)
    out = np.where(d < a, 0.0, np.where(d > b, 1.0, ramp))
    return np.where(np.isnan(d), np.nan, out)


def geodesic_transform(
    rdms: RDMs | np.ndarray,
    method: str = "p-shortest",
    p: float = 0.05,
    k: int = 3,
    lower: float | str = 0.2,
    upper: float | None = None,
    rank: bool = True,
) -> RDMs | np.ndarray:
    """Geodesic (graph shortest-path) distances over each RDM's short edges.

    Parameters
    ----------
    rdms : RDMs or array, shape (n_pairs,) or (n_rdm, n_pairs)
        Complete RDMs (no NaN).
    method : {"p-shortest", "p-nearest", "k-nearest", "two-step"}
        Which edges to keep: the pairs at or below the ``p``-quantile of all dissimilarities;
        each condition's ``ceil(p (n - 1))`` nearest; each condition's ``k`` nearest (both made
        symmetric: an edge is kept if either end keeps it); or ``two-step``: ``p-shortest``
        geodesic distances, then a GT transform with (``lower``, ``upper``).
    rank : bool
        Rank-transform and min-max scale the path lengths (the paper's RGDM). False returns
        path lengths in units of the shifted, max-scaled RDM (inf between disconnected conditions).

    Returns
    -------
    RDMs or array like ``rdms``. Disconnected pairs rank above every connected pair.
    """
    if method not in GEODESIC_METHODS:
        raise DataError(f"unknown geodesic method {method!r}; expected one of {GEODESIC_METHODS}")
    v = as_vectors(rdms)
    if np.isnan(v).any():
        raise DataError("geodesic transforms need complete RDMs (no NaN pairs)")
    graph_method = "p-shortest" if method == "two-step" else method
    out = np.stack([_geodesic_one(row, graph_method, p, k) for row in v])
    if method == "two-step":
        out = gt_transform(out, lower, upper)
    elif rank:
        out = np.stack([rank_minmax(row) for row in out])
    return _like(rdms, out, f"geodesic({method})")


def _geodesic_one(d: np.ndarray, method: str, p: float, k: int) -> np.ndarray:
    d = d - min(d.min(), 0.0)
    d = d / d.max() if d.max() > 0 else d
    D = squareform(d, checks=False)
    n = len(D)
    np.fill_diagonal(D, np.inf)
    if method == "p-shortest":
        keep = D <= np.quantile(d, p)
    else:
        n_near = int(np.ceil(p * (n - 1))) if method == "p-nearest" else int(k)
        n_near = min(max(n_near, 1), n - 1)
        nearest = np.argsort(D, axis=1, kind="stable")[:, :n_near]
        keep = np.zeros_like(D, dtype=bool)
        keep[np.repeat(np.arange(n), n_near), nearest.ravel()] = True
    keep = (keep | keep.T) & ~np.eye(n, dtype=bool)
    graph = csgraph_from_dense(np.where(keep, D, np.inf), null_value=np.inf)
    paths = shortest_path(graph, method="D", directed=False)
    return squareform(paths, checks=False)


def _like(rdms: RDMs | np.ndarray, values: np.ndarray, name: str) -> RDMs | np.ndarray:
    if isinstance(rdms, RDMs):
        return rdms.with_values(values, f"{name} of {rdms.measure}")
    return values[0] if np.ndim(rdms) == 1 else values
