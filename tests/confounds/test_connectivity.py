import numpy as np
import pytest

from neurodecode.confounds.connectivity import (
    connectivity_matrices,
    from_upper_triangle,
    n_rois_from_edges,
    upper_triangle,
)
from neurodecode.data.errors import DataError


def _series(n_subjects=3, n_times=50, n_rois=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n_times, n_rois)) @ rng.standard_normal((n_rois, n_rois))
            for _ in range(n_subjects)]


def test_upper_triangle_round_trip_is_exact_and_row_major():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 7, 7))
    sym = (a + a.transpose(0, 2, 1)) / 2
    np.fill_diagonal(sym[0], 1.0)
    for m in sym:
        np.fill_diagonal(m, 1.0)
    edges = upper_triangle(sym)
    assert edges.shape == (4, 21)
    rows, cols = np.triu_indices(7, k=1)
    np.testing.assert_array_equal(edges[2], sym[2][rows, cols])
    np.testing.assert_array_equal(from_upper_triangle(edges), sym)


def test_edge_counts():
    assert n_rois_from_edges(34716) == 264
    with pytest.raises(DataError, match="not the upper triangle"):
        n_rois_from_edges(34717)


def test_correlation_matches_numpy():
    series = _series()
    mats = connectivity_matrices(series)
    for m, ts in zip(mats, series, strict=True):
        np.testing.assert_allclose(m, np.corrcoef(ts, rowvar=False), atol=1e-10)


def test_zero_variance_roi_raises_or_zeroes():
    series = _series()
    series[1][:, 2] = 3.0
    with pytest.raises(DataError, match=r"participant b: ROIs \[2\] have zero variance"):
        connectivity_matrices(series, names=["a", "b", "c"])
    mats = connectivity_matrices(series, zero_variance="zero")
    assert np.isfinite(mats).all()
    assert mats[1, 2, 2] == 1.0
    assert np.all(mats[1, 2, np.arange(6) != 2] == 0)
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(mats[1][np.ix_(keep, keep)],
                               np.corrcoef(series[1][:, keep], rowvar=False), atol=1e-10)
    np.testing.assert_allclose(mats[0], np.corrcoef(series[0], rowvar=False), atol=1e-10)


def test_bad_series_rejected():
    series = _series()
    series[0][3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        connectivity_matrices(series)
    with pytest.raises(DataError, match="same atlas"):
        connectivity_matrices([np.eye(10)[:, :4], np.eye(10)[:, :5]])
