"""neurodecode.ridge: per-target alpha inside training data, any target shape, bounded batches."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold

from neurodecode.errors import DataError
from neurodecode.ridge import MultiRidgeCV


def _world(n=150, p=40, seed=0):
    W = np.random.default_rng(100).normal(size=(p, 2))  # same weights for every sample
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    clean = X @ W[:, 0] + 0.1 * rng.normal(size=n)
    noisy = 0.05 * (X @ W[:, 1]) + 3.0 * rng.normal(size=n)
    return X, np.stack([clean, noisy], 1), W


def test_alpha_is_chosen_per_target():
    X, Y, W = _world()
    model = MultiRidgeCV().fit(X, Y)
    # the clean target needs little shrinkage, the nearly pure-noise one a lot
    assert model.best_alphas_[0] < 10
    assert model.best_alphas_[1] >= 100 * model.best_alphas_[0]
    # weights of the clean target recovered (on standardised features: W * scale)
    r = np.corrcoef(model.coef_[:, 0], W[:, 0] * model.scale_)[0, 1]
    assert r > 0.99
    X_test, Y_test, _ = _world(seed=1)
    assert model.score(X_test, Y_test)[0] > 0.95
    assert model.predict(X_test).shape == (150, 2)


def test_matches_sklearn_alpha_per_target_on_the_same_folds():
    X, Y, _ = _world(n=90, p=20, seed=3)
    Y = np.concatenate([Y, Y[:, :1] + np.random.default_rng(0).normal(size=(90, 1))], 1)
    alphas = np.logspace(-2, 4, 13)
    folds = list(KFold(5).split(X))
    ours = MultiRidgeCV(alphas=alphas, cv=folds, standardize=False).fit(X, Y)
    for j in range(Y.shape[1]):  # scikit-learn's grid search, one target at a time
        ref = GridSearchCV(Ridge(), {"alpha": alphas}, cv=folds,
                           scoring="neg_mean_squared_error").fit(X, Y[:, j])
        assert ours.best_alphas_[j] == pytest.approx(ref.best_params_["alpha"])
        np.testing.assert_allclose(ours.predict(X)[:, j], ref.predict(X), rtol=1e-6,
                                   atol=1e-8)


def test_target_shape_groups_and_batches():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 30))
    Y = np.einsum("nf,fab->nab", X, rng.normal(size=(30, 3, 5)))
    groups = np.repeat(np.arange(8), 10)
    a = MultiRidgeCV(cv=GroupKFold(4)).fit(X, Y, groups=groups)
    b = MultiRidgeCV(cv=GroupKFold(4), n_targets_batch=2).fit(X, Y, groups=groups)
    assert a.predict(X[:3]).shape == (3, 3, 5)
    np.testing.assert_allclose(a.predict(X), b.predict(X))
    restored = MultiRidgeCV.from_state(a.state())
    np.testing.assert_allclose(restored.predict(X), a.predict(X))


def test_raw_scale_features_use_the_same_grid():
    """Standardisation inside: features in tesla (1e-13) select the same alphas as z-scores."""
    X, Y, _ = _world(seed=2)
    z = MultiRidgeCV().fit(X, Y)
    tesla = MultiRidgeCV().fit(X * 1e-13 + 5e-12, Y)
    np.testing.assert_allclose(z.best_alphas_, tesla.best_alphas_)


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError, match="target rows"):
        MultiRidgeCV().fit(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(DataError, match="features"):
        MultiRidgeCV().fit(np.zeros((10, 3)), np.zeros((10, 2))).predict(np.zeros((2, 4)))


def test_ridge_at_given_penalties_equals_sklearn_per_target_alpha():
    from sklearn.linear_model import Ridge

    from neurodecode.ridge import ridge_at

    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 80)) + 2.0  # more features than samples, off-centre
    Y = X[:, :5] @ rng.normal(size=(5, 4)) + rng.normal(size=(60, 4)) + 1.0
    alphas = np.array([0.1, 10.0, 1e3, 1e5])
    coef, intercept = ridge_at(X, Y, alphas)
    ref = Ridge(alpha=alphas).fit(X, Y)
    np.testing.assert_allclose(coef, ref.coef_.T, atol=1e-9)
    np.testing.assert_allclose(intercept, ref.intercept_, atol=1e-9)
    with pytest.raises(DataError, match="at least 2"):
        ridge_at(X[:1], Y[:1], 1.0)


def test_matches_himalaya_ridgecv_on_the_same_folds():
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV

    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 120))  # wide, as voxels against trials
    Y = X[:, :6] @ rng.normal(size=(6, 7)) * rng.uniform(0.05, 2, 7) + rng.normal(size=(80, 7))
    alphas = np.logspace(-1, 5, 7)
    folds = list(KFold(4).split(X))
    ours = MultiRidgeCV(alphas=alphas, cv=folds, standardize=False).fit(X, Y)
    set_backend("numpy", on_error="warn")
    ref = RidgeCV(alphas=alphas, cv=folds, fit_intercept=True,
                  solver_params={"warn": False}).fit(X, Y)
    np.testing.assert_allclose(ours.best_alphas_, np.asarray(ref.best_alphas_), rtol=1e-12)
    assert len(set(ours.best_alphas_)) > 1  # the penalties differ between targets
    np.testing.assert_allclose(ours.coef_, np.asarray(ref.coef_), atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, np.asarray(ref.intercept_), atol=1e-8)


def test_without_intercept_matches_sklearn():
    X, Y, _ = _world(n=90, p=20, seed=4)
    Y = Y + 3.0  # an offset that only an intercept could absorb
    alphas = np.logspace(-2, 4, 13)
    folds = list(KFold(5).split(X))
    ours = MultiRidgeCV(alphas=alphas, cv=folds, standardize=False, fit_intercept=False)
    ours.fit(X, Y)
    for j in range(Y.shape[1]):
        ref = GridSearchCV(Ridge(fit_intercept=False), {"alpha": alphas}, cv=folds,
                           scoring="neg_mean_squared_error").fit(X, Y[:, j])
        assert ours.best_alphas_[j] == pytest.approx(ref.best_params_["alpha"])
        np.testing.assert_allclose(ours.predict(X)[:, j], ref.predict(X), rtol=1e-6, atol=1e-8)
