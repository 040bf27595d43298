"""Inference on model RDMs: bootstrap, noise ceilings, model tests, cross-validation.

Follows Nili et al. (2014, *PLoS Comput Biol* 10:e1003553) and Schütt et al. (2023, *eLife*
12:e82566): a model's score is its mean similarity to the subjects' RDMs; uncertainty comes from
resampling subjects, stimuli (conditions) or both, with the *same* resamples for every model
(so differences between models are paired); the noise ceiling brackets the best score any model
could reach given the between-subject variability. The two-factor bootstrap overestimates the
variance somewhat (Schütt et al. 2023), so its intervals are conservative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import false_discovery_control

from neurodecode.data.errors import DataError
from neurodecode.rsa.compare import compare
from neurodecode.rsa.rdm import RDMs, as_vectors, nanmean

ModelSet = Mapping[str, RDMs | np.ndarray]


@dataclass
class Evaluation:
    """Model scores with their bootstrap distribution and the noise ceiling.

    Attributes
    ----------
    models : list of str
    method : str
        The RDM comparison.
    over : str
        What was resampled: ``"subjects"``, ``"stimuli"`` or ``"both"``.
    point : array (n_models,)
        Mean similarity to the subjects' RDMs on the original data.
    bootstrap : array (n_bootstrap, n_models)
    noise_ceiling : array (2,)
        Lower and upper bound on the original data.
    noise_ceiling_bootstrap : array (n_bootstrap, 2)
    """

    models: list[str]
    method: str
    over: str
    point: np.ndarray
    bootstrap: np.ndarray
    noise_ceiling: np.ndarray
    noise_ceiling_bootstrap: np.ndarray

    def std_err(self) -> np.ndarray:
        """Bootstrap standard error of each model's score, shape (n_models,)."""
        return np.nanstd(self.bootstrap, axis=0, ddof=1)

    def ci(self, level: float = 0.95) -> np.ndarray:
        """Percentile confidence intervals, shape (2, n_models)."""
        alpha = (1 - level) / 2
        return np.nanquantile(self.bootstrap, [alpha, 1 - alpha], axis=0)

    def test_zero(self) -> np.ndarray:
        """One-sided bootstrap p-values for score > 0, shape (n_models,)."""
        return _p_one_sided(self.bootstrap)

    def pairwise_tests(self, correction: str = "fdr") -> pd.DataFrame:
        """Two-sided bootstrap tests of every pair of models, corrected for multiple tests.

        Parameters
        ----------
        correction : {"fdr", "bonferroni", "none"}
            Benjamini-Hochberg false discovery rate, Bonferroni family-wise error, or none,
            over the ``n_models (n_models - 1) / 2`` pairs.

        Returns
        -------
        DataFrame
            One row per pair: ``model_a``, ``model_b``, ``difference`` (a - b, point
            estimate), ``p`` (uncorrected), ``p_corrected``, ``significant`` (at .05).
        """
        rows = []
        for i in range(len(self.models)):
            for j in range(i + 1, len(self.models)):
                diff = self.bootstrap[:, i] - self.bootstrap[:, j]
                p = min(1.0, 2 * min(_p_one_sided(diff[:, None])[0],
                                     _p_one_sided(-diff[:, None])[0]))
                rows.append((self.models[i], self.models[j],
                             self.point[i] - self.point[j], p))
        table = pd.DataFrame(rows, columns=["model_a", "model_b", "difference", "p"])
        table["p_corrected"] = correct(table["p"].to_numpy(), correction)
        table["significant"] = table["p_corrected"] < 0.05
        return table

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per model: score, standard error, confidence interval, p (> 0)."""
        low, high = self.ci(level)
        return pd.DataFrame({
            "model": self.models, "score": self.point, "std_err": self.std_err(),
            "ci_low": low, "ci_high": high, "p_above_zero": self.test_zero(),
            "method": self.method, "bootstrap": self.over,
        })


def _p_one_sided(samples: np.ndarray) -> np.ndarray:
    """P(sample <= 0) with the +1 correction of bootstrap/permutation p-values."""
    n = np.sum(~np.isnan(samples), axis=0)
    return (np.sum(samples <= 0, axis=0) + 1) / (n + 1)


def correct(p: np.ndarray, method: str = "fdr") -> np.ndarray:
    """Multiple-comparison correction of p-values: ``fdr`` (Benjamini-Hochberg),
    ``bonferroni`` or ``none``."""
    p = np.asarray(p, dtype=float)
    if method == "none" or len(p) == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * len(p), 1.0)
    if method == "fdr":
        return false_discovery_control(p, method="bh")
    raise DataError(f"unknown correction {method!r}; expected 'fdr', 'bonferroni' or 'none'")


def _model_vectors(models: ModelSet, n_pairs: int) -> tuple[list[str], np.ndarray]:
    names = list(models)
    if not names:
        raise DataError("no models to evaluate")
    vectors = []
    for name in names:
        v = as_vectors(models[name])
        if v.shape != (1, n_pairs):
            raise DataError(f"model {name!r} must be one RDM of {n_pairs} pairs, got {v.shape}")
        vectors.append(v[0])
    return names, np.stack(vectors)


def noise_ceiling(data: np.ndarray, method: str = "corr",
                  groups: np.ndarray | None = None) -> np.ndarray:
    """Lower and upper bound of the noise ceiling (Nili et al. 2014), shape (2,).

    Upper: mean similarity of each subject's RDM to the mean of all subjects (an overfitted
    best model). Lower: the same with the mean of the *other* subjects. ``groups`` labels
    copies of one subject (in a bootstrap sample), which are left out together.
    """
    groups = np.arange(len(data)) if groups is None else np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise DataError("a noise ceiling needs at least 2 subjects")
    upper = compare(data, nanmean(data, axis=0), method)[:, 0]
    lower = np.array([
        compare(data[i], nanmean(data[groups != groups[i]], axis=0), method)[0, 0]
        for i in range(len(data))
    ])
    return np.array([lower.mean(), upper.mean()])


def evaluate(
    data: RDMs,
    models: ModelSet,
    method: str = "corr",
    over: str = "both",
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Evaluate fixed model RDMs against subjects' RDMs with a bootstrap.

    Parameters
    ----------
    data : RDMs
        One RDM per subject (same conditions as the models).
    models : mapping of name to RDMs (one RDM) or array (n_pairs,)
    method : str
        RDM comparison (:func:`~neurodecode.rsa.compare.compare`).
    over : {"subjects", "stimuli", "both"}
        What the bootstrap resamples. Every model sees the same resamples.
    n_bootstrap : int
    seed : int

    Returns
    -------
    Evaluation
    """
    if over not in ("subjects", "stimuli", "both"):
        raise DataError(f"bootstrap 'over' must be subjects, stimuli or both, got {over!r}")
    names, model_v = _model_vectors(models, data.n_pairs)
    model_rdms = RDMs(model_v)
    v = data.dissimilarities
    point = compare(model_v, v, method).mean(axis=1)
    ceiling = noise_ceiling(v, method) if data.n_rdm > 1 else np.full(2, np.nan)
    rng = np.random.default_rng(seed)
    scores = np.empty((n_bootstrap, len(names)))
    ceilings = np.full((n_bootstrap, 2), np.nan)
    for b in range(n_bootstrap):
        rows = (rng.choice(data.n_rdm, data.n_rdm, replace=True)
                if over in ("subjects", "both") else np.arange(data.n_rdm))
        cond = (rng.choice(data.n_cond, data.n_cond, replace=True)
                if over in ("stimuli", "both") else np.arange(data.n_cond))
        sample = data[rows].subset_patterns(cond).dissimilarities
        models_b = model_rdms.subset_patterns(cond).dissimilarities
        if np.all(np.isnan(sample)):  # every condition drawn was the same one
            scores[b] = np.nan
            continue
        scores[b] = compare(models_b, sample, method).mean(axis=1)
        if len(np.unique(rows)) > 1:
            ceilings[b] = noise_ceiling(sample, method, groups=rows)
    return Evaluation(names, method, over, point, scores, ceiling, ceilings)


def crossvalidate(
    data: RDMs,
    models: Mapping[str, np.ndarray | RDMs],
    method: str = "corr",
    k_stimuli: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validated model scores: leave one subject out x ``k_stimuli`` folds of conditions.

    A model is fixed (one RDM, shape (n_pairs,)) or weighted (several component RDMs, shape
    (n_components, n_pairs)): a weighted model's non-negative weights are fitted by least
    squares to the mean RDM of the training subjects over the training conditions' pairs, then
    it is scored on the held-out subject over the held-out conditions' pairs. Fixed models are
    scored on the same test sets.

    Returns
    -------
    DataFrame
        One row per fold and model: ``subject`` (held out), ``fold``, ``model``, ``score``.
    """
    if data.n_rdm < 2:
        raise DataError("cross-validation over subjects needs at least 2 subject RDMs")
    if not 1 <= k_stimuli <= data.n_cond // 3:
        raise DataError(f"k_stimuli must be between 1 and n_cond / 3 ({data.n_cond // 3})")
    comps = {}
    for name, value in models.items():
        v = as_vectors(value)
        if v.shape[1] != data.n_pairs:
            raise DataError(f"model {name!r} has {v.shape[1]} pairs, data {data.n_pairs}")
        comps[name] = v
    rng = np.random.default_rng(seed)
    folds = rng.permutation(data.n_cond) % k_stimuli
    subjects = data.rdm_descriptors.get("subject", np.arange(data.n_rdm))
    iu = np.triu_indices(data.n_cond, 1)
    rows = []
    for fold in range(k_stimuli):
        test_c = folds == fold
        train_c = ~test_c if k_stimuli > 1 else test_c
        test_pairs = test_c[iu[0]] & test_c[iu[1]]
        train_pairs = train_c[iu[0]] & train_c[iu[1]]
        for s in range(data.n_rdm):
            train = nanmean(np.delete(data.dissimilarities, s, axis=0), axis=0)
            for name, v in comps.items():
                if len(v) == 1:
                    pred = v[0]
                else:
                    ok = train_pairs & ~np.isnan(train)
                    weights = nnls(v[:, ok].T, train[ok])[0]
                    pred = weights @ v
                score = compare(pred[test_pairs], data.dissimilarities[s, test_pairs], method)
                rows.append((subjects[s], fold, name, float(score[0, 0])))
    return pd.DataFrame(rows, columns=["subject", "fold", "model", "score"])
