"""Percentile bootstrap confidence intervals over test images (Efron & Tibshirani 1993)."""

from __future__ import annotations

import numpy as np

from neurodecode.data.errors import DataError


def bootstrap_ci(
    scores: np.ndarray,
    counts: np.ndarray | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean over images, resampling images with replacement.

    Parameters
    ----------
    scores : array, shape (n,)
        Per-image scores. With ``counts``, per-image *sums* of scores.
    counts : array, shape (n,), optional
        Number of observations behind each sum (e.g. how many retrieval subsets an image fell
        in); the statistic is then ``sum(scores) / sum(counts)`` over the resampled images.
    n_boot : int
        Number of bootstrap resamples (0 returns NaNs).
    level : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the resampling.

    Returns
    -------
    (low, high) : tuple of float
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    counts = np.ones_like(scores) if counts is None else np.asarray(counts, np.float64).ravel()
    if scores.shape != counts.shape or len(scores) == 0:
        raise DataError(
            f"bootstrap needs matching non-empty scores and counts, found {scores.shape} "
            f"and {counts.shape}"
        )
    if not 0 < level < 1:
        raise DataError(f"confidence level must lie in (0, 1), found {level}")
    if n_boot == 0:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(scores), size=(n_boot, len(scores)))
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = scores[idx].sum(axis=1) / counts[idx].sum(axis=1)
    alpha = (1 - level) / 2
    low, high = np.nanquantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)
