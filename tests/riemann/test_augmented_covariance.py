"""Augmented covariance: parity with MOABB (trim) and pyRiemann (roll), and the estimates."""

import numpy as np
import pytest
from pyriemann.estimation import Covariances, TimeDelayCovariances
from sklearn.base import clone

from neurodecode.riemann import (
    AugmentedCovariances,
    delay_embed,
    estimate_lag,
    estimate_order,
)


def _trials(n=12, n_channels=4, n_times=120, seed=0):
    return np.random.default_rng(seed).standard_normal((n, n_channels, n_times))


def _sines(periods, n=40, n_times=400, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)
    X = np.zeros((n, 3, n_times))
    for period in periods:
        X += np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi, (n, 3, 1)))
    return X + noise * rng.standard_normal(X.shape)


@pytest.mark.parametrize(("order", "lag"), [(1, 1), (4, 1), (3, 5)])
def test_roll_equals_pyriemann_time_delay_covariances(order, lag):
    X = _trials()
    delays = [lag * p for p in range(1, order)]
    expected = TimeDelayCovariances(delays=delays, estimator="scm").fit_transform(X)
    got = AugmentedCovariances(order, lag, edge="roll", estimator="scm").fit_transform(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("order", "lag"), [(1, 1), (2, 3), (5, 2)])
def test_trim_equals_hand_built_embedding_and_moabb(order, lag):
    X = _trials()
    n_times = X.shape[-1]
    if order == 1:
        hand = X
    else:  # copy p covers samples [p*lag, n_times - (order-p)*lag): nothing wraps around
        hand = np.concatenate(
            [X[:, :, p * lag : n_times - (order - p) * lag] for p in range(order)], axis=1
        )
    expected = Covariances("cov").fit_transform(hand)
    got = AugmentedCovariances(order, lag, edge="trim", estimator="cov").fit_transform(X)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    features = pytest.importorskip("moabb.pipelines.features")
    moabb = features.AugmentedDataset(order=order, lag=lag).fit(X, None).transform(X)
    np.testing.assert_array_equal(delay_embed(X, order, lag, "trim"), moabb)


def test_trim_and_roll_differ_and_shapes():
    X = _trials()
    assert delay_embed(X, 3, 2, "trim").shape == (12, 12, 120 - 6)
    assert delay_embed(X, 3, 2, "roll").shape == (12, 12, 120)
    trim = AugmentedCovariances(3, 2, edge="trim").fit_transform(X)
    roll = AugmentedCovariances(3, 2, edge="roll").fit_transform(X)
    assert not np.allclose(trim, roll)


@pytest.mark.parametrize("period", [16, 20, 32])
def test_lag_is_first_minimum_of_mutual_information(period):
    # For a rhythm, the first minimum of the auto mutual information is near a quarter period.
    assert abs(estimate_lag(_sines([period]), max_lag=15) - period / 4) <= 1


def test_order_grows_with_the_dimension_of_the_dynamics():
    orders = []
    for periods in ([20], [20, 20 * np.sqrt(2)], [20, 20 * np.sqrt(2), 20 * np.sqrt(5)]):
        X = _sines(periods, noise=0.001)
        orders.append(estimate_order(X, lag=5))
    assert orders[0] < orders[1] < orders[2], orders
    assert orders[0] <= 4


def test_auto_is_estimated_in_fit_only():
    slow, fast = _sines([32]), _sines([12], seed=1)
    acm = AugmentedCovariances().fit(slow)
    lag, order = acm.lag_, acm.order_
    assert lag == estimate_lag(slow, 10) and order == estimate_order(slow, lag, 10)
    acm.transform(fast)  # transforming other data keeps the training estimates
    assert (acm.lag_, acm.order_) == (lag, order)
    assert AugmentedCovariances().fit(fast).lag_ != lag
    assert clone(acm).get_params() == acm.get_params()


def test_bad_parameters_are_refused():
    X = _trials(n_times=20)
    with pytest.raises(ValueError, match="leaves nothing"):
        AugmentedCovariances(5, 5).fit(X)
    with pytest.raises(ValueError, match="edge"):
        AugmentedCovariances(2, 1, edge="wrap").fit(X)
    with pytest.raises(ValueError, match="positive integer"):
        AugmentedCovariances(0, 1).fit(X)


def _band_limited(n=24, n_channels=6, n_times=200, seed=0, car=False):
    """Smooth (low-pass) multichannel noise: delay-embedded, it is close to predictable."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    X = sosfiltfilt(butter(4, 0.15, output="sos"), rng.standard_normal((n, n_channels, n_times)))
    return X - X.mean(1, keepdims=True) if car else X


def test_rank_deficient_data_use_their_principal_subspace():
    X = _band_limited(car=True)  # average reference: rank 5 of 6 channels
    unsafe = AugmentedCovariances(order=2, lag=3, rank_safe=False).fit(X).transform(X)
    assert np.linalg.eigvalsh(unsafe)[:, 0].max() < 1e-12 * np.linalg.eigvalsh(unsafe)[:, -1].min()
    acm = AugmentedCovariances(order=2, lag=3).fit(X)
    assert acm.rank_ == 5 and acm.projection_.shape == (5, 6)
    C = acm.transform(X)
    assert C.shape == (24, 10, 10)
    eig = np.linalg.eigvalsh(C)
    assert (eig[:, 0] / eig[:, -1]).min() > 1e-8  # positive definite, usable by TangentSpace
    # the projection is a change of basis on the data's subspace: nothing of the data is lost
    back = acm.projection_.T @ acm.projection_ @ X[0]
    np.testing.assert_allclose(back, X[0], atol=1e-10 * np.abs(X[0]).max())


def test_auto_order_is_limited_by_samples_and_conditioning():
    X = _band_limited(n_times=120)
    acm = AugmentedCovariances(max_order=10).fit(X)
    n_kept = 120 - acm.order_ * acm.lag_
    assert 2 * acm.order_ * acm.rank_ <= n_kept
    eig = np.linalg.eigvalsh(acm.transform(X))
    assert (eig[:, 0] / eig[:, -1]).min() >= 1e-10 * 0.1  # the check ran on a subset of trials
    assert acm.ridge_ == 0.0


def test_fixed_order_gets_a_ridge_only_when_needed():
    X = _band_limited(n_times=120)
    high = AugmentedCovariances(order=10, lag=1).fit(X)  # 60 rows of smooth data: singular
    assert high.ridge_ > 0
    eig = np.linalg.eigvalsh(high.transform(X))
    assert eig[:, 0].min() > 0
    white = _trials()
    low = AugmentedCovariances(order=3, lag=2).fit(white)
    assert low.ridge_ == 0.0 and low.projection_ is None
    plain = AugmentedCovariances(order=3, lag=2, rank_safe=False).fit(white)
    np.testing.assert_array_equal(low.transform(white), plain.transform(white))  # MOABB's
