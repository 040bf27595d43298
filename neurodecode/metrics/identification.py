"""Two-way identification and top-k retrieval in any feature or embedding space.

Two-way identification (Kay et al. 2008; as computed by Ozcelik & VanRullen 2023 and
MindEye/MindEye2): with features of N ground truths and N reconstructions (or N true and N
predicted embeddings), ``r[i, j] = corr(true_i, pred_j)`` (Pearson). Reconstruction ``j`` scores
the fraction of the N − 1 other ground truths ``i`` with ``r[i, j] < r[j, j]``; the metric is
the mean over ``j`` (chance 0.5). Ties count as failures.

Retrieval (MindEye): cosine similarity between predicted and true embeddings, in random
subsets of ``set_size`` test items (300 in the papers, 30 subsets). Forward (brain → image):
for each prediction, is its own true embedding among the ``k`` most similar true embeddings of
the subset? Backward (image → brain): for each true embedding, is its own prediction among the
``k`` most similar predictions? Ties count against the hit; chance is ``k / set_size``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurodecode.data.errors import DataError

DIRECTIONS = ("forward", "backward")


def _flat(x: np.ndarray, center: bool) -> np.ndarray:
    """A float64 C-ordered copy with rows flattened (one pass), optionally centred in place."""
    x = np.array(x, dtype=np.float64, order="C")
    x = x.reshape(len(x), -1)
    if center:
        x -= x.mean(axis=1, keepdims=True)
    return x


def _unit_rows(x: np.ndarray, center: bool) -> np.ndarray:
    """Rows flattened, optionally centred, scaled to unit norm (zero rows stay 0)."""
    x = _flat(x, center)
    norm = np.sqrt(np.einsum("nd,nd->n", x, x))[:, None]
    return np.divide(x, norm, out=x, where=norm > 0)


def _check_pair(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(true), np.asarray(pred)
    if len(true) != len(pred) or true[0].size != pred[0].size:
        raise DataError(
            f"expected matching true and predicted features, found shapes {true.shape} and "
            f"{pred.shape}; pass one prediction per true item, in the same order"
        )
    if len(true) < 2:
        raise DataError(f"identification needs at least 2 items, found {len(true)}")
    return true, pred


def rowwise_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows, ``r[i] = corr(a[i], b[i])``.

    Parameters
    ----------
    a, b : array, shape (n, ...)
        Flattened beyond the first axis.

    Returns
    -------
    ndarray, shape (n,), float64 (0 where a row is constant)
    """
    a, b = _flat(a, True), _flat(b, True)
    dot = np.einsum("nd,nd->n", a, b)
    norms = np.sqrt(np.einsum("nd,nd->n", a, a) * np.einsum("nd,nd->n", b, b))
    return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)


def pairwise_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between all rows, ``r[i, j] = corr(a[i], b[j])``.

    Parameters
    ----------
    a : array, shape (n, ...)
    b : array, shape (m, ...)

    Returns
    -------
    ndarray, shape (n, m), float64
    """
    return _unit_rows(a, True) @ _unit_rows(b, True).T


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between all rows, ``s[i, j] = cos(a[i], b[j])``, shape (n, m)."""
    return _unit_rows(a, False) @ _unit_rows(b, False).T


def correlation_distance(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-item correlation distance ``1 − corr(true_i, pred_i)``, shape (n,)."""
    true, pred = _check_pair(true, pred)
    return 1.0 - rowwise_correlation(true, pred)


def two_way_from_similarity(r: np.ndarray) -> np.ndarray:
    """Per-item two-way identification from a similarity matrix.

    Parameters
    ----------
    r : ndarray, shape (n, n)
        ``r[i, j]`` = similarity of true item ``i`` and prediction ``j``.

    Returns
    -------
    ndarray, shape (n,)
        For each prediction ``j``, the fraction of the other ``n − 1`` true items ``i`` with
        ``r[i, j] < r[j, j]``.
    """
    r = np.asarray(r, dtype=np.float64)
    n = len(r)
    if r.shape != (n, n) or n < 2:
        raise DataError(f"expected a square similarity matrix with n >= 2, found {r.shape}")
    wins = (r < np.diag(r)[None, :]).sum(axis=0)  # the diagonal never beats itself
    return wins / (n - 1)


def two_way_identification(
    true: np.ndarray, pred: np.ndarray, *, per_item: bool = False
) -> float | np.ndarray:
    """Two-way identification accuracy of predictions against true features (chance 0.5).

    Parameters
    ----------
    true : array, shape (n, ...)
        Ground-truth features or embeddings (flattened beyond the first axis).
    pred : array, shape (n, ...)
        Reconstruction features or predicted embeddings, in the same order.
    per_item : bool
        Return the per-prediction fractions instead of their mean.

    Returns
    -------
    float, or ndarray of shape (n,) when ``per_item``
    """
    true, pred = _check_pair(true, pred)
    scores = two_way_from_similarity(pairwise_correlation(true, pred))
    return scores if per_item else float(scores.mean())


def retrieval_hits(
    pred: np.ndarray,
    true: np.ndarray,
    *,
    k: Sequence[int] = (1, 5),
    set_size: int | None = 300,
    n_subsets: int = 30,
    seed: int = 0,
) -> tuple[np.ndarray, dict[tuple[str, int], np.ndarray]]:
    """Top-k retrieval hits in random subsets (the raw material of :func:`retrieval_topk`).

    Parameters
    ----------
    pred, true : array, shape (n, ...)
        Predicted and true embeddings, item ``i`` of each belonging together.
    k : sequence of int
        Ranks to score.
    set_size : int or None
        Items per subset (None: all ``n``). Must not exceed ``n``.
    n_subsets : int
        Number of random subsets, drawn without replacement within a subset.
    seed : int
        Seed of the subset draws.

    Returns
    -------
    subsets : ndarray of int, shape (n_subsets, set_size)
        Item indices of each subset.
    hits : dict
        ``hits[(direction, k)]`` is a boolean array (n_subsets, set_size): whether the item at
        that position was retrieved within the top ``k`` (``direction`` is ``"forward"``,
        brain → image, or ``"backward"``, image → brain).
    """
    true, pred = _check_pair(true, pred)
    n = len(true)
    m = n if set_size is None else int(set_size)
    if not 2 <= m <= n:
        raise DataError(
            f"retrieval set size must be between 2 and the number of items ({n}), found {m}; "
            "pass a smaller set_size (and report it) or set_size=None to use all items"
        )
    if any(kk < 1 or kk > m for kk in k):
        raise DataError(f"k must lie in [1, set_size={m}], found {tuple(k)}")
    rng = np.random.default_rng(seed)
    subsets = rng.permuted(np.tile(np.arange(n), (n_subsets, 1)), axis=1)[:, :m]
    sim = cosine_similarity(pred, true)[subsets[:, :, None], subsets[:, None, :]]  # (S, m, m)
    own = np.diagonal(sim, axis1=1, axis2=2)  # (S, m): cos(pred_a, true_a)
    # Rank = how many other items are at least as similar (ties count against the hit).
    ranks = {
        "forward": (sim >= own[:, :, None]).sum(axis=2) - 1,
        "backward": (sim >= own[:, None, :]).sum(axis=1) - 1,
    }
    hits = {(d, int(kk)): ranks[d] < kk for d in DIRECTIONS for kk in k}
    return subsets, hits


def retrieval_topk(
    pred: np.ndarray,
    true: np.ndarray,
    *,
    k: Sequence[int] = (1, 5),
    set_size: int | None = 300,
    n_subsets: int = 30,
    seed: int = 0,
) -> dict[str, float | int]:
    """Top-k retrieval accuracy, forward and backward, in random subsets.

    Parameters
    ----------
    pred, true, k, set_size, n_subsets, seed
        As in :func:`retrieval_hits`.

    Returns
    -------
    dict
        ``top{k}_forward`` and ``top{k}_backward`` (fractions, averaged over all subsets),
        ``chance_top{k}`` (``k / set_size``), and the protocol: ``set_size``, ``n_subsets``,
        ``n_items``, ``seed``, ``similarity`` ("cosine").
    """
    subsets, hits = retrieval_hits(
        pred, true, k=k, set_size=set_size, n_subsets=n_subsets, seed=seed
    )
    m = subsets.shape[1]
    out: dict[str, float | int] = {f"top{kk}_{d}": float(h.mean()) for (d, kk), h in hits.items()}
    out.update({f"chance_top{kk}": kk / m for kk in k})
    out.update(
        set_size=m, n_subsets=int(n_subsets), n_items=len(pred), seed=seed, similarity="cosine"
    )
    return out
