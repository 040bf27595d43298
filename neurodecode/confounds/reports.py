"""Reports for confound removal: demographic leakage with two-sided chance bands, and the
fidelity of synthetic connectivity.

Leakage: each target (a demographic, or a signal that should survive) is predicted from a
representation by cross-validation (standardised ridge regression for continuous targets,
ridge classification for categorical ones, penalty chosen inside each training fold by
leave-one-out); the out-of-fold predictions are scored (R², ROC-AUC for two classes, balanced
accuracy for more). The chance band is the central ``1 - alpha`` interval of the same score
when the *whole* cross-validated procedure is rerun on permuted targets (the refitted null of
:func:`sklearn.model_selection.permutation_test_score`, computed for all permutations at once
by :mod:`neurodecode.confounds.cv_ridge`). Scoring fixed predictions against permuted targets
would be wrong here: out-of-fold predictions of a target the representation does not carry are
anti-correlated with it, so their R² sits below the fixed-prediction band (pure noise was
flagged "below chance" 41 times in 100). A score above the band means the representation
carries the target; below the band means over-correction (e.g. confound removal fitted on the
test subjects: Snoek, Miletić & Scholte, NeuroImage 2019).

Evaluate on held-out subjects: fit the confound model on training subjects, transform the
held-out subjects, and pass their representation here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.model_selection import KFold

from neurodecode._files import atomic_path
from neurodecode.confounds.cv_ridge import cross_validated_predictions, fold_factors
from neurodecode.errors import DataError


def target_kind(values: pd.Series, categorical: Sequence[str] = ()) -> str:
    """``"continuous"``, ``"binary"`` or ``"multiclass"`` for one target column."""
    n_levels = values.nunique()
    if values.name in categorical or not pd.api.types.is_numeric_dtype(values) or n_levels <= 5:
        return "binary" if n_levels == 2 else "multiclass"
    return "continuous"


METRICS = {"continuous": "r2", "binary": "roc_auc", "multiclass": "balanced_accuracy"}


def _encode(target: pd.Series, kind: str) -> np.ndarray:
    """Target as numbers: floats, 0/1 (positive = second sorted label) or class indices."""
    if kind == "continuous":
        return target.to_numpy(float)
    return np.unique(target.astype(str).to_numpy(), return_inverse=True)[1]


def _ridge_targets(y: np.ndarray, kind: str) -> np.ndarray:
    """Ridge targets, shape (n, n_sets, k) from encoded targets (n, n_sets): the value itself,
    +-1 for two classes, one +-1 column per class otherwise (as RidgeClassifier codes them)."""
    if kind == "continuous":
        return y[:, :, None].astype(np.float64)
    if kind == "binary":
        return (2.0 * y - 1.0)[:, :, None]
    return 2.0 * (y[:, :, None] == np.arange(y.max() + 1)) - 1.0


def _decisions(prediction: np.ndarray, kind: str) -> np.ndarray:
    """Ridge outputs (n, n_sets, k) → predictions (n, n_sets): values, scores or classes."""
    return prediction.argmax(2) if kind == "multiclass" else prediction[:, :, 0]


def _scores(y: np.ndarray, decision: np.ndarray, kind: str) -> np.ndarray:
    """Score of each set, shape (n_sets,), for encoded targets and decisions (n, n_sets)."""
    if kind == "continuous":
        resid = ((y - decision) ** 2).sum(0)
        return 1.0 - resid / ((y - y.mean(0)) ** 2).sum(0)
    if kind == "binary":  # ROC-AUC from ranks (ties averaged, as scikit-learn)
        ranks = rankdata(decision, axis=0)
        n_pos = y.sum(0)
        n_neg = len(y) - n_pos
        return ((ranks * y).sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    recalls = [((decision == c) & (y == c)).sum(0) / (y == c).sum(0)
               for c in range(int(y.max()) + 1)]
    return np.mean(recalls, axis=0)


def _folds(n: int, cv: int, random_state: int) -> list:
    """Shuffled folds that do not look at the target: the real target and its permutations
    then go through exactly the same procedure (stratifying on the real target only would
    make it look better than its permutations, whose folds are unbalanced)."""
    return list(KFold(cv, shuffle=True, random_state=random_state).split(np.arange(n)))


def permutation_scores(representation: np.ndarray, target: pd.Series, kind: str, cv: int = 5,
                       n_permutations: int = 1000, random_state: int = 0,
                       solver: str = "auto", factors=None) -> tuple[float, np.ndarray]:
    """Cross-validated score of ``target`` from ``representation`` and its refitted null.

    ``solver`` picks the SVD or the kernel (Gram) form of the ridge fits
    (:mod:`neurodecode.confounds.cv_ridge`; same numbers); ``factors`` are precomputed
    per-fold factors (:func:`fold_factor_list`), shared by all targets of a report.

    Returns
    -------
    score : float
    null : array, shape (n_permutations,), the score of the same procedure on permuted
        targets (same folds).
    """
    y = _encode(target.reset_index(drop=True), kind)
    rng = np.random.default_rng(random_state)
    order = np.argsort(rng.random((n_permutations, len(y))), axis=1)
    sets = np.column_stack([y, y[order].T]) if n_permutations else y[:, None]
    folds = _folds(len(y), cv, random_state)
    prediction = cross_validated_predictions(representation, _ridge_targets(sets, kind), folds,
                                             solver=solver, factors=factors)
    scores = _scores(sets, _decisions(prediction, kind), kind)
    return float(scores[0]), scores[1:]


def fold_factor_list(representation: np.ndarray, cv: int = 5, random_state: int = 0,
                     solver: str = "auto") -> list:
    """Each fold's ridge factors (:func:`neurodecode.confounds.cv_ridge.fold_factors`) for the
    folds :func:`permutation_scores` uses; they do not depend on the target."""
    X = np.asarray(representation, dtype=np.float64)
    return [fold_factors(X[train], X[test], solver)
            for train, test in _folds(len(X), cv, random_state)]


def held_out_predictions(representation: np.ndarray, target: pd.Series, kind: str,
                         cv: int = 5, random_state: int = 0) -> np.ndarray:
    """Out-of-fold predictions, shape (n,): values, decision scores (positive class = second
    sorted label) or class indices (sorted labels)."""
    y = _encode(target.reset_index(drop=True), kind)[:, None]
    folds = _folds(len(y), cv, random_state)
    prediction = cross_validated_predictions(representation, _ridge_targets(y, kind), folds)
    return _decisions(prediction, kind)[:, 0]


def chance_band(null: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """Two-sided chance band (low, median, high) from null scores."""
    low, mid, high = np.quantile(null, [alpha / 2, 0.5, 1 - alpha / 2])
    return float(low), float(mid), float(high)


def leakage_report(representation: np.ndarray, targets: pd.DataFrame,
                   categorical: Sequence[str] = (), cv: int = 5,
                   n_permutations: int = 1000, alpha: float = 0.05,
                   random_state: int = 0, solver: str = "auto") -> pd.DataFrame:
    """How well each target column is predicted from ``representation``, against chance.

    Parameters
    ----------
    representation : array, shape (n_participants, n_features)
        Raw edges, latents, harmonised edges...
    targets : DataFrame, n_participants rows
        Demographics (expected at chance after removal) and signals (expected to stay).
    categorical : sequence of str
        Columns to treat as categorical even if numeric (numeric columns with at most 5
        levels are categorical anyway).
    cv, n_permutations, alpha, random_state
        Folds, permutations of the chance band, its two-sided level, and the seed.
    solver : {"auto", "svd", "kernel"}
        Ridge factorisation: the kernel (Gram) form is much faster for wide data (many more
        features than participants; ``"auto"`` picks it when ``p > 2 n``); same numbers.
        Each fold is factorised once for all targets.

    Returns
    -------
    DataFrame, one row per target: ``target, kind, metric, score, chance_low, chance_median,
    chance_high, status`` with status ``"above chance"``, ``"at chance"`` or
    ``"below chance"``.
    """
    if len(targets) != len(representation):
        raise DataError(f"{len(targets)} target rows for {len(representation)} participants")
    rows = []
    factors = fold_factor_list(representation, cv, random_state, solver)
    for col in targets.columns:
        values = targets[col].reset_index(drop=True)
        if values.isna().any():
            raise DataError(f"target column {col!r} has missing values; drop those rows first")
        kind = target_kind(values, categorical)
        score, null = permutation_scores(representation, values, kind, cv, n_permutations,
                                         random_state, factors=factors)
        low, mid, high = chance_band(null, alpha)
        status = ("above chance" if score > high else
                  "below chance" if score < low else "at chance")
        rows.append(dict(target=col, kind=kind, metric=METRICS[kind], score=score, chance_low=low,
                         chance_median=mid, chance_high=high, status=status))
    return pd.DataFrame(rows)


def group_difference(X: np.ndarray, groups: pd.Series, level) -> np.ndarray:
    """Mean edges of participants at ``level`` minus mean of the others, shape (n_edges,)."""
    inside = (groups == level).to_numpy()
    if inside.all() or not inside.any():
        raise DataError(f"group {groups.name}={level!r} needs members and non-members")
    X = np.asarray(X, dtype=np.float64)
    return X[inside].mean(0) - X[~inside].mean(0)


def _rmse(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def fidelity_report(real: np.ndarray, real_demographics: pd.DataFrame,
                    synthetic: np.ndarray, synthetic_demographics: pd.DataFrame,
                    groups: Sequence[str], cv: int = 5, n_permutations: int = 1000,
                    random_state: int = 0) -> dict:
    """Compare synthetic connectivity with real connectivity.

    Parameters
    ----------
    real, synthetic : arrays, shape (n_real, n_edges) and (n_synthetic, n_edges)
    real_demographics, synthetic_demographics : DataFrames with the ``groups`` columns
    groups : sequence of str
        Categorical columns; for each level the map "level minus the rest" is compared
        (binary columns: one map).

    Returns
    -------
    dict with
        ``moments``: RMSE between mean edge maps, their correlation, median ratio of edge
        standard deviations (synthetic / real);
        ``group_differences``: per ``column=level``, ``error_ratio`` =
        RMSE(synthetic map - real map) / RMSE(real map) (0 is perfect; the DemoVAE paper
        reports .20-.54) and the maps' correlation;
        ``two_sample``: held-out ROC-AUC of a classifier telling real from synthetic
        (balanced by subsampling; 0.5 = indistinguishable) with its chance band.
    """
    real = np.asarray(real, dtype=np.float64)
    synthetic = np.asarray(synthetic, dtype=np.float64)
    if real.shape[1] != synthetic.shape[1]:
        raise DataError(f"real has {real.shape[1]} edges, synthetic {synthetic.shape[1]}")
    mean_r, mean_s = real.mean(0), synthetic.mean(0)
    moments = dict(
        mean_rmse=_rmse(mean_s - mean_r),
        mean_correlation=float(np.corrcoef(mean_r, mean_s)[0, 1]),
        std_ratio_median=float(np.median(synthetic.std(0) / np.maximum(real.std(0), 1e-12))),
    )
    differences = {}
    for col in groups:
        levels = sorted(pd.unique(real_demographics[col]).tolist(), key=str)
        for level in levels[1:] if len(levels) == 2 else levels:
            d_real = group_difference(real, real_demographics[col].reset_index(drop=True), level)
            d_syn = group_difference(synthetic,
                                     synthetic_demographics[col].reset_index(drop=True), level)
            differences[f"{col}={level}"] = dict(
                error_ratio=_rmse(d_syn - d_real) / _rmse(d_real),
                correlation=float(np.corrcoef(d_real, d_syn)[0, 1]),
            )
    rng = np.random.default_rng(random_state)
    n = min(len(real), len(synthetic))
    both = np.vstack([real[rng.choice(len(real), n, replace=False)],
                      synthetic[rng.choice(len(synthetic), n, replace=False)]])
    label = pd.Series(np.repeat(["real", "synthetic"], n), name="source")
    auc, null = permutation_scores(both, label, "binary", cv, n_permutations, random_state)
    low, _, high = chance_band(null)
    two_sample = dict(auc=auc, chance_low=low, chance_high=high)
    return dict(moments=moments, group_differences=differences, two_sample=two_sample)


def plot_leakage(reports: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Bar chart of scores per target for several representations, with chance bands (PNG).

    ``reports`` maps a representation name (e.g. ``"raw"``, ``"latents"``) to a
    :func:`leakage_report`.
    """
    import matplotlib.pyplot as plt

    names = list(reports)
    targets = list(reports[names[0]]["target"])
    fig, axes = plt.subplots(1, len(targets), figsize=(3 * len(targets), 3), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        for i, name in enumerate(names):
            row = reports[name].set_index("target").loc[target]
            ax.bar(i, row["score"], color="C0" if row["status"] == "at chance" else "C3")
            ax.plot([i - 0.4, i + 0.4], [row["chance_low"]] * 2, "k--", lw=1)
            ax.plot([i - 0.4, i + 0.4], [row["chance_high"]] * 2, "k--", lw=1)
        ax.set_xticks(range(len(names)), names)
        ax.set_title(f"{target} ({row['metric']})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(path)
