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

from neurodecode.errors import DataError

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


METHODS = ("combat", "projection", "combat+projection", "demovae")


def cleaners(continuous: Sequence[str], categorical: Sequence[str], site: str | None,
             site_values=None, demovae_params: dict | None = None) -> dict[str, Cleaner]:
    """The cleaners compared by :func:`cleaning_report`, as :data:`Cleaner` functions.

    ``combat`` and ``combat+projection`` need ``site`` (a declared categorical column) and
    the site of every participant (``site_values``): ComBat harmonises a held-out participant
    with its site, which is known at acquisition. ``combat+projection`` then projects out
    the other demographics only (the covariates ComBat protected; site is removed).
    ``projection`` and ``demovae`` read no demographics of the held-out participants.
    """
    from neurodecode.confounds.demovae import DemoVAE
    from neurodecode.confounds.harmonization import ComBat, DemographicProjection

    continuous, categorical = list(continuous), list(categorical)
    covariates = [c for c in continuous + categorical if c != site]
    out: dict[str, Cleaner] = {}

    def project(x_tr, d_tr, x_te, cont=continuous, cat=categorical):
        proj = DemographicProjection(cont, cat, n_components="auto")
        return proj.fit(x_tr, d_tr).transform(x_te)

    out["projection"] = lambda x_tr, d_tr, x_te, test: project(x_tr, d_tr, x_te)
    if site is not None:
        sites = np.asarray(site_values).astype(str)

        def combat(x_tr, d_tr, x_te, test, then_project=False):
            model = ComBat(covariates=covariates).fit(x_tr, d_tr[site], d_tr)
            x_te = model.transform(x_te, sites[test])
            if not then_project or not covariates:
                return x_te
            # ComBat has removed site: project out the covariates it protected, not site
            # again (after ComBat the training site directions are estimation noise, and
            # removing them cost the planted signal: retention .80/.80/.79 vs .96/.93/.93,
            # bench/demovae_small_sample.py)
            return project(model.transform(x_tr, d_tr[site]), d_tr, x_te,
                           [c for c in continuous if c != site],
                           [c for c in categorical if c != site])

        out["combat"] = combat
        out["combat+projection"] = lambda *a: combat(*a, then_project=True)
    params = dict(latent_dim="auto", hidden_dim=64, n_epochs=100, batch_size=32)
    params |= demovae_params or {}

    def demovae(x_tr, d_tr, x_te, test):
        model = DemoVAE(continuous=continuous, categorical=categorical, **params)
        return model.fit(x_tr, demographics=d_tr).clean_edges(x_te)

    out["demovae"] = demovae
    return out


def cleaning_report(X: np.ndarray, table: pd.DataFrame, continuous: Sequence[str] = (),
                    categorical: Sequence[str] = (), signals: Sequence[str] = (),
                    site: str | None = None, methods: Sequence[str] = METHODS,
                    n_folds: int = 5, n_permutations: int = 200,
                    demovae_params: dict | None = None, random_state: int = 0) -> pd.DataFrame:
    """Which method removes what: every method cross-fitted, then judged by
    :func:`~neurodecode.confounds.reports.leakage_report` on the pooled held-out output.

    Parameters
    ----------
    X : array (n, n_edges)
    table : DataFrame with the demographic and signal columns, one row per participant
    continuous, categorical : demographics to remove
    signals : columns that should survive (e.g. a diagnosis); never shown to any cleaner
    site : the categorical column ComBat harmonises (None: no ComBat methods)
    methods : subset of :data:`METHODS`

    Returns
    -------
    DataFrame, one row per method (``raw`` first) and target: the leakage report's columns,
    ``role`` (``"demographic"`` / ``"signal"``) and, for signals, ``retention`` =
    (score - chance median) / (raw score - raw chance median).
    """
    from neurodecode.confounds.reports import leakage_report

    demographics = list(continuous) + list(categorical)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise DataError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    if site is not None and site not in categorical:
        raise DataError(f"site column {site!r} must be one of the categorical demographics "
                        f"{list(categorical)}")
    table = table.reset_index(drop=True)
    targets = table[demographics + list(signals)]
    funcs = cleaners(continuous, categorical, site,
                     table[site] if site is not None else None, demovae_params)
    outputs = {"raw": np.asarray(X, dtype=np.float64)}
    for name in methods:
        if name not in funcs:
            continue  # ComBat without a site column
        outputs[name] = cross_fit(funcs[name], X, table[demographics], n_folds,
                                  stratify=site, random_state=random_state)
    reports = []
    for name, rep_X in outputs.items():
        rep = leakage_report(rep_X, targets, categorical=categorical,
                             n_permutations=n_permutations, random_state=random_state)
        rep.insert(0, "method", name)
        rep["role"] = np.where(rep["target"].isin(demographics), "demographic", "signal")
        reports.append(rep)
    out = pd.concat(reports, ignore_index=True)
    raw = out[out.method == "raw"].set_index("target")
    gain = raw["score"] - raw["chance_median"]
    out["retention"] = [
        (row.score - row.chance_median) / gain[row.target] if row.role == "signal" else np.nan
        for row in out.itertuples()]
    return out
