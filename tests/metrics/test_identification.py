"""Two-way identification and retrieval against hand computations and chance."""

import numpy as np
import pytest

from neurodecode.data.errors import DataError
from neurodecode.metrics.identification import (
    correlation_distance,
    retrieval_hits,
    retrieval_topk,
    two_way_from_similarity,
    two_way_identification,
)


def planted(n=300, d=64, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.standard_normal((n, d))
    return true, true + noise * rng.standard_normal((n, d))


def test_two_way_on_a_hand_computed_matrix():
    # r[i, j] = corr(GT_i, rec_j); column j is scored against its diagonal entry.
    r = np.array([[0.9, 0.2, 0.5], [0.1, 0.3, 0.6], [0.4, 0.8, 0.7]])
    # rec 0: .1 and .4 < .9 -> 2/2; rec 1: .2 < .3 but .8 > .3 -> 1/2; rec 2: .5, .6 < .7 -> 2/2
    np.testing.assert_allclose(two_way_from_similarity(r), [1.0, 0.5, 1.0])
    # scoring rows instead of columns would give 2/3: the orientation matters
    assert two_way_from_similarity(r).mean() == pytest.approx(2.5 / 3)


def test_two_way_equals_the_definition_computed_by_loops():
    true, pred = planted(n=12, d=7, noise=2.0, seed=1)
    expected = []
    for j in range(12):
        own = np.corrcoef(true[j], pred[j])[0, 1]
        others = [np.corrcoef(true[i], pred[j])[0, 1] for i in range(12) if i != j]
        expected.append(np.mean(np.array(others) < own))
    np.testing.assert_allclose(two_way_identification(true, pred, per_item=True), expected)
    assert two_way_identification(true, pred) == pytest.approx(np.mean(expected))


def test_two_way_recovers_planted_pairs_and_shuffles_give_chance():
    true, pred = planted()
    assert two_way_identification(true, pred) > 0.95
    shuffled = pred[np.random.default_rng(1).permutation(len(pred))]
    assert abs(two_way_identification(true, shuffled) - 0.5) < 0.05
    # token-shaped embeddings are flattened
    assert two_way_identification(true.reshape(300, 8, 8), pred.reshape(300, 8, 8)) > 0.95


def test_degenerate_features_never_score_above_chance():
    const = np.ones((10, 5))
    assert two_way_identification(const, const) == 0.0  # ties count as failures
    out = retrieval_topk(const, const, set_size=10, n_subsets=2)
    assert out["top1_forward"] == 0.0 and out["top1_backward"] == 0.0


def test_correlation_distance_by_hand():
    true = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    pred = np.array([[2.0, 4.0, 6.0], [0.0, 0.0, 1.0]])
    # r0 = 1; r1 = corr([1,0,0],[0,0,1]) = (-3/9) / (6/9) = -0.5
    np.testing.assert_allclose(correlation_distance(true, pred), [0.0, 1.5], atol=1e-12)


def test_retrieval_on_a_hand_built_example_distinguishes_directions():
    true = np.eye(3)
    pred = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    # cos(pred_i, true_j) = pred_i / |pred_i|: pred 1 is closer to true 0 than to true 1 ...
    out = retrieval_topk(pred, true, k=(1, 2), set_size=3, n_subsets=4)
    assert out["top1_forward"] == pytest.approx(2 / 3)
    assert out["top2_forward"] == 1.0
    # ... but true 1 is still closest to pred 1 among all predictions
    assert out["top1_backward"] == 1.0
    assert out["chance_top1"] == pytest.approx(1 / 3) and out["set_size"] == 3


def test_retrieval_perfect_planted_and_chance():
    true, pred = planted(n=500, d=32, noise=0.0)
    out = retrieval_topk(pred, true, set_size=100, n_subsets=30)
    assert out["top1_forward"] == out["top1_backward"] == 1.0
    rng = np.random.default_rng(3)
    random = retrieval_topk(rng.standard_normal((500, 32)), true, set_size=100, n_subsets=30)
    # 3000 retrievals: chance 1/100 (sd 0.0018) and 5/100 (sd 0.004)
    for d in ("forward", "backward"):
        assert abs(random[f"top1_{d}"] - 0.01) < 0.006
        assert abs(random[f"top5_{d}"] - 0.05) < 0.015
    _, noisy = planted(n=500, d=32, noise=1.0)
    assert retrieval_topk(noisy, true, set_size=100)["top1_forward"] > 0.5
    shuffled = noisy[rng.permutation(500)]
    assert retrieval_topk(shuffled, true, set_size=100)["top1_forward"] < 0.025


def test_retrieval_subsets_are_seeded_and_sized():
    true, pred = planted(n=50, d=8, noise=3.0)
    s0, h0 = retrieval_hits(pred, true, set_size=20, n_subsets=5, seed=0)
    s1, h1 = retrieval_hits(pred, true, set_size=20, n_subsets=5, seed=0)
    s2, _ = retrieval_hits(pred, true, set_size=20, n_subsets=5, seed=1)
    np.testing.assert_array_equal(s0, s1)
    assert not np.array_equal(s0, s2)
    assert s0.shape == (5, 20) and all(len(set(row)) == 20 for row in s0)
    assert h0[("forward", 1)].shape == (5, 20)
    with pytest.raises(DataError, match="set size"):
        retrieval_topk(pred, true, set_size=300)
    with pytest.raises(DataError, match="matching"):
        two_way_identification(true, pred[:10])
