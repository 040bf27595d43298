"""synthetic-emotion-eeg: EDF files MNE opens, exact-to-format round trip, planted effects."""

import mne
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurodecode.cli import main
from neurodecode.data.errors import DataError
from neurodecode.synth import emotion_eeg


def test_cli_writes_edf_that_mne_opens(tmp_path):
    result = CliRunner().invoke(
        main, ["synth", "synthetic-emotion-eeg", "--out", str(tmp_path), "--subjects", "2"]
    )
    assert result.exit_code == 0, result.output
    edfs = sorted(tmp_path.glob("sub-*/*.edf"))
    assert [p.parent.name for p in edfs] == ["sub-1", "sub-2"]
    raw = mne.io.read_raw_edf(edfs[0], infer_types=True, verbose="error")
    assert raw.ch_names == list(emotion_eeg.EMOTIV_CHANNELS)
    assert raw.info["sfreq"] == 128
    assert set(raw.get_channel_types()) == {"eeg"}
    assert len(raw.annotations) == 18 * 10
    assert set(raw.annotations.description) == {f"clip_{c:02d}" for c in range(1, 19)}
    assert not list(tmp_path.rglob(".*tmp*"))  # nothing half-written left behind


def test_read_gives_back_make(tmp_path):
    world = emotion_eeg.make(n_subjects=2, seed=3, n_clips=6, segments_per_clip=3)
    emotion_eeg.write(world, tmp_path)
    back = emotion_eeg.read(tmp_path)
    assert back.params == world.params
    assert list(back.subjects) == ["1", "2"]
    for subject, made in world.subjects.items():
        read = back.subjects[subject]
        assert read.X.shape == made.X.shape == (18, 14, 128)
        # EDF stores 16-bit samples with one physical range per channel.
        step = np.abs(made.X).max(axis=(0, 2), keepdims=True) * 2 / 2**16
        assert np.all(np.abs(read.X - made.X) <= step)
        np.testing.assert_array_equal(read.y, made.y)
        assert read.metadata.equals(made.metadata)
        np.testing.assert_allclose(read.info["ch_pos"], made.info["ch_pos"], atol=1e-9)
        assert read.info["ch_names"] == made.info["ch_names"]


def test_same_seed_same_world_and_subjects_stable():
    a = emotion_eeg.make(n_subjects=2, seed=5, n_clips=5, segments_per_clip=2)
    b = emotion_eeg.make(n_subjects=3, seed=5, n_clips=5, segments_per_clip=2)
    c = emotion_eeg.make(n_subjects=2, seed=6, n_clips=5, segments_per_clip=2)
    np.testing.assert_array_equal(a.subjects["2"].X, b.subjects["2"].X)
    assert not np.allclose(a.subjects["1"].X, c.subjects["1"].X)
    ratings = a.subjects["1"].metadata
    assert set(ratings["valence"]) <= {1, 2, 3, 4, 5} and set(ratings["arousal"]) <= {1, 2, 3, 4, 5}


def test_read_rejects_other_folders(tmp_path):
    with pytest.raises(DataError, match="world.json"):
        emotion_eeg.read(tmp_path)


def _band_log_power(X, sfreq):
    freqs, psd = welch(X, fs=sfreq, nperseg=X.shape[-1], axis=-1)
    bands = emotion_eeg.BANDS.values()
    return np.hstack([np.log(psd[..., (freqs >= lo) & (freqs < hi)].mean(-1)) for lo, hi in bands])


def _high_vs_low_auc(data, rating, shuffle_seed=None):
    """Cross-validated (by clip) ROC-AUC of rating >= 4 vs <= 2 from log band powers."""
    meta = data.metadata
    clip_rating = meta.groupby("clip")[rating].first()
    if shuffle_seed is not None:  # shuffle ratings between clips: breaks the brain-label link
        rng = np.random.default_rng(shuffle_seed)
        clip_rating[:] = rng.permutation(clip_rating.to_numpy())
    y_all = clip_rating.loc[meta["clip"]].to_numpy()
    keep = y_all != 3
    X = _band_log_power(data.X[keep], data.info["sfreq"])
    y = (y_all[keep] >= 4).astype(int)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    proba = cross_val_predict(
        clf, X, y, groups=meta["clip"][keep], cv=GroupKFold(4), method="predict_proba"
    )
    return roc_auc_score(y, proba[:, 1])


@pytest.mark.parametrize("rating", ["valence", "arousal"])
def test_planted_ratings_recovered_and_shuffled_at_chance(rating):
    world = emotion_eeg.make(n_subjects=2, seed=0, n_clips=30, segments_per_clip=4)
    null = emotion_eeg.make(n_subjects=2, seed=0, n_clips=30, segments_per_clip=4, effect=0.0)
    for subject, data in world.subjects.items():
        assert _high_vs_low_auc(data, rating) > 0.85
        shuffled = [_high_vs_low_auc(data, rating, shuffle_seed=k) for k in range(5)]
        assert abs(np.mean(shuffled) - 0.5) < 0.2
        # Nothing planted (effect=0): the same decoder is at chance.
        assert abs(_high_vs_low_auc(null.subjects[subject], rating) - 0.5) < 0.25
