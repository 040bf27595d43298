"""Ridge encoding models: blocked CV on autocorrelated noise, planted weights, banded split R²."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from neurodecode.data.errors import DataError
from neurodecode.encoding import blocked_folds, fit_banded, fit_encoding, ridge_path


def _ar1(rng, n, d, phi):
    x = np.zeros((n, d))
    x[0] = rng.standard_normal(d)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(d)
    return x


def test_blocked_cv_gives_no_signal_where_shuffled_kfold_invents_one():
    """Features and responses are independent slow processes (phi = .98): there is nothing to
    predict. Interleaved (shuffled) folds let the model read held-out samples off their
    neighbours in time; contiguous folds do not."""
    rng = np.random.default_rng(0)
    X, Y = _ar1(rng, 500, 10, 0.95), _ar1(rng, 500, 60, 0.95)
    blocked = fit_encoding(X, Y, n_folds=5)
    shuffled = fit_encoding(X, Y, folds=list(KFold(5, shuffle=True, random_state=0).split(X)))
    assert abs(blocked.r.mean()) < 0.1
    assert shuffled.r.mean() > 0.4
    assert (shuffled.r > blocked.r).mean() > 0.95
    # White noise, same protocol: r = 0 within sampling error (no bias from the protocol).
    white = fit_encoding(rng.standard_normal((500, 10)), rng.standard_normal((500, 60)))
    assert abs(white.r.mean()) < 0.03


def test_planted_weights_predicted_and_alpha_follows_noise():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8))
    W = rng.standard_normal((8, 20))
    noise = np.r_[np.full(10, 0.1), np.full(10, 10.0)]  # clean targets, then noisy ones
    Y = X @ W + noise * rng.standard_normal((300, 20))
    res = fit_encoding(X, Y)
    expected_r = np.sqrt((W**2).sum(0) / ((W**2).sum(0) + noise**2))  # population r
    np.testing.assert_allclose(res.r[:10], expected_r[:10], atol=0.002)
    # Noisy targets: out of sample r sits a little below the population r (estimation error).
    assert expected_r[10:].mean() - 0.1 < res.r[10:].mean() < expected_r[10:].mean() + 0.02
    assert np.all(res.r[:10] > 0.99)
    # Noisy targets get larger penalties (chosen on validation halves only).
    assert np.median(res.alphas[..., 10:]) > 10 * np.median(res.alphas[..., :10])
    frame = res.to_frame()
    assert list(frame.columns[:3]) == ["r", "r2", "alpha"] and len(frame) == 20


def test_ridge_path_matches_sklearn():
    rng = np.random.default_rng(2)
    X, Y, Xe = rng.standard_normal((50, 6)), rng.standard_normal((50, 3)), rng.standard_normal(
        (7, 6))
    path = ridge_path(X, Y, Xe, [0.1, 10.0])
    mean, sd = X.mean(0), X.std(0)
    for i, a in enumerate([0.1, 10.0]):
        ref = Ridge(alpha=a).fit((X - mean) / sd, Y).predict((Xe - mean) / sd)
        np.testing.assert_allclose(path[i], ref, atol=1e-10)


def test_validation_and_inner_selection_agree_on_easy_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 5))
    Y = X @ rng.standard_normal((5, 4)) + rng.standard_normal((200, 4))
    a, b = fit_encoding(X, Y), fit_encoding(X, Y, selection="inner")
    np.testing.assert_allclose(a.r, b.r, atol=0.05)


def test_banded_ridge_splits_r2_between_the_spaces_that_carry_signal():
    rng = np.random.default_rng(4)
    n = 240
    spaces = {"a": rng.standard_normal((n, 6)), "b": rng.standard_normal((n, 4)),
              "junk": rng.standard_normal((n, 30))}
    Y = np.hstack([spaces["a"] @ rng.standard_normal((6, 5)),  # targets 0-4: space a
                   spaces["b"] @ rng.standard_normal((4, 5))])  # targets 5-9: space b
    Y += rng.standard_normal(Y.shape)
    res = fit_banded(spaces, Y, n_iter=10)
    split = res.r2_split
    # The split (pooled over folds, fold intercepts left out) adds up to the joint R².
    np.testing.assert_allclose(split["a"] + split["b"] + split["junk"], res.r2, atol=0.02)
    assert np.all(split["a"][:5] > 0.5) and np.all(np.abs(split["a"][5:]) < 0.05)
    assert np.all(split["b"][5:] > 0.5) and np.all(np.abs(split["b"][:5]) < 0.05)
    assert np.all(np.abs(split["junk"]) < 0.05)
    # The junk space is shrunk away: banded beats plain ridge on all spaces stacked.
    plain = fit_encoding(np.hstack(list(spaces.values())), Y)
    assert res.r2.mean() > plain.r2.mean()


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(DataError, match="feature rows"):
        fit_encoding(np.zeros((10, 2)), np.zeros((9, 1)))
    with pytest.raises(DataError, match="n_folds"):
        blocked_folds(10, 6)
    with pytest.raises(DataError, match="selection"):
        fit_encoding(np.ones((20, 2)), np.ones((20, 1)), selection="nope")


def test_blocked_folds_are_contiguous_with_a_purge_gap():
    folds = blocked_folds(20, 4, gap=2)
    assert [list(te) for _, te in folds][1] == [5, 6, 7, 8, 9]
    train = folds[1][0]
    assert not set(train) & {3, 4, 10, 11}


def test_validated_protocol_matches_sklearn_brute_force():
    """Same protocol with scikit-learn's Ridge refitted per fold and alpha (reference)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 7))
    Y = X @ rng.standard_normal((7, 6)) * np.linspace(0.05, 2, 6) + rng.standard_normal((120, 6))
    alphas = np.logspace(-1, 5, 7)
    ours = fit_encoding(X, Y, alphas=alphas)
    ref = np.empty_like(Y)
    for train, held in blocked_folds(len(X), 5):
        mean, sd = X[train].mean(0), X[train].std(0)
        paths = np.stack([Ridge(alpha=a).fit((X[train] - mean) / sd, Y[train]).predict(
            (X[held] - mean) / sd) for a in alphas])
        half = len(held) // 2
        for val, test in ((slice(0, half), slice(half, None)), (slice(half, None),
                                                                 slice(0, half))):
            best = ((paths[:, val] - Y[held[val]]) ** 2).sum(1).argmin(0)
            ref[held[test]] = paths[best, :, np.arange(Y.shape[1])].T[test]
    np.testing.assert_allclose(ours.predictions, ref, atol=1e-10)
