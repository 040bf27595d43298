"""Reports for confound removal: demographic leakage with two-sided chance bands, and the
fidelity of synthetic connectivity.

Leakage: each target (a demographic, or a signal that should survive) is predicted from a
representation by cross-validation (ridge regression for continuous targets, ridge
classification for categorical ones); the out-of-fold predictions are scored (R², ROC-AUC for
two classes, balanced accuracy for more). The chance band is the central ``1 - alpha`` interval
of the same score after permuting the targets against the fixed predictions, i.e. the score of
predictions unrelated to the target. A score above the band means the representation carries
the target; below the band means over-correction (e.g. confound removal fitted on the test
subjects: Snoek, Miletić & Scholte, NeuroImage 2019).

Evaluate on held-out subjects: fit the confound model on training subjects, transform the
held-out subjects, and pass their representation here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurodecode._files import atomic_path
from neurodecode.data.errors import DataError

ALPHAS = np.logspace(-2, 5, 15)


def target_kind(values: pd.Series, categorical: Sequence[str] = ()) -> str:
    """``"continuous"``, ``"binary"`` or ``"multiclass"`` for one target column."""
    n_levels = values.nunique()
    if values.name in categorical or not pd.api.types.is_numeric_dtype(values) or n_levels <= 5:
        return "binary" if n_levels == 2 else "multiclass"
    return "continuous"


def _metric(kind: str):
    return {"continuous": ("r2", r2_score), "binary": ("roc_auc", roc_auc_score),
            "multiclass": ("balanced_accuracy", balanced_accuracy_score)}[kind]


def held_out_predictions(representation: np.ndarray, target: pd.Series, kind: str,
                         cv: int = 5, random_state: int = 0) -> np.ndarray:
    """Out-of-fold predictions (scores for binary targets), shape (n,)."""
    X = np.asarray(representation, dtype=np.float64)
    if kind == "continuous":
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))
        folds = KFold(cv, shuffle=True, random_state=random_state)
        return cross_val_predict(model, X, target.to_numpy(float), cv=folds)
    y = target.astype(str).to_numpy()
    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))
    folds = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    method = "decision_function" if kind == "binary" else "predict"
    return cross_val_predict(model, X, y, cv=folds, method=method)


def _encode(target: pd.Series, kind: str) -> np.ndarray:
    if kind == "continuous":
        return target.to_numpy(float)
    y = target.astype(str).to_numpy()
    if kind == "binary":  # the positive class of RidgeClassifier is the second sorted label
        return (y == np.unique(y)[1]).astype(int)
    return y


def chance_band(y_true: np.ndarray, prediction: np.ndarray, kind: str,
                n_permutations: int = 1000, alpha: float = 0.05,
                random_state: int = 0) -> tuple[float, float, float]:
    """Two-sided chance band of a score: (low, median, high) over permuted targets.

    R² and ROC-AUC of all permutations are computed at once (AUC from the ranks of the
    predictions, ties averaged as scikit-learn does); balanced accuracy loops.
    """
    rng = np.random.default_rng(random_state)
    y_true = np.asarray(y_true)
    order = np.argsort(rng.random((n_permutations, len(y_true))), axis=1)
    permuted = y_true[order]  # (n_permutations, n)
    if kind == "continuous":
        p = np.asarray(prediction, dtype=np.float64)
        y = y_true.astype(np.float64)
        sse = (y ** 2).sum() + (p ** 2).sum() - 2 * permuted.astype(np.float64) @ p
        null = 1 - sse / ((y - y.mean()) ** 2).sum()
    elif kind == "binary":
        ranks = rankdata(prediction)
        n_pos = int(y_true.sum())
        n_neg = len(y_true) - n_pos
        null = ((permuted == 1) @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    else:
        null = np.array([balanced_accuracy_score(y, prediction) for y in permuted])
    low, mid, high = np.quantile(null, [alpha / 2, 0.5, 1 - alpha / 2])
    return float(low), float(mid), float(high)


def leakage_report(representation: np.ndarray, targets: pd.DataFrame,
                   categorical: Sequence[str] = (), cv: int = 5,
                   n_permutations: int = 1000, alpha: float = 0.05,
                   random_state: int = 0) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame, one row per target: ``target, kind, metric, score, chance_low, chance_median,
    chance_high, status`` with status ``"above chance"``, ``"at chance"`` or
    ``"below chance"``.
    """
    if len(targets) != len(representation):
        raise DataError(f"{len(targets)} target rows for {len(representation)} participants")
    rows = []
    for col in targets.columns:
        values = targets[col].reset_index(drop=True)
        if values.isna().any():
            raise DataError(f"target column {col!r} has missing values; drop those rows first")
        kind = target_kind(values, categorical)
        pred = held_out_predictions(representation, values, kind, cv, random_state)
        y = _encode(values, kind)
        name, metric = _metric(kind)
        score = float(metric(y, pred))
        low, mid, high = chance_band(y, pred, kind, n_permutations, alpha, random_state)
        status = ("above chance" if score > high else
                  "below chance" if score < low else "at chance")
        rows.append(dict(target=col, kind=kind, metric=name, score=score, chance_low=low,
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
    pred = held_out_predictions(both, label, "binary", cv, random_state)
    y = _encode(label, "binary")
    low, mid, high = chance_band(y, pred, "binary", n_permutations, random_state=random_state)
    two_sample = dict(auc=float(roc_auc_score(y, pred)), chance_low=low, chance_high=high)
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
