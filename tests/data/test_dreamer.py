"""DREAMER loader on a small file written in the published DREAMER.mat layout."""

import numpy as np
import pytest
from scipy.io import loadmat

from neurodecode.data.dreamer import EEG_ELECTRODES, load_dreamer, write_dreamer_mat
from neurodecode.errors import DataError

SFREQ = 128


@pytest.fixture(scope="module")
def mat(tmp_path_factory):
    """2 participants x 3 clips; every sample encodes (subject, clip, sample index)."""
    rng = np.random.default_rng(0)
    stimuli, baselines = [], []
    for s in range(2):
        stim, base = [], []
        for c, seconds in enumerate([3.5, 2.0, 4.0]):
            n = int(seconds * SFREQ)
            x = np.zeros((n, 14)) + 1000 * (s + 1) + 100 * (c + 1)
            x[:, 0] += np.arange(n)  # AF3 carries the sample index
            x[:, 13] = rng.standard_normal(n)
            stim.append(x)
            base.append(np.full((2 * SFREQ, 14), 10.0 * (c + 1)))
        stimuli.append(stim)
        baselines.append(base)
    path = tmp_path_factory.mktemp("dreamer") / "DREAMER.mat"
    write_dreamer_mat(path, stimuli, baselines, valence=[[1, 4, 5], [2, 2, 3]],
                      arousal=[[5, 3, 1], [4, 4, 4]], dominance=[[1, 2, 3], [3, 2, 1]])
    return path, stimuli


def test_written_file_has_the_published_layout(mat):
    path, _ = mat
    root = loadmat(path)["DREAMER"][0, 0]
    assert {"Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes", "noOfSubjects",
            "noOfVideoSequences"} <= set(root.dtype.names)
    subj = root["Data"][0, 1][0, 0]
    assert subj["EEG"][0, 0]["stimuli"].shape == (3, 1)
    assert subj["EEG"][0, 0]["stimuli"][2, 0].shape == (4 * SFREQ, 14)
    assert subj["ScoreValence"].shape == (3, 1)
    assert [str(e[0]) for e in root["EEG_Electrodes"][0]] == list(EEG_ELECTRODES)


def test_one_second_windows_inherit_the_clip_ratings(mat):
    path, stimuli = mat
    ds = load_dreamer(path, target="arousal")
    assert list(ds.subjects) == ["1", "2"]
    d = ds["1"]
    # 3.5 s -> 3 windows (remainder dropped), 2 s -> 2, 4 s -> 4
    assert d.X.shape == (9, 14, SFREQ)
    assert d.metadata["clip"].tolist() == [1, 1, 1, 2, 2, 3, 3, 3, 3]
    assert d.y.tolist() == [5, 5, 5, 3, 3, 1, 1, 1, 1]
    assert d.metadata["valence"].tolist() == [1, 1, 1, 4, 4, 5, 5, 5, 5]
    # window 2 of clip 1 holds samples 128..255, in volts, channels first
    np.testing.assert_allclose(d.X[1, 0] / 1e-6, 1100 + np.arange(128, 256))
    np.testing.assert_allclose(d.X[1, 13] / 1e-6, stimuli[0][0][128:256, 13])
    assert d.metadata["onset"].tolist()[:3] == [0.0, 1.0, 2.0]
    assert d.info["sfreq"] == SFREQ and d.info["ch_names"] == list(EEG_ELECTRODES)
    assert np.isfinite(d.info["ch_pos"]).all()
    assert set(d.metadata["session"]) == {"1"}
    assert ds["2"].X[0, 1, 0] / 1e-6 == pytest.approx(2100)


def test_options_last_seconds_and_baseline(mat):
    path, _ = mat
    d = load_dreamer(path, subjects=[2], last_s=2.0, baseline="subtract")["2"]
    assert list(d.metadata["clip"]) == [1, 1, 2, 2, 3, 3]
    # clip 1 lasts 3.5 s: its last 2 s start at 1.5 s (sample 192); baseline 10 removed
    np.testing.assert_allclose(d.X[0, 0] / 1e-6, 2100 + np.arange(192, 320) - 10)
    assert d.metadata["onset"].tolist()[:2] == [1.5, 2.5]
    assert d.X[2, 1, 0] / 1e-6 == pytest.approx(2200 - 20)


def test_bad_input_is_named(mat, tmp_path):
    path, _ = mat
    with pytest.raises(DataError, match="unknown subject"):
        load_dreamer(path, subjects=[3])
    with pytest.raises(DataError, match="target"):
        load_dreamer(path, target="joy")
    with pytest.raises(DataError, match="not found"):
        load_dreamer(tmp_path / "DREAMER.mat")
    from scipy.io import savemat

    savemat(tmp_path / "other.mat", {"x": np.zeros(3)})
    with pytest.raises(DataError, match="no struct named 'DREAMER'"):
        load_dreamer(tmp_path / "other.mat")


def test_open_dataset_reads_the_card(mat):
    from neurodecode.datasets import open_dataset

    path, _ = mat
    ds = open_dataset("DREAMER", path=path.parent, subjects=[1], target="arousal")
    assert list(ds.subjects) == ["1"] and ds.card["name"] == "DREAMER"
    assert ds["1"].y.tolist()[:3] == [5, 5, 5]
    # the file itself is recognised by its name, as the other layouts are
    by_path = open_dataset(path)
    assert list(by_path.subjects) == ["1", "2"] and by_path.params["paradigm"] == "Emotion"
