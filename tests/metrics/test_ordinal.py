"""Ordinal targets, Seq2HR, macro-F1 and rating error against hand-computed values."""

import math

import numpy as np
import pytest

from neurodecode.errors import DataError
from neurodecode.metrics.ordinal import (
    macro_f1,
    mean_absolute_rating_error,
    onehot_targets,
    ordinal_report,
    ordinal_targets,
    seq2hr,
)


def test_ordinal_targets_equal_hand_computed_gaussian():
    # sigma 0.5: exponent -(k - y)^2 / 0.5 -> 0, -2, -8 for distances 0, 1, 2
    z = 1 + 2 * math.exp(-2) + 2 * math.exp(-8)
    expected = [math.exp(-8) / z, math.exp(-2) / z, 1 / z, math.exp(-2) / z, math.exp(-8) / z]
    t = ordinal_targets([3], 5, sigma=0.5, classes=[1, 2, 3, 4, 5])
    np.testing.assert_allclose(t[0], expected, rtol=1e-12)
    np.testing.assert_allclose(t[0], [0.0002639, 0.1064508, 0.7865707, 0.1064508, 0.0002639], atol=1e-7)
    # at the edge the mass is renormalised over the classes that exist
    z = 1 + math.exp(-2) + math.exp(-8)
    np.testing.assert_allclose(ordinal_targets([0], 3, sigma=0.5)[0],
                               [1 / z, math.exp(-2) / z, math.exp(-8) / z])
    # sigma 1: distance 1 -> exp(-1/2)
    t = ordinal_targets([1], 3, sigma=1.0)[0]
    np.testing.assert_allclose(t / t[1], [math.exp(-0.5), 1, math.exp(-0.5)])


def test_onehot_is_separate_and_exact():
    np.testing.assert_array_equal(onehot_targets([1, 5], 5, classes=[1, 2, 3, 4, 5]),
                                  [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
    with pytest.raises(DataError, match="onehot_targets"):
        ordinal_targets([1], 5, sigma=0)
    with pytest.raises(DataError, match="not among the classes"):
        onehot_targets([7], 5, classes=[1, 2, 3, 4, 5])


def test_seq2hr_hand_computed():
    classes = [1, 2, 3, 4, 5]
    proba = np.array([
        [0.10, 0.60, 0.25, 0.05, 0.00],  # top 2, 3: adjacent, truth 3 -> hit
        [0.10, 0.50, 0.05, 0.30, 0.05],  # top 2, 4: not adjacent -> miss
        [0.00, 0.05, 0.15, 0.30, 0.50],  # top 5, 4: adjacent, truth 3 not in top 2 -> miss
        [0.70, 0.20, 0.05, 0.05, 0.00],  # top 1, 2: adjacent, truth 1 -> hit
    ])
    assert seq2hr(proba, [3, 2, 3, 1], classes) == 0.5
    # class values, not column indices, decide adjacency
    assert seq2hr(proba[:1], [4], classes=[1, 2, 4, 5, 6]) == 0.0


def test_macro_f1_and_mae_hand_computed():
    y = [1, 1, 2, 2, 3]
    pred = [1, 2, 2, 2, 1]
    # class 1: P 1/2 R 1/2 F 1/2; class 2: P 2/3 R 1 F .8; class 3: F 0
    assert macro_f1(y, pred) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert mean_absolute_rating_error(y, pred) == pytest.approx((0 + 1 + 0 + 0 + 2) / 5)


def test_report_of_signal_free_predictions_sits_at_chance():
    rng = np.random.default_rng(0)
    y = rng.integers(1, 6, 4000)
    proba = rng.dirichlet(np.ones(5), 4000)
    rep = ordinal_report(proba, y, classes=[1, 2, 3, 4, 5])
    assert rep["accuracy"] == pytest.approx(0.2, abs=0.03)
    # random top-2 pairs: adjacent in 8 of 20 ordered pairs, truth among them 2/5 -> 0.16
    assert rep["seq2hr"] == pytest.approx(0.16, abs=0.03)
    assert rep["mae"] == pytest.approx(1.6, abs=0.1)  # E|U - V| for two uniforms on 1..5
