"""Sample-size-aware settings: choose a cleaner's size by held-out leakage inside the
training data, and cross-fitted cleaning for evaluation.

Why: a cleaner estimates the demographic part of the data on ``n_train`` participants, so on
new participants it leaves an error of order ``sqrt(size / n_train)`` (``size``: latents of a
DemoVAE, components of a projection), which a read-out trained on other cleaned participants
can pick up, in either direction: leakage (above the chance band) or over-correction (below
it; the estimated directions carry the training participants' own noise). The right size
therefore depends on the sample. :func:`select_size` cross-fits each candidate *within* the
training participants (each is cleaned by a model that did not see it) and keeps the largest
size whose demographics all stay inside their chance bands (the largest keeps the most
signal); if none does, the one with the smallest excess.

:func:`cross_fit` is the evaluation counterpart: every participant's cleaned data comes from
a model fitted on the other folds (Chernozhukov et al., "Double/debiased machine learning",
Econometrics Journal 2018, for the name), pooled so that
:func:`~neurodecode.confounds.reports.leakage_report` can judge them together. Outputs must
live in a space shared by all folds (edges, not latents of different models).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from neurodecode.data.errors import DataError

#: ``clean(X_train, demographics_train, X_test, test_index) -> cleaned X_test``
Cleaner = Callable[[np.ndarray, pd.DataFrame, np.ndarray, np.ndarray], np.ndarray]


def cross_fit(clean: Cleaner, X: np.ndarray, demographics: pd.DataFrame, n_folds: int = 5,
              stratify: str | None = None, random_state: int = 0) -> np.ndarray:
    """Cleaned ``X`` where each row comes from a cleaner fitted on the other folds.

    ``clean`` receives the training rows, their demographics, the held-out rows and the
    held-out row positions (e.g. to look up their site for ComBat; a cleaner that must be
    leakage-free ignores them). ``stratify`` names a categorical column to balance the folds.
    """
    X = np.asarray(X, dtype=np.float64)
    demographics = demographics.reset_index(drop=True)
    if stratify is not None:
        split = StratifiedKFold(n_folds, shuffle=True, random_state=random_state).split(
            X, demographics[stratify].astype(str))
    else:
        split = KFold(n_folds, shuffle=True, random_state=random_state).split(X)
    out = None
    for train, test in split:
        cleaned = np.asarray(clean(X[train], demographics.iloc[train].reset_index(drop=True),
                                   X[test], test), dtype=np.float64)
        if out is None:
            out = np.empty((len(X), cleaned.shape[1]))
        out[test] = cleaned
    return out


def band_excess(score: float, null: np.ndarray, alpha: float = 0.05) -> float:
    """Score minus the null median, in units of the band's half-width on that side (inside
    the two-sided ``1 - alpha`` band: between -1 and 1)."""
    low, mid, high = np.quantile(null, [alpha / 2, 0.5, 1 - alpha / 2])
    half = (high - mid) if score >= mid else (mid - low)
    return float((score - mid) / max(half, 1e-12))


def select_size(make_cleaner: Callable[[int], Cleaner], sizes: Sequence[int], X: np.ndarray,
                demographics: pd.DataFrame, categorical: Sequence[str] = (),
                n_folds: int = 3, n_permutations: int = 50, stratify: str | None = None,
                random_state: int = 0) -> tuple[int, pd.DataFrame]:
    """The largest size whose inner cross-fitted output keeps every demographic inside its
    chance band (else the smallest worst excess).

    Parameters
    ----------
    make_cleaner : callable ``size -> Cleaner``
    sizes : candidate sizes
    X, demographics : the *training* participants only
    categorical : demographic columns to treat as categorical
    n_folds, n_permutations : inner cross-fitting folds and permutations of the bands

    Returns
    -------
    size : int
    table : DataFrame, one row per size: the excess of each demographic and the worst one
    """
    from neurodecode.confounds.reports import permutation_scores, target_kind

    if not len(sizes):
        raise DataError("select_size: no candidate sizes")
    rows = []
    for size in sizes:
        cleaned = cross_fit(make_cleaner(size), X, demographics, n_folds, stratify,
                            random_state)
        row = {"size": int(size)}
        for col in demographics.columns:
            values = demographics[col].reset_index(drop=True)
            kind = target_kind(values, categorical)
            score, null = permutation_scores(cleaned, values, kind, n_permutations=n_permutations,
                                             random_state=random_state)
            row[col] = band_excess(score, null)
        row["worst"] = max(abs(row[c]) for c in demographics.columns)
        rows.append(row)
    table = pd.DataFrame(rows)
    inside = table[table["worst"] <= 1.0]
    best = inside["size"].max() if len(inside) else table.loc[table["worst"].idxmin(), "size"]
    return int(best), table
