"""Non-finite values and truncated files are refused at the boundary (issue 14).

Before issue 14, a single NaN voxel in a TrialData turned every prediction into NaN without a
word, and a truncated EDF silently loaded about half its epochs; every test below failed then.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.errors import DataError


def _fmri(n_trials=20, shape=(3, 3, 2), seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones(shape, bool)
    mask[0, 0, 0] = False  # 17 voxels
    n_vox = int(mask.sum())
    info = {"mask": mask, "affine": np.eye(4),
            "voxel_coords": np.argwhere(mask).astype(float)}
    return rng.standard_normal((n_trials, n_vox)).astype(np.float32), info


def test_nan_voxel_is_an_error_naming_the_subject_and_the_way_out():
    X, info = _fmri()
    X[3, 5] = np.nan
    X[7, 9] = np.inf
    with pytest.raises(DataError, match=r"subject 1: X has 2 non-finite values \(NaN/inf\) in "
                                        r"2 of 17 features \(first: \[5, 9\]\).*nonfinite='zero'"):
        TrialData(X=X, subject="1", modality="fmri", info=info)


def test_zero_policy_sets_values_to_zero_and_reports():
    X, info = _fmri()
    X[3, 5] = np.nan
    with pytest.warns(UserWarning, match="nonfinite='zero' set them to 0"):
        d = TrialData(X=X, subject="1", modality="fmri", info=info, nonfinite="zero")
    assert d.X[3, 5] == 0 and np.isfinite(d.X).all()
    np.testing.assert_array_equal(np.delete(d.X.ravel(), 3 * 17 + 5),
                                  np.delete(X.ravel(), 3 * 17 + 5))
    assert d.info["nonfinite"] == {"policy": "zero", "n_values": 1, "features": [5]}
    # The report and the policy survive selection
    assert d.select([3, 4]).info["nonfinite"]["features"] == [5]


def test_drop_features_keeps_coordinates_and_mask_consistent():
    X, info = _fmri()
    X[:, 5] = np.nan
    X[2, 11] = -np.inf
    with pytest.warns(UserWarning, match="dropped those features"):
        d = TrialData(X=X, subject="1", modality="fmri", info=info, nonfinite="drop-features")
    keep = [i for i in range(17) if i not in (5, 11)]
    np.testing.assert_array_equal(d.X, X[:, keep])
    np.testing.assert_array_equal(d.info["voxel_coords"], info["voxel_coords"][keep])
    assert d.info["mask"].sum() == 15
    # The NIfTI round trip puts every kept voxel back where it was
    vol = d.to_nifti().get_fdata()
    np.testing.assert_allclose(vol[d.info["mask"]].T, X[:, keep], rtol=1e-6)
    assert info["mask"].sum() == 17  # the caller's info is not modified


def test_drop_features_on_sensor_channels():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3, 10))
    X[1, 1, 4] = np.nan
    info = {"ch_names": ["a", "b", "c"], "ch_types": ["eeg"] * 3, "ch_pos": np.eye(3),
            "sfreq": 100.0}
    with pytest.raises(DataError, match=r"1 of 3 channels \(first: \['b'\]\)"):
        TrialData(X=X, subject="s", modality="eeg", info=info)
    with pytest.warns(UserWarning):
        d = TrialData(X=X, subject="s", modality="eeg", info=info, nonfinite="drop-features")
    assert d.info["ch_names"] == ["a", "c"] and d.X.shape == (4, 2, 10)
    np.testing.assert_array_equal(d.info["ch_pos"], np.eye(3)[[0, 2]])


def test_drop_features_keeps_mne_info_consistent():
    import mne

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3, 20)) * 1e-6
    X[0, 2, 3] = np.inf
    epochs = mne.EpochsArray(X, mne.create_info(["a", "b", "c"], 100.0, "eeg"),
                             verbose="error")
    with pytest.raises(DataError, match=r"channels \(first: \['c'\]\)"):
        TrialData.from_epochs(epochs, subject="s")
    with pytest.warns(UserWarning, match="dropped those channels"):
        d = TrialData(X=X, subject="s", modality="eeg",
                      info={"ch_names": ["a", "b", "c"], "mne_info": epochs.info.copy()},
                      nonfinite="drop-features")
    assert d.to_epochs().ch_names == ["a", "b"]


def test_unknown_policy_and_nothing_left():
    X, info = _fmri()
    with pytest.raises(DataError, match="nonfinite='ignore'; expected one of"):
        TrialData(X=X, subject="1", modality="fmri", nonfinite="ignore")
    X[0] = np.nan
    with pytest.raises(DataError, match="every one of the 17 features"):
        TrialData(X=X, subject="1", modality="fmri", nonfinite="drop-features")


def test_finite_and_integer_data_pass_untouched():
    X, info = _fmri()
    d = TrialData(X=X, subject="1", modality="fmri", info=info)
    assert d.X is X and "nonfinite" not in d.info
    TrialData(X=np.arange(12).reshape(6, 2), subject="1", modality="fmri")


def test_stimulus_images_with_nan():
    images = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)
    images[2, 1, 1, 0] = np.nan
    with pytest.raises(DataError, match=r"1 of 4 images \(ids \[12\]\)"):
        StimulusSet(ids=[10, 11, 12, 13], images=images)
    with pytest.warns(UserWarning):
        s = StimulusSet(ids=[10, 11, 12, 13], images=images, nonfinite="zero")
    assert np.isfinite(s.images).all()


def _edf(tmp_path, n_seconds=40, sfreq=100.0):
    import mne

    from neurodecode.data.sensors import write_raw

    rng = np.random.default_rng(0)
    info = mne.create_info(["C3", "Cz", "C4"], sfreq, "eeg")
    raw = mne.io.RawArray(rng.standard_normal((3, int(n_seconds * sfreq))) * 1e-5, info,
                          verbose="error")
    onsets = np.arange(1.0, n_seconds - 3, 2.0)  # 18 events, 1 s .. 35 s
    raw.set_annotations(mne.Annotations(onsets, 0.5, ["left", "right"] * (len(onsets) // 2)))
    return write_raw(raw, tmp_path / "rec.edf"), len(onsets)


def test_truncated_edf_is_refused(tmp_path):
    from neurodecode.data.sensors import load_raw_epochs

    path, n_events = _edf(tmp_path)
    full = load_raw_epochs(path, "1", tmin=0.0, tmax=0.5)
    assert full.n_trials == n_events
    raw = path.read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(raw[: len(raw) * 55 // 100])
    with pytest.raises(DataError, match=r"cut.edf: truncated: the header promises 40 data "
                                        r"records but the file holds 2\d"):
        load_raw_epochs(cut, "1", tmin=0.0, tmax=0.5)
