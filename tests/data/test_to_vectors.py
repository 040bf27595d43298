"""Sensor epochs become time-binned vectors for vector decoders."""

import numpy as np
import pytest

from neurodecode.data import DataError, TrialData


def test_bins_are_channel_means_in_the_window():
    X = np.arange(2 * 3 * 10, dtype=float).reshape(2, 3, 10)
    d = TrialData(X, "1", "meg", info={"sfreq": 100.0, "tmin": -0.02, "ch_names": list("abc")})
    v = d.to_vectors(bin_s=0.04, tmin=0.0)
    # Samples at t >= 0 are indices 2..9 (8 samples) → two bins of 4.
    expected = X[:, :, 2:10].reshape(2, 3, 2, 4).mean(-1).reshape(2, -1)
    assert v.modality == "features" and np.allclose(v.X, expected)
    assert np.allclose(v.info["bins"], [0.0, 0.04])
    with pytest.raises(DataError, match="no full"):
        d.to_vectors(bin_s=1.0)
    with pytest.raises(DataError, match="sensor epochs"):
        TrialData(np.zeros((2, 3)), "1", "fmri").to_vectors()
