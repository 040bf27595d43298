import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurodecode.confounds.cv_ridge import ALPHAS
from neurodecode.confounds.reports import (
    chance_band,
    fidelity_report,
    held_out_predictions,
    leakage_report,
    permutation_scores,
)


def _targets(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(dict(age=rng.uniform(10, 60, n), sex=rng.choice(["F", "M"], n),
                             site=rng.choice(["a", "b", "c"], n)))


def test_leakage_report_flags_present_absent_and_matches_sklearn():
    t = _targets()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((200, 5))
    informative = np.column_stack([t.age / 10 + rng.standard_normal(200), (t.sex == "M") * 2.0,
                                   noise])
    rep = leakage_report(informative, t[["age", "sex"]], n_permutations=200).set_index("target")
    assert (rep["status"] == "above chance").all()
    folds = KFold(5, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))
    pred = cross_val_predict(pipe, informative, t.age, cv=folds)
    np.testing.assert_allclose(held_out_predictions(informative, t.age, "continuous"), pred,
                               atol=1e-10)
    assert np.isclose(rep.loc["age", "score"], r2_score(t.age, pred))
    pipe = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))
    pred = cross_val_predict(pipe, informative, t.sex, cv=folds, method="decision_function")
    np.testing.assert_allclose(held_out_predictions(informative, t.sex, "binary"), pred,
                               atol=1e-10)
    assert np.isclose(rep.loc["sex", "score"], roc_auc_score(t.sex == "M", pred))
    null = leakage_report(noise, t, n_permutations=500, alpha=0.01).set_index("target")
    assert (null["status"] == "at chance").all(), null
    assert null.loc["site", "metric"] == "balanced_accuracy"
    assert null.loc["sex", "chance_low"] < 0.5 < null.loc["sex", "chance_high"]


def test_multiclass_predictions_equal_ridge_classifier():
    t = _targets()
    X = np.random.default_rng(3).standard_normal((200, 4)) + (t.site == "b").to_numpy()[:, None]
    folds = KFold(5, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))
    expected = cross_val_predict(pipe, X, t.site, cv=folds)
    classes = np.array(sorted(t.site.unique()))
    np.testing.assert_array_equal(classes[held_out_predictions(X, t.site, "multiclass")],
                                  expected)
    score, _ = permutation_scores(X, t.site, "multiclass", n_permutations=0)
    assert np.isclose(score, balanced_accuracy_score(t.site, expected))


def test_chance_band_is_calibrated_on_representations_without_the_target():
    """Pure-noise representations: each side of the 90% band is crossed ~5% of the time.
    Scoring fixed out-of-fold predictions against permuted targets instead flagged R² "below
    chance" in ~40% of these draws (out-of-fold predictions anti-correlate with the target)."""
    rng = np.random.default_rng(0)
    statuses = []
    for i in range(60):
        t = _targets(120, seed=100 + i)
        rep = leakage_report(rng.standard_normal((120, 6)), t, n_permutations=99,
                             alpha=0.1, random_state=i)
        statuses.append(rep.set_index("target")["status"])
    counts = pd.concat(statuses).groupby(level=0).value_counts().unstack(fill_value=0)
    for side in ("above chance", "below chance"):
        if side in counts:
            assert (counts[side] <= 9).all(), counts  # expected 3 of 60; P(>9) < 0.01


def test_chance_band_is_two_sided():
    y = pd.Series(np.repeat(["a", "b"], 50))
    X = np.repeat([[0.0], [1.0]], 50, axis=0) + np.random.default_rng(0).normal(0, 0.5, (100, 1))
    score, null = permutation_scores(X, y, "binary", n_permutations=300)
    low, mid, high = chance_band(null)
    # pooled out-of-fold scores of a target the read-out cannot predict sit below 0.5 (each
    # fold's intercept leans away from its own labels); the refitted null knows it
    assert low < mid < high and 0.3 < mid < 0.5
    assert score > high
    flipped, _ = permutation_scores(-X, y, "binary", n_permutations=0)
    assert flipped == score  # the read-out learns the sign
    assert roc_auc_score(y == "b", -X[:, 0]) < low  # fixed anti-predictions fall below


def test_fidelity_report_values():
    rng = np.random.default_rng(0)
    demo = pd.DataFrame(dict(sex=rng.choice(["F", "M"], 400)))
    effect = np.linspace(-1, 1, 20)

    def draw(shrink):
        return rng.standard_normal((400, 20)) + np.outer(demo.sex == "M", effect) * shrink

    real = draw(1.0)
    same = fidelity_report(real, demo, draw(1.0), demo, groups=["sex"], n_permutations=200)
    assert same["group_differences"]["sex=M"]["error_ratio"] < 0.3
    assert same["two_sample"]["chance_low"] <= same["two_sample"]["auc"] \
        <= same["two_sample"]["chance_high"]
    synthetic = draw(0.0)
    flat = fidelity_report(real, demo, synthetic, demo, groups=["sex"], n_permutations=50)
    male = (demo.sex == "M").to_numpy()
    d_real = real[male].mean(0) - real[~male].mean(0)
    d_syn = synthetic[male].mean(0) - synthetic[~male].mean(0)
    expected = np.sqrt(np.mean((d_syn - d_real) ** 2)) / np.sqrt(np.mean(d_real ** 2))
    assert np.isclose(flat["group_differences"]["sex=M"]["error_ratio"], expected)
    assert expected > 0.8
    assert np.isclose(flat["moments"]["mean_rmse"],
                      np.sqrt(np.mean((synthetic.mean(0) - real.mean(0)) ** 2)))


def test_plot_leakage_writes_png(tmp_path):
    t = _targets(80)
    noise = np.random.default_rng(2).standard_normal((80, 3))
    reports = {"noise": leakage_report(noise, t, n_permutations=50),
               "age": leakage_report(np.c_[t.age, noise], t, n_permutations=50)}
    from neurodecode.confounds.reports import plot_leakage

    path = plot_leakage(reports, tmp_path / "leak.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leak.png"]


def test_vectorised_null_scores_equal_sklearn():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 3))
    targets = {"binary": pd.Series(rng.choice(["x", "y"], 60)),
               "continuous": pd.Series(rng.standard_normal(60))}
    order = np.argsort(np.random.default_rng(0).random((1, 60)), axis=1)[0]
    for kind, y in targets.items():
        _, null = permutation_scores(X, y, kind, n_permutations=1)
        permuted = pd.Series(y.to_numpy()[order])
        pred = held_out_predictions(X, permuted, kind)
        expected = (roc_auc_score(permuted == "y", pred) if kind == "binary"
                    else r2_score(permuted, pred))
        assert np.isclose(null[0], expected)


def test_kernel_form_gives_the_svd_numbers_on_wide_data():
    """n << p (the 20,000-edge case, smaller): Gram-matrix ridge equals the SVD form."""
    rng = np.random.default_rng(11)
    t = _targets(60, seed=4)
    X = rng.standard_normal((60, 3000)) + np.outer(t.age / 20, rng.standard_normal(3000))
    X[:, :5] = 1.0  # constant features, as zero-variance ROIs give
    reports = {solver: leakage_report(X, t, n_permutations=50, solver=solver)
               for solver in ("svd", "kernel", "auto")}
    for solver in ("kernel", "auto"):
        for col in ("score", "chance_low", "chance_median", "chance_high"):
            np.testing.assert_allclose(reports[solver][col], reports["svd"][col], atol=1e-8,
                                       rtol=0)
    assert reports["svd"].set_index("target").loc["age", "status"] == "above chance"
    # the raw out-of-fold predictions too, for every target kind
    from neurodecode.confounds.cv_ridge import cross_validated_predictions

    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    Y = rng.standard_normal((60, 7, 3))
    np.testing.assert_allclose(cross_validated_predictions(X, Y, folds, solver="kernel"),
                               cross_validated_predictions(X, Y, folds, solver="svd"),
                               atol=1e-8, rtol=0)
