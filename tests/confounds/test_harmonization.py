"""ComBat, the labels-free demographic projection and the size selection, against planted
truth and hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.confounds.harmonization import ComBat, DemographicProjection
from neurodecode.confounds.reports import leakage_report
from neurodecode.confounds.selection import cross_fit, select_size
from neurodecode.data.errors import DataError


def _sites(n=150, p=40, seed=0):
    """Three sites with planted location and scale effects, age acting on a few features and
    a diagnosis signal of its own."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["a", "b", "c"], n)
    age = rng.uniform(10, 60, n)
    dx = rng.integers(0, 2, n)
    shift = {"a": 0.0, "b": 2.0, "c": -2.0}
    scale = {"a": 1.0, "b": 2.0, "c": 0.5}
    loc = rng.standard_normal(p)
    X = rng.standard_normal((n, p)) * np.array([scale[s] for s in site])[:, None]
    X += np.outer([shift[s] for s in site], loc)
    X[:, :5] += 0.05 * age[:, None]
    X[:, 5:10] += 1.0 * dx[:, None]
    return X, pd.DataFrame(dict(site=site, age=age, diagnosis=dx))


def test_combat_without_eb_equalises_site_moments_exactly():
    X, meta = _sites()
    out = ComBat(eb=False).fit_transform(X, meta.site)
    model = ComBat(eb=False).fit(X, meta.site)
    for s in "abc":
        inside = (meta.site == s).to_numpy()
        np.testing.assert_allclose(out[inside].mean(0), model.grand_mean_, atol=1e-10)
        np.testing.assert_allclose(out[inside].std(0, ddof=1), np.sqrt(model.var_pooled_),
                                   rtol=1e-10)


def test_combat_removes_site_on_held_out_participants_and_keeps_the_rest():
    X, meta = _sites(n=300)
    train, test = np.arange(200), np.arange(200, 300)
    model = ComBat(covariates=["age"]).fit(X[train], meta.site[train], meta.iloc[train])
    out = model.transform(X[test], meta.site[test])  # site only: no covariates of the test
    raw = leakage_report(X[test], meta.iloc[test], n_permutations=100).set_index("target")
    clean = leakage_report(out, meta.iloc[test], n_permutations=100).set_index("target")
    assert raw.loc["site", "status"] == "above chance" and raw.loc["site", "score"] > 0.7
    assert clean.loc["site", "status"] == "at chance", clean
    # covariates are protected, the planted signal survives
    assert clean.loc["age", "status"] == "above chance", clean
    assert clean.loc["diagnosis", "score"] >= 0.9 * raw.loc["diagnosis", "score"]
    # EB: each site location is a convex combination of its per-feature estimate and their
    # across-feature mean (Johnson et al. 2007, eq. for gamma*)
    hat = ComBat(covariates=["age"], eb=False).fit(X[train], meta.site[train],
                                                   meta.iloc[train]).gamma_star_
    bar = hat.mean(1, keepdims=True)
    assert np.all(np.abs(model.gamma_star_ - bar) <= np.abs(hat - bar) + 1e-12)
    assert np.abs(model.gamma_star_ - hat).max() > 1e-3
    with pytest.raises(DataError, match=r"sites \['d'\] were not seen in training"):
        model.transform(X[test], np.where(meta.site[test] == "a", "d", meta.site[test]))
    with pytest.raises(DataError, match="at least 2 training participants"):
        ComBat().fit(X[:4], ["a", "a", "a", "b"])


def test_projection_reads_no_demographics_and_removes_them_in_training():
    X, meta = _sites()
    proj = DemographicProjection(["age"], ["site"]).fit(X, meta)
    out = proj.transform(X)
    D = np.c_[meta.age, pd.get_dummies(meta.site).to_numpy(float)]
    cross = (out - out.mean(0)).T @ (D - D.mean(0))
    assert np.abs(cross).max() < 1e-8
    assert proj.basis_.shape == (40, 3)  # age + two site contrasts
    pca = DemographicProjection(["age"], ["site"], n_components=6).fit(X, meta)
    assert pca.transform(X).shape == X.shape


def test_select_size_keeps_the_largest_size_inside_the_bands():
    rng = np.random.default_rng(0)
    n = 120
    meta = pd.DataFrame(dict(age=rng.uniform(10, 60, n)))
    X = rng.standard_normal((n, 6))

    def make(size):  # a deliberately leaky cleaner from size 8 on (it reads the labels)
        def clean(x_train, d_train, x_test, test):
            leak = (size >= 8) * meta.age.to_numpy()[test, None] / 10
            return x_test + leak
        return clean

    size, table = select_size(make, [2, 4, 8, 16], X, meta)
    assert size == 4, table
    assert (table.set_index("size").loc[[8, 16], "worst"] > 1).all()
    # cross_fit cleans every row with a model that did not see it
    seen = []

    def record(x_train, d_train, x_test, test):
        seen.append((len(x_train), test))
        return x_test
    np.testing.assert_array_equal(cross_fit(record, X, meta, n_folds=4), X)
    assert sorted(np.concatenate([t for _, t in seen]).tolist()) == list(range(n))
    assert all(k == n - len(t) for k, t in seen)


def test_combat_then_projection_does_not_project_site_again():
    """After ComBat, combat+projection projects out the covariates ComBat protected, not site
    (the training site directions are then estimation noise; removing them cost the planted
    signal in bench/demovae_small_sample.py): with site the only demographic it is ComBat."""
    from neurodecode.confounds.selection import cleaners

    X, meta = _sites(n=90)
    train, test = np.arange(60), np.arange(60, 90)
    site_only = cleaners([], ["site"], "site", meta.site)
    args = (X[train], meta.iloc[train][["site"]].reset_index(drop=True), X[test], test)
    np.testing.assert_array_equal(site_only["combat+projection"](*args),
                                  site_only["combat"](*args))
    with_age = cleaners(["age"], ["site"], "site", meta.site)
    d_train = meta.iloc[train][["age", "site"]].reset_index(drop=True)
    out = with_age["combat+projection"](X[train], d_train, X[test], test)
    combat = ComBat(covariates=["age"]).fit(X[train], d_train.site, d_train)
    # the projection that follows is fitted on the age of the harmonised training rows only
    proj = DemographicProjection(["age"], [], n_components="auto").fit(
        combat.transform(X[train], d_train.site), d_train)
    np.testing.assert_allclose(out, proj.transform(combat.transform(X[test], meta.site[test])))


def test_auto_components_leave_dimensions_besides_the_projected_ones():
    """n_components="auto" tries only spaces larger than the directions it removes (age: 1,
    3 sites: 2): a space of 2 components would be emptied and pass the leakage test because
    nothing is left."""
    X, meta = _sites(n=150)
    proj = DemographicProjection(["age"], ["site"], n_components="auto").fit(X, meta)
    assert proj.size_selection_["size"].tolist() == [4, 8, 16, 32]  # up to 150 // 4
    assert proj.basis_.shape == (proj.n_components_, 3)
