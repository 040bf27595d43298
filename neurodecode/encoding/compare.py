"""Which feature space predicts a target better? Event bootstraps, paired tests, FDR, conjunctions.

Subramaniam et al. (2024, ICML, "Revealing vision-language integration in the brain with
multimodal networks") compare encoding models electrode by electrode: the held-out events are
resampled with replacement 1000 times, *the same resample for every model*, each model's score
(Pearson r between predicted and recorded response) is recomputed on every resample, and the
one-sided p-value of "model A beats model B" at a target is the share of resamples where it does
not. p-values are corrected with Benjamini-Hochberg within each comparison (Benjamini &
Hochberg 1995, :func:`scipy.stats.false_discovery_control`), and a site counts as *multimodal*
only in the conjunction of several comparisons (an intersection-union test: every comparison
must be significant; its p-value is the largest of the comparison p-values, Berger 1982).

The bootstrap only resamples events; the models' predictions are fixed (out-of-fold
predictions from :func:`neurodecode.encoding.fit_encoding`), so the test asks whether one set of
predictions is closer to the data than the other on events of this kind. It does not see the
variability of fitting: two different non-orthogonal mixtures of the *same* features are
different ridge models (standardisation and the penalty act differently on them) and one of the
two fitted models may really predict a target better. Under the global null (no target
differs) BH keeps such calls rare, but when many targets truly differ BH's threshold loosens and
they pass: in ``tests/encoding/test_compare.py``'s world, 29% of the targets with no planted
difference were called when the two models used different mixtures, 0-5% when the smaller model
is the larger one minus the extra feature (the multimodal-site design).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from neurodecode.data.errors import DataError

METRICS = ("r", "r2")


def score(Y: np.ndarray, P: np.ndarray, metric: str = "r") -> np.ndarray:
    """Per-target score of predictions ``P`` of ``Y`` (both ``(n, n_targets)``).

    ``"r"``: Pearson correlation; ``"r2"``: ``1 - SS_res / SS_tot`` (can be negative).
    Constant columns score 0.
    """
    Y, P = _as_2d(Y), _as_2d(P)
    if Y.shape != P.shape:
        raise DataError(f"targets {Y.shape} and predictions {P.shape} differ in shape")
    return _score_batch(Y[None], P[None], metric)[0]


def _score_batch(Y: np.ndarray, P: np.ndarray, metric: str) -> np.ndarray:
    """Scores over axis 1 of ``(b, n, t)`` arrays → ``(b, t)``."""
    if metric not in METRICS:
        raise DataError(f"unknown metric {metric!r}; choose one of {METRICS}")
    Yc = Y - Y.mean(1, keepdims=True)
    ss_tot = (Yc**2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "r2":
            out = 1.0 - ((Y - P) ** 2).sum(1) / ss_tot
        else:
            Pc = P - P.mean(1, keepdims=True)
            out = (Yc * Pc).sum(1) / np.sqrt(ss_tot * (Pc**2).sum(1))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def bootstrap_indices(n_events: int, n_boot: int = 1000, seed: int = 0,
                      block: int = 1) -> np.ndarray:
    """Resampled event indices ``(n_boot, n_events)``, shared by every model compared.

    ``block > 1`` draws a moving-block bootstrap (Künsch 1989): contiguous runs of ``block``
    events, which keeps the autocorrelation of neighbouring events inside a resample.
    """
    if n_events < 2 or n_boot < 1 or block < 1:
        raise DataError(f"bootstrap needs >= 2 events, n_boot >= 1 and block >= 1 (got "
                        f"{n_events}, {n_boot}, {block})")
    rng = np.random.default_rng(seed)
    if block == 1:
        return rng.integers(0, n_events, (n_boot, n_events))
    block = min(block, n_events)
    n_blocks = -(-n_events // block)
    starts = rng.integers(0, n_events - block + 1, (n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)
    return idx[:, :n_events]


def bootstrap_scores(Y: np.ndarray, predictions: Mapping[str, np.ndarray],
                     indices: np.ndarray, metric: str = "r") -> dict[str, np.ndarray]:
    """Each model's score on each resample: name → ``(n_boot, n_targets)``.

    A resample is a weighting of the events by how often each was drawn, so every moment the
    score needs is one matrix product ``counts @ values`` (no copies of the data per resample).
    """
    if metric not in METRICS:
        raise DataError(f"unknown metric {metric!r}; choose one of {METRICS}")
    Y = _as_2d(Y)
    n_boot, n = indices.shape
    counts = np.zeros((n_boot, len(Y)))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), indices.ravel()), 1.0)
    mean_y = counts @ Y / n
    var_y = counts @ (Y**2) / n - mean_y**2
    out = {}
    for name, P in predictions.items():
        P = _as_2d(P)
        if P.shape != Y.shape:
            raise DataError(f"model {name!r}: predictions {P.shape} but targets {Y.shape}")
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric == "r2":
                values = 1.0 - (counts @ ((Y - P) ** 2) / n) / var_y
            else:
                mean_p = counts @ P / n
                cov = counts @ (Y * P) / n - mean_y * mean_p
                var_p = counts @ (P**2) / n - mean_p**2
                values = cov / np.sqrt(np.clip(var_y, 0, None) * np.clip(var_p, 0, None))
        out[name] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def paired_p(boot_a: np.ndarray, boot_b: np.ndarray) -> np.ndarray:
    """One-sided bootstrap p-value that A beats B, per target: ``(1 + #{a - b <= 0}) / (1 + B)``.

    The ``+1`` keeps p above 0 (Davison & Hinkley 1997), so it never reaches below
    ``1 / (n_boot + 1)``.
    """
    return (1.0 + (boot_a - boot_b <= 0).sum(0)) / (1.0 + len(boot_a))


def fdr(p: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg adjusted p-values (q) and which targets pass ``q <= alpha``."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy(), p.astype(bool)
    q = false_discovery_control(p.ravel(), method="bh").reshape(p.shape)
    return q, q <= alpha


def conjunction(*significant: np.ndarray) -> np.ndarray:
    """Targets significant in every comparison (intersection-union test)."""
    if not significant:
        raise DataError("a conjunction needs at least one comparison")
    return np.logical_and.reduce([np.asarray(s, bool) for s in significant])


@dataclass
class Comparison:
    """Result of :func:`compare_models`.

    Attributes
    ----------
    scores : DataFrame
        One row per target, one column per model: its score on all events.
    table : DataFrame
        One row per target: for each comparison ``"a>b"``, the score difference ``diff[a>b]``,
        bootstrap ``p[a>b]``, BH-adjusted ``q[a>b]`` and ``sig[a>b]``; then ``all`` (the
        conjunction) and ``p_conjunction`` (the largest p).
    comparisons : list of (str, str)
    boot : dict of str to array, shape (n_boot, n_targets)
    """

    scores: pd.DataFrame
    table: pd.DataFrame
    comparisons: list[tuple[str, str]]
    boot: dict[str, np.ndarray] = field(repr=False)
    metric: str = "r"
    alpha: float = 0.05

    @property
    def significant(self) -> np.ndarray:
        """The conjunction: targets where every comparison is significant."""
        return self.table["all"].to_numpy()


def compare_models(Y: np.ndarray, predictions: Mapping[str, np.ndarray],
                   comparisons: Sequence[tuple[str, str]], *, metric: str = "r",
                   n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, block: int = 1,
                   targets: Sequence | None = None) -> Comparison:
    """Paired bootstrap comparisons of encoding models, FDR within each, and their conjunction.

    Parameters
    ----------
    Y : array, shape (n_events, n_targets)
        Recorded responses (the events every model predicted out of fold).
    predictions : mapping of str to array, shape (n_events, n_targets)
        Each model's held-out predictions of ``Y``.
    comparisons : sequence of (a, b)
        Test "model ``a`` beats model ``b``" (one-sided) for each pair; ``b`` may be ``None``
        for "``a`` beats chance" (score above 0).
    metric : {"r", "r2"}
    n_boot : int
        Event resamples (Subramaniam et al.: 1000), shared by all models.
    alpha : float
        False discovery rate within each comparison.
    block : int
        Moving-block length (1: the plain event bootstrap).
    targets : sequence, optional
        Index of the result tables (e.g. electrode × time-bin labels).
    """
    Y = _as_2d(Y)
    comparisons = [(a, b) for a, b in comparisons]
    for a, b in comparisons:
        for name in (a, b):
            if name is not None and name not in predictions:
                raise DataError(f"comparison {a}>{b}: no predictions for model {name!r}; "
                                f"have {sorted(predictions)}")
    idx = bootstrap_indices(len(Y), n_boot, seed, block)
    boot = bootstrap_scores(Y, predictions, idx, metric)
    index = (pd.RangeIndex(Y.shape[1], name="target") if targets is None
             else targets if isinstance(targets, pd.Index) else pd.Index(list(targets)))
    if len(index) != Y.shape[1]:
        raise DataError(f"{len(index)} target labels for {Y.shape[1]} targets")
    scores = pd.DataFrame({n: score(Y, P, metric) for n, P in predictions.items()}, index=index)
    table = pd.DataFrame(index=index)
    sig, ps = [], []
    for a, b in comparisons:
        key = f"{a}>{b if b is not None else 0}"
        null = np.zeros_like(boot[a]) if b is None else boot[b]
        p = paired_p(boot[a], null)
        q, s = fdr(p, alpha)
        table[f"diff[{key}]"] = scores[a].to_numpy() - (0 if b is None else scores[b].to_numpy())
        table[f"p[{key}]"], table[f"q[{key}]"], table[f"sig[{key}]"] = p, q, s
        sig.append(s)
        ps.append(p)
    table["all"] = conjunction(*sig)
    table["p_conjunction"] = np.max(ps, axis=0)
    return Comparison(scores=scores, table=table, comparisons=comparisons, boot=boot,
                      metric=metric, alpha=alpha)


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a
