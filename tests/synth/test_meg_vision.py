"""synthetic-meg-vision: FIF files MNE opens, exact round trip, early low-level and late
semantic information planted in the evoked responses."""

import mne
import numpy as np
import pytest
from click.testing import CliRunner
from mne.io.constants import FIFF
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurodecode.cli import main
from neurodecode.data.errors import DataError
from neurodecode.synth import meg_vision, vision


@pytest.fixture(scope="module")
def world():
    return meg_vision.make(n_subjects=1, seed=0)


def test_cli_writes_fif_that_mne_opens(tmp_path):
    result = CliRunner().invoke(
        main, ["synth", "synthetic-meg-vision", "--out", str(tmp_path), "--subjects", "1"]
    )
    assert result.exit_code == 0, result.output
    raw = mne.io.read_raw_fif(
        tmp_path / "sub-1" / "meg" / "sub-1_task-things_raw.fif", verbose="error"
    )
    picks = mne.pick_types(raw.info, meg=True)
    assert len(picks) == 275
    assert {raw.info["chs"][i]["coil_type"] for i in picks} == {FIFF.FIFFV_COIL_CTF_GRAD}
    radii = np.linalg.norm([raw.info["chs"][i]["loc"][:3] for i in picks], axis=1)
    np.testing.assert_allclose(radii, meg_vision.HEAD_RADIUS, rtol=1e-5)
    events = mne.find_events(raw, stim_channel=meg_vision.TRIGGER, verbose="error")
    assert len(events) == 120 + 20 * 4  # training images once, test images four times
    # Event codes are stimulus ids + 1; each test image appears four times.
    codes, counts = np.unique(events[:, 2], return_counts=True)
    assert set(codes[counts == 4]) == set(range(1, 21))


def test_read_gives_back_make_exactly(tmp_path):
    made = meg_vision.make(n_subjects=2, seed=1, n_train=20, n_test=4, test_repetitions=2)
    meg_vision.write(made, tmp_path)
    back = meg_vision.read(tmp_path)
    assert back.params == made.params
    assert back.stimuli.captions == made.stimuli.captions
    np.testing.assert_array_equal(back.stimuli.images, made.stimuli.images)
    np.testing.assert_array_equal(back.truth["semantic"], made.truth["semantic"])
    for subject, a in made.subjects.items():
        b = back.subjects[subject]
        np.testing.assert_array_equal(b.X, a.X)  # FIF stores float32, as make does
        np.testing.assert_array_equal(b.stimulus_ids, a.stimulus_ids)
        assert b.metadata.equals(a.metadata)
        assert b.modality == "meg" and b.info["ch_names"] == a.info["ch_names"]
        np.testing.assert_array_equal(b.info["ch_pos"], a.info["ch_pos"])
        assert b.info["tmin"] == a.info["tmin"]


def test_same_stimulus_world_as_synthetic_vision(world):
    stimuli, semantic = vision.make_stimuli(140, seed=0)
    assert world.stimuli.captions == stimuli.captions
    np.testing.assert_array_equal(world.truth["semantic"], semantic)


def test_subjects_differ_in_spatial_patterns_not_in_stimuli():
    a = meg_vision.make(n_subjects=2, seed=0, n_train=10, n_test=2)
    b = meg_vision.make(n_subjects=1, seed=0, n_train=10, n_test=2)
    np.testing.assert_array_equal(a.subjects["1"].X, b.subjects["1"].X)
    one, two = (a.subjects[s] for s in ("1", "2"))
    evoked = [d.X.mean(0)[:, 20] for d in (one, two)]  # field maps at ~70 ms
    assert abs(np.corrcoef(*evoked)[0, 1]) < 0.9


def _decode(data, labels, window):
    times = data.info["tmin"] + np.arange(data.X.shape[-1]) / data.info["sfreq"]
    X = data.X[..., (times >= window[0]) & (times < window[1])].mean(-1)
    clf = make_pipeline(StandardScaler(), PCA(40), LogisticRegression(C=0.1, max_iter=2000))
    return cross_val_score(
        clf, X, labels, cv=StratifiedKFold(5, shuffle=True, random_state=0)
    ).mean()


EARLY, LATE = (0.07, 0.15), (0.2, 0.45)


def test_shape_is_decoded_late_not_early_and_not_from_shuffled_labels(world):
    data = world.subjects["1"]
    shape = world.stimuli.attributes["shape"].to_numpy()[data.stimulus_ids]
    chance = 1 / len(vision.SHAPES)
    assert _decode(data, shape, LATE) > chance + 0.2
    assert _decode(data, shape, EARLY) < chance + 0.08
    shuffled = np.random.default_rng(0).permutation(shape)
    assert _decode(data, shuffled, LATE) < chance + 0.08


def test_low_level_background_is_decoded_early(world):
    data = world.subjects["1"]
    background = world.stimuli.attributes["background"].to_numpy()[data.stimulus_ids]
    assert _decode(data, background, EARLY) > 0.9
    assert _decode(data, background, (-0.1, 0.0)) < 0.65  # nothing before the image


def test_background_noise_is_one_over_f(world):
    from scipy.signal import welch

    recording = world.truth["recordings"]["1"][:, : 60 * 120]  # first minute, all sensors
    freqs, psd = welch(recording, fs=120, nperseg=480)
    band = (freqs >= 2) & (freqs <= 40)
    slope = np.polyfit(np.log(freqs[band]), np.log(psd[:, band].mean(0)), 1)[0]
    assert -1.5 < slope < -0.5  # pink-ish background above a white sensor floor


def test_subjects_on_other_sensor_systems_see_the_same_sources(tmp_path):
    world = meg_vision.make(n_subjects=3, seed=0, n_train=120, n_test=4, test_repetitions=1,
                            sfreq=60.0, systems={"2": "Vectorview-all", "3": "biosemi64"})
    one, two, three = (world.subjects[s] for s in ("1", "2", "3"))
    assert (one.X.shape[1], two.X.shape[1], three.X.shape[1]) == (275, 306, 64)
    assert two.info["ch_types"].count("mag") == 102 and two.info["ch_types"].count("grad") == 204
    assert set(three.info["ch_types"]) == {"eeg"}
    assert 1e-7 < three.X.std() < 1e-4 and 1e-14 < one.X.std() < 1e-11  # volts vs tesla
    # the same stimulus world reaches every sensor set: background is decoded early everywhere
    for data in (two, three):
        background = world.stimuli.attributes["background"].to_numpy()[data.stimulus_ids]
        assert _decode(data, background, EARLY) > 0.85
    with pytest.raises(DataError, match="only CTF-275"):
        meg_vision.write(world, tmp_path)
    with pytest.raises(DataError, match="unknown sensor system"):
        meg_vision.make(n_subjects=1, n_train=4, n_test=1, systems={"1": "KIT-157"})


def test_distractor_images_were_never_shown(world):
    extra = meg_vision.distractor_stimuli(world, 30)
    assert len(extra) == 30 and extra.ids.min() > world.stimuli.ids.max()
    shown = {img.tobytes() for img in world.stimuli.images}
    assert sum(img.tobytes() in shown for img in extra.images) <= 1  # independent draws
    again = meg_vision.distractor_stimuli(world, 30)
    np.testing.assert_array_equal(again.images, extra.images)
