"""Feature-space comparisons: BH by hand, planted differences found, equal information not."""

import numpy as np
import pytest

from neurodecode.data.errors import DataError
from neurodecode.encoding import (
    bootstrap_indices,
    bootstrap_scores,
    compare_models,
    conjunction,
    fdr,
    fit_encoding,
    paired_p,
    score,
)


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted: .01 .03 .04 .2 → p*m/rank: .04 .06 .0533 .2 → step-up minima: .04 .0533 .0533 .2
    q, sig = fdr(p, 0.05)
    np.testing.assert_allclose(q, [0.04, 0.05333333, 0.05333333, 0.2])
    np.testing.assert_array_equal(sig, [True, False, False, False])


def test_paired_p_and_conjunction():
    a = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 5.0]])
    b = np.zeros((3, 2))
    np.testing.assert_allclose(paired_p(a, b), [1 / 4, 3 / 4])  # (1 + #(a-b<=0)) / (1 + B)
    np.testing.assert_array_equal(conjunction([True, True, False], [True, False, False]),
                                  [True, False, False])
    with pytest.raises(DataError):
        conjunction()


def test_bootstrap_resamples_are_shared_and_blocks_contiguous():
    np.testing.assert_array_equal(bootstrap_indices(50, 20, seed=3), bootstrap_indices(50, 20,
                                                                                       seed=3))
    idx = bootstrap_indices(50, 20, seed=3, block=5)
    assert idx.shape == (20, 50)
    assert np.all(np.diff(idx.reshape(20, 10, 5), axis=-1) == 1)


def _two_models(rng, n=300, n_targets=200, planted=0.0):
    """Model A and B see invertible mixtures of the same features plus one more column each,
    A an ``extra`` feature, B an irrelevant one; with ``planted`` > 0 the extra feature drives
    the first half of the targets."""
    F = rng.standard_normal((n, 6))
    extra = rng.standard_normal((n, 1))
    Y = F @ rng.standard_normal((6, n_targets)) * 0.4 + rng.standard_normal((n, n_targets))
    Y[:, : n_targets // 2] += planted * extra
    A = np.hstack([F @ rng.standard_normal((6, 6)), extra])
    B = np.hstack([F @ rng.standard_normal((6, 6)), rng.standard_normal((n, 1))])
    return Y, A, B


def test_equal_information_gives_at_most_5_percent_false_positives():
    rng = np.random.default_rng(0)
    Y, A, B = _two_models(rng)
    preds = {"a": fit_encoding(A, Y).predictions, "b": fit_encoding(B, Y).predictions}
    comp = compare_models(Y, preds, [("a", "b"), ("b", "a")], n_boot=1000)
    assert comp.table["sig[a>b]"].mean() <= 0.05
    assert comp.table["sig[b>a]"].mean() <= 0.05


def test_planted_difference_found_where_planted_only():
    rng = np.random.default_rng(1)
    Y, A, B = _two_models(rng, planted=0.5)
    B = A[:, :-1]  # B: A without the extra feature (a unimodal model vs one with more)
    preds = {"a": fit_encoding(A, Y).predictions, "b": fit_encoding(B, Y).predictions}
    comp = compare_models(Y, preds, [("a", "b"), ("a", None)], n_boot=1000)
    sig = comp.table["sig[a>b]"].to_numpy()
    assert sig[:100].mean() >= 0.8  # power
    assert sig[100:].mean() <= 0.05  # no difference planted there
    assert comp.table["sig[a>0]"].all()  # every target is predictable
    np.testing.assert_array_equal(comp.significant, sig & comp.table["sig[a>0]"].to_numpy())
    np.testing.assert_allclose(comp.scores["a"], score(Y, preds["a"]))
    np.testing.assert_allclose(comp.table["p_conjunction"],
                               np.maximum(comp.table["p[a>b]"], comp.table["p[a>0]"]))


def test_unknown_model_is_named():
    with pytest.raises(DataError, match="no predictions for model 'c'"):
        compare_models(np.zeros((10, 2)), {"a": np.zeros((10, 2))}, [("a", "c")])


def test_bootstrap_scores_equal_scores_of_resampled_events():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((50, 3))
    P = Y + rng.standard_normal((50, 3))
    idx = bootstrap_indices(50, 10)
    for metric in ("r", "r2"):
        fast = bootstrap_scores(Y, {"p": P}, idx, metric)["p"]
        slow = np.array([score(Y[i], P[i], metric) for i in idx])
        np.testing.assert_allclose(fast, slow, atol=1e-12)
