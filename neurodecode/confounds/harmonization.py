"""Linear site harmonisation and demographic removal, the baselines for DemoVAE.

:class:`ComBat` — empirical-Bayes location/scale harmonisation of each feature across sites
(Johnson, Li & Rabinovic, Biostatistics 2007; for neuroimaging Fortin et al., NeuroImage 2017
(DTI) and 2018 (cortical thickness); connectivity: Yu et al., Hum Brain Mapp 2018). It is
implemented here because the maintained package, neuroHarmonize 2.5, pins ``numpy<2`` and
``pandas<3`` (it cannot be installed next to this project's stack), and neuroCombat 0.2.12
(2021) has no released apply-to-new-participants step beyond an "under development"
function. The arithmetic follows neuroCombat's parametric path (``aprior``, ``bprior``,
``it_sol``) and is tested against hand-computed values.

Held-out participants: ``fit`` on training participants, ``transform`` new ones with the
training estimates. **ComBat needs the site of every participant it harmonises**, new ones
included: site is the batch variable (known at acquisition, like the scanner), not a label to
be predicted. It does *not* need their covariates: covariate effects are estimated on the
training participants (so that site estimates are not biased by covariate imbalance between
sites) and, as in neuroCombat's ``neuroCombatFromTraining``, the training covariate mean stands
in for the new participants' own covariates. ComBat protects covariate effects: age and sex
remain in harmonised data.

:class:`DemographicProjection` — removes the linear demographic signal without the
demographics of the participants being cleaned: the directions of the (standardised)
feature space correlated with the encoded demographics in the *training* participants are
projected out of everyone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from neurodecode.errors import DataError


def _as_edges(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"X must be (n_participants, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise DataError("X contains NaN or infinite values; fix or drop those participants")
    return X


def _aprior(delta_hat: np.ndarray) -> np.ndarray:
    m, s2 = delta_hat.mean(1), delta_hat.var(1, ddof=1)
    return (2 * s2 + m ** 2) / s2


def _bprior(delta_hat: np.ndarray) -> np.ndarray:
    m, s2 = delta_hat.mean(1), delta_hat.var(1, ddof=1)
    return (m * s2 + m ** 3) / s2


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat site harmonisation (parametric empirical Bayes), fitted on training participants.

    Parameters
    ----------
    covariates : sequence of str
        Columns of the ``covariates`` table whose effects are estimated alongside site and kept
        (e.g. ``("age", "sex")``); categorical ones (non-numeric) are one-hot encoded.
    eb : bool
        Empirical-Bayes shrinkage of the site estimates across features (False: plain
        per-feature location/scale estimates).
    mean_only : bool
        Adjust the site means only (no scale).
    tol, max_iter : float, int
        Convergence of the iterative EB solution.

    Attributes
    ----------
    sites_ : array of str, the training sites (in order)
    grand_mean_, var_pooled_ : arrays (n_features,)
    covariate_effect_ : array (n_features,), the covariates' effect at their training mean
    gamma_star_, delta_star_ : arrays (n_sites, n_features), site location / scale
    """

    def __init__(self, covariates: Sequence[str] = (), eb: bool = True, mean_only: bool = False,
                 tol: float = 1e-4, max_iter: int = 1000) -> None:
        self.covariates = covariates
        self.eb = eb
        self.mean_only = mean_only
        self.tol = tol
        self.max_iter = max_iter

    def _covariate_design(self, table: pd.DataFrame | None, n: int) -> np.ndarray:
        if not self.covariates:
            return np.zeros((n, 0))
        if table is None:
            raise DataError(f"ComBat(covariates={list(self.covariates)}) needs a covariates "
                            "table for the training participants")
        missing = [c for c in self.covariates if c not in table.columns]
        if missing:
            raise DataError(f"covariates table lacks {missing}; found {list(table.columns)}")
        parts = []
        for col in self.covariates:
            values = table[col].reset_index(drop=True)
            if pd.api.types.is_numeric_dtype(values):
                parts.append(values.to_numpy(float)[:, None])
            else:
                levels = sorted(values.unique().tolist(), key=str)
                parts.append(np.stack([values == v for v in levels[1:]], 1).astype(float))
        design = np.concatenate(parts, 1)
        if len(design) != n or not np.isfinite(design).all():
            raise DataError("covariates must have one finite row per participant")
        return design

    def _site_index(self, site, n: int) -> np.ndarray:
        site = np.asarray(site).astype(str)
        if site.shape != (n,):
            raise DataError(f"site must have one value per participant ({n}), got {site.shape}")
        unknown = sorted(set(site.tolist()) - set(self.sites_.tolist()))
        if unknown:
            raise DataError(f"sites {unknown} were not seen in training (known: "
                            f"{self.sites_.tolist()}); ComBat cannot harmonise a new site "
                            "without refitting on participants from it")
        return np.searchsorted(self.sites_, site)

    def fit(self, X, site, covariates: pd.DataFrame | None = None) -> ComBat:
        """Estimate site effects on training participants.

        Parameters
        ----------
        X : array (n, n_features)
        site : array-like (n,), the site of each participant
        covariates : DataFrame with the ``covariates`` columns (training participants only)
        """
        X = _as_edges(X)
        n = len(X)
        self.sites_ = np.unique(np.asarray(site).astype(str))
        if len(self.sites_) < 2:
            raise DataError(f"ComBat needs at least 2 sites, got {self.sites_.tolist()}")
        idx = self._site_index(site, n)
        counts = np.bincount(idx, minlength=len(self.sites_))
        if counts.min() < 2:
            raise DataError(f"every site needs at least 2 training participants, got "
                            f"{dict(zip(self.sites_.tolist(), counts.tolist(), strict=True))}")
        batch = np.eye(len(self.sites_))[idx]
        cov = self._covariate_design(covariates, n)
        design = np.c_[batch, cov]
        beta = np.linalg.lstsq(design, X, rcond=None)[0]
        k = len(self.sites_)
        self.grand_mean_ = (counts / n) @ beta[:k]
        self.var_pooled_ = ((X - design @ beta) ** 2).mean(0)
        self.var_pooled_[self.var_pooled_ == 0] = 1.0  # constant features stay as they are
        cov_mean = cov.mean(0)
        self.covariate_effect_ = cov_mean @ beta[k:]
        stand_mean = self.grand_mean_ + cov @ beta[k:]
        Z = (X - stand_mean) / np.sqrt(self.var_pooled_)
        gamma_hat = np.stack([Z[idx == j].mean(0) for j in range(k)])
        delta_hat = np.stack([Z[idx == j].var(0, ddof=1) for j in range(k)])
        delta_hat[delta_hat == 0] = 1.0
        if self.mean_only:
            delta_hat = np.ones_like(delta_hat)
        if not self.eb:
            self.gamma_star_, self.delta_star_ = gamma_hat, delta_hat
            return self
        gamma_bar, t2 = gamma_hat.mean(1), gamma_hat.var(1, ddof=1)
        a, b = _aprior(delta_hat), _bprior(delta_hat)
        gamma_star, delta_star = np.empty_like(gamma_hat), np.empty_like(delta_hat)
        for j in range(k):
            z, nj = Z[idx == j], counts[j]
            g_old, d_old = gamma_hat[j], delta_hat[j]
            for _ in range(self.max_iter):
                g_new = (t2[j] * nj * gamma_hat[j] + d_old * gamma_bar[j]) / (t2[j] * nj + d_old)
                if self.mean_only:
                    d_new = np.ones_like(d_old)
                else:
                    sum2 = ((z - g_new) ** 2).sum(0)
                    d_new = (0.5 * sum2 + b[j]) / (nj / 2.0 + a[j] - 1.0)
                change = max(np.max(np.abs(g_new - g_old) / np.maximum(np.abs(g_old), 1e-12)),
                             np.max(np.abs(d_new - d_old) / d_old))
                g_old, d_old = g_new, d_new
                if change < self.tol:
                    break
            gamma_star[j], delta_star[j] = g_old, d_old
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star
        return self

    def transform(self, X, site) -> np.ndarray:
        """Harmonise participants with the training estimates; needs their ``site`` only."""
        check_is_fitted(self, "gamma_star_")
        X = _as_edges(X)
        if X.shape[1] != self.grand_mean_.shape[0]:
            raise DataError(f"X has {X.shape[1]} features, ComBat was fitted on "
                            f"{self.grand_mean_.shape[0]}")
        idx = self._site_index(site, len(X))
        scale = np.sqrt(self.var_pooled_)
        stand_mean = self.grand_mean_ + self.covariate_effect_
        Z = (X - stand_mean) / scale
        Z = (Z - self.gamma_star_[idx]) / np.sqrt(self.delta_star_[idx])
        return Z * scale + stand_mean

    def fit_transform(self, X, site, covariates: pd.DataFrame | None = None) -> np.ndarray:
        return self.fit(X, site, covariates).transform(X, site)


def encode_demographics(table: pd.DataFrame, continuous: Sequence[str],
                        categorical: Sequence[str]) -> np.ndarray:
    """Continuous columns as numbers, categorical ones one-hot (n, n_encoded)."""
    parts = []
    for col in continuous:
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
        if not np.isfinite(values).all():
            raise DataError(f"demographic column {col!r} has missing or non-numeric values")
        parts.append(values[:, None])
    for col in categorical:
        values = table[col].astype(str).to_numpy()
        parts.append((values[:, None] == np.unique(values)[None]).astype(float))
    return np.concatenate(parts, 1)


#: candidates of ``DemographicProjection(n_components="auto")``
AUTO_COMPONENTS = (2, 4, 8, 16, 32, 64)


class DemographicProjection(TransformerMixin, BaseEstimator):
    """Project out the feature directions correlated with demographics in training data.

    ``fit`` standardises the features (training statistics), computes their cross-covariance
    with the encoded demographics (continuous columns, one-hot categorical ones) and keeps an
    orthonormal basis of its columns; ``transform`` removes everyone's component in that
    basis. The transformed participants' demographics are never read. On training data the
    output is exactly uncorrelated with the demographics; on new participants what remains is
    the estimation error of the directions (of order ``sqrt(p / n_train)`` relative, so keep
    ``p`` small next to ``n_train``, e.g. after PCA: ``n_components``).

    Parameters
    ----------
    continuous, categorical : sequence of str
    n_components : int, None or "auto"
        Project in the space of the first ``n_components`` training principal components of
        the standardised features (the others are dropped); None keeps all features;
        ``"auto"`` chooses among :data:`AUTO_COMPONENTS` larger than the number of
        demographic directions removed (one per continuous column, levels - 1 per
        categorical one: smaller spaces are emptied and pass the leakage test trivially) and
        up to a quarter of the training participants, by held-out leakage inside the
        training data (:func:`neurodecode.confounds.selection.select_size`).

    Attributes
    ----------
    n_components_ : int or None, the number used
    size_selection_ : DataFrame or None, the leakage of each candidate (``"auto"``)
    """

    def __init__(self, continuous: Sequence[str] = (), categorical: Sequence[str] = (),
                 n_components: int | None = None) -> None:
        self.continuous = continuous
        self.categorical = categorical
        self.n_components = n_components

    def fit(self, X, demographics: pd.DataFrame) -> DemographicProjection:
        X = _as_edges(X)
        if len(demographics) != len(X):
            raise DataError(f"demographics have {len(demographics)} rows for {len(X)} rows of X")
        demographics = demographics.reset_index(drop=True)
        self.n_components_, self.size_selection_ = self.n_components, None
        if self.n_components == "auto":
            from neurodecode.confounds.selection import select_size

            # as DemoVAE's auto_latent_dims: a space of k <= r components is emptied by the
            # r projected directions and passes the leakage test because nothing is left
            r = len(self.continuous) + sum(
                demographics[c].astype(str).nunique() - 1 for c in self.categorical)
            usable = [k for k in AUTO_COMPONENTS if k > r] or [r + 2]
            sizes = [k for k in usable if k <= max(2, len(X) // 4)] or usable[:1]
            columns = list(self.continuous) + list(self.categorical)
            params = self.get_params()

            def make(size):
                def clean(x_train, d_train, x_test, _):
                    model = DemographicProjection(**(params | dict(n_components=size)))
                    return model.fit(x_train, d_train).transform(x_test)
                return clean

            self.n_components_, self.size_selection_ = select_size(
                make, sizes, X, demographics[columns], categorical=self.categorical,
                stratify=self.categorical[0] if len(self.categorical) else None)
        self.mean_ = X.mean(0)
        self.scale_ = X.std(0)
        self.scale_[self.scale_ == 0] = 1.0
        xs = (X - self.mean_) / self.scale_
        if self.n_components_ is None:
            self.components_ = None
        else:
            self.components_ = np.linalg.svd(xs, full_matrices=False)[2][:self.n_components_].T
            xs = xs @ self.components_
        D = encode_demographics(demographics.reset_index(drop=True), self.continuous,
                                self.categorical)
        cross = xs.T @ (D - D.mean(0)) / len(X)
        u, s, _ = np.linalg.svd(cross, full_matrices=False)
        self.basis_ = u[:, s > max(s.max(initial=0.0), 1e-300) * 1e-8]
        return self

    def transform(self, X) -> np.ndarray:
        """Cleaned features in the original units, shape like ``X`` (with ``n_components``:
        reconstructed from the kept components). Reads no demographics."""
        check_is_fitted(self, "basis_")
        X = _as_edges(X)
        if X.shape[1] != len(self.mean_):
            raise DataError(f"X has {X.shape[1]} features, fitted on {len(self.mean_)}")
        xs = (X - self.mean_) / self.scale_
        if self.components_ is not None:
            xs = xs @ self.components_
        xs = xs - (xs @ self.basis_) @ self.basis_.T
        if self.components_ is not None:
            xs = xs @ self.components_.T
        return xs * self.scale_ + self.mean_
