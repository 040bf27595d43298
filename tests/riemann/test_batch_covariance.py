"""Batched covariance estimators equal pyRiemann's, on numpy and torch."""

import numpy as np
import pytest
from pyriemann.estimation import Covariances

from neurodecode.riemann import ESTIMATORS, BatchCovariances, batch_covariances


def _trials(n=30, n_channels=6, n_times=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_channels, n_times))
    X[:, 0] *= 4.0  # unequal channel scales make the shrinkage target matter
    X[:, 1] += 0.8 * X[:, 2]  # correlated channels
    return X + 3.0  # non-zero mean: centring must happen per trial and channel


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_equals_pyriemann(estimator):
    X = _trials()
    expected = Covariances(estimator).fit_transform(X)
    np.testing.assert_allclose(batch_covariances(X, estimator), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        BatchCovariances(estimator).fit_transform(X), expected, rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("estimator", ["oas", "lwf"])
def test_rank_deficient_trials_equal_pyriemann(estimator):
    X = _trials(n=5, n_channels=12, n_times=8)  # fewer samples than channels
    expected = Covariances(estimator).fit_transform(X)
    got = batch_covariances(X, estimator)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    assert np.linalg.eigvalsh(got).min() > 0  # shrinkage makes them positive definite


@pytest.mark.parametrize("offset", [50.0, 1e6])
def test_large_offsets_keep_full_precision(offset):
    # Below _MAX_OFFSET standard deviations the mean is removed after the product; above it the
    # trials are centred first. Both must match pyRiemann (scaled to unit variance).
    X = _trials() - 3.0 + offset
    for estimator in ("scm", "oas"):
        expected = Covariances(estimator).fit_transform(X)
        np.testing.assert_allclose(batch_covariances(X, estimator), expected, rtol=0, atol=1e-10)


def test_chunking_does_not_change_results(monkeypatch):
    import neurodecode.riemann.covariance as cov

    X = _trials(n=11)
    whole = batch_covariances(X, "oas")
    monkeypatch.setattr(cov, "_CHUNK_VALUES", 3 * X.shape[1] * X.shape[2])  # 3 trials a chunk
    np.testing.assert_array_equal(cov.batch_covariances(X, "oas"), whole)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_torch_path_equals_numpy(estimator):
    torch = pytest.importorskip("torch")
    X = _trials()
    expected = Covariances(estimator).fit_transform(X)
    out = batch_covariances(torch.as_tensor(X), estimator)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-10)
    on_device = BatchCovariances(estimator, device="cpu").fit_transform(X)
    assert isinstance(on_device, np.ndarray)
    np.testing.assert_allclose(on_device, expected, rtol=0, atol=1e-10)


def test_leading_batch_dimensions_are_kept():
    X = _trials(n=6).reshape(2, 3, 6, 80)
    out = batch_covariances(X, "lwf")
    assert out.shape == (2, 3, 6, 6)
    np.testing.assert_allclose(out[1, 2], batch_covariances(X[1, 2][None], "lwf")[0], atol=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown covariance estimator"):
        batch_covariances(_trials(), "mcd")
    with pytest.raises(ValueError, match="unknown covariance estimator"):
        BatchCovariances("nope").fit(_trials())
    with pytest.raises(ValueError, match="at least 2 time samples"):
        batch_covariances(np.ones((3, 4, 1)), "scm")
