"""Retrieval ranks: top-k accuracy and median rank against a stated candidate set.

As in Défossez et al. (2023) and Benchetrit, Banville & King (2024): each decoded embedding is
compared (cosine similarity) with the embeddings of every candidate image; the rank of its own
image (1 = best) gives top-k accuracy (rank <= k) and the median rank. The candidate set is the
test images themselves (the "small" set) optionally enlarged with distractor images that were
never shown during training (the "large" set). Ties count against the hit (a constant
prediction ranks last, not first). Chance: top-k = k / n_candidates, median rank =
(n_candidates + 1) / 2.

:func:`neurodecode.metrics.identification.retrieval_topk` scores random subsets of a fixed size
(the NSD protocol, 300 images); this module scores one whole set and returns ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurodecode.data.errors import DataError
from neurodecode.metrics.identification import cosine_similarity


def retrieval_ranks(pred: np.ndarray, true: np.ndarray,
                    distractors: np.ndarray | None = None) -> np.ndarray:
    """Rank (1 = best) of each item's own true embedding among all candidates.

    Parameters
    ----------
    pred, true : array, shape (n, ...)
        Decoded and true embeddings; row ``i`` of each belong together.
    distractors : array, shape (m, ...), optional
        Extra candidate embeddings (images not in the query set).

    Returns
    -------
    ndarray of int, shape (n,)
        ``1 + number of other candidates at least as similar as the own one``.
    """
    pred, true = np.asarray(pred), np.asarray(true)
    if len(pred) != len(true) or pred[0].size != true[0].size:
        raise DataError(f"expected one prediction per true embedding of the same size, got "
                        f"shapes {pred.shape} and {true.shape}")
    if len(pred) < 2:
        raise DataError(f"retrieval needs at least 2 items, found {len(pred)}")
    candidates = true if distractors is None else np.concatenate(
        [true.reshape(len(true), -1), np.asarray(distractors).reshape(len(distractors), -1)])
    sim = cosine_similarity(pred, candidates)  # (n, n + m)
    own = sim[np.arange(len(pred)), np.arange(len(pred))]
    return (sim >= own[:, None]).sum(1)  # counts the own candidate: rank 1 when alone on top


def retrieval_scores(pred: np.ndarray, true: np.ndarray, *, k: Sequence[int] = (1, 5),
                     distractors: np.ndarray | None = None) -> dict[str, float | int]:
    """Top-k accuracy and median rank with the protocol stored beside them.

    Returns
    -------
    dict
        ``top{k}``, ``chance_top{k}``, ``median_rank``, ``chance_median_rank``,
        ``n_queries``, ``n_candidates`` (the retrieval-set size), ``similarity``.
    """
    ranks = retrieval_ranks(pred, true, distractors)
    n_cand = len(true) + (0 if distractors is None else len(distractors))
    out: dict[str, float | int] = {f"top{kk}": float((ranks <= kk).mean()) for kk in k}
    out.update({f"chance_top{kk}": min(kk, n_cand) / n_cand for kk in k})
    out.update(median_rank=float(np.median(ranks)), chance_median_rank=(n_cand + 1) / 2,
               n_queries=len(ranks), n_candidates=n_cand, similarity="cosine")
    return out
