"""Percentile bootstrap intervals."""

import numpy as np
import pytest

from neurodecode.data.errors import DataError
from neurodecode.metrics.bootstrap import bootstrap_ci


def test_interval_matches_the_normal_approximation_for_a_mean():
    x = np.random.default_rng(0).normal(0.3, 1.0, size=400)
    low, high = bootstrap_ci(x, n_boot=4000, seed=1)
    half = 1.96 * x.std() / np.sqrt(len(x))
    assert low < x.mean() < high
    assert low == pytest.approx(x.mean() - half, abs=0.2 * half)
    assert high == pytest.approx(x.mean() + half, abs=0.2 * half)


def test_seeded_degenerate_and_disabled():
    x = np.random.default_rng(0).random(50)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)
    assert bootstrap_ci(np.full(20, 0.7)) == pytest.approx((0.7, 0.7))
    assert np.isnan(bootstrap_ci(x, n_boot=0)).all()
    narrow = bootstrap_ci(x, level=0.5)
    wide = bootstrap_ci(x, level=0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]
    with pytest.raises(DataError):
        bootstrap_ci(x, level=95)


def test_ratio_statistic_for_pooled_counts():
    x = np.random.default_rng(0).random(60)
    # sums of two equal observations per image give the same interval as the plain mean
    assert bootstrap_ci(2 * x, np.full(60, 2), seed=5) == pytest.approx(bootstrap_ci(x, seed=5))
    # unequal counts weight images by their number of observations
    sums, counts = np.array([1.0, 0.0]), np.array([1, 9])
    low, high = bootstrap_ci(sums, counts, n_boot=2000)
    assert low == 0.0 and high == 1.0
