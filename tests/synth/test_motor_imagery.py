"""synthetic-mi: exact FIF round trip, real montage, the physiological model (default) and the
temporal model's two planted effects."""

import mne
import numpy as np
import pytest
from pyriemann.tangentspace import TangentSpace
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from neurodecode.data.errors import DataError
from neurodecode.riemann import AugmentedCovariances, BatchCovariances
from neurodecode.synth import motor_imagery as mi

SMALL = dict(n_trials_per_class=3, channels=["C3", "Cz", "C4", "FCz"])
MOTOR = ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CP4"]


def test_layout_labels_and_sessions():
    world = mi.make(n_subjects=2, seed=0, n_trials_per_class=4)
    data = world.subjects["1"]
    assert list(world.subjects) == ["1", "2"]
    assert data.modality == "eeg" and data.X.shape == (32, 22, 384)
    assert data.info["ch_names"] == list(mi.CHANNELS) and data.info["sfreq"] == 128.0
    assert sorted(np.unique(data.y)) == sorted(mi.CLASSES)
    for session in ("1", "2"):
        m = data.metadata["session"] == session
        assert (np.unique(data.y[m], return_counts=True)[1] == 4).all()
        assert sorted(data.metadata.loc[m, "run"].unique()) == ["0", "1"]
    positions = mi.montage_positions()
    np.testing.assert_array_equal(data.info["ch_pos"][7], positions["C3"])
    assert 1e-6 < data.X.std() < 1e-4  # volts, tens of microvolts
    with pytest.raises(DataError, match="unknown parameters"):
        mi.make(n_subjects=1, erd_strength=1)


def test_same_seed_same_world_and_subjects_stable():
    a = mi.make(n_subjects=1, seed=3, **SMALL)
    b = mi.make(n_subjects=2, seed=3, **SMALL)
    c = mi.make(n_subjects=1, seed=4, **SMALL)
    np.testing.assert_array_equal(a.subjects["1"].X, b.subjects["1"].X)
    assert not np.allclose(a.subjects["1"].X, c.subjects["1"].X)


def test_write_read_gives_the_same_arrays(tmp_path):
    world = mi.make(n_subjects=2, seed=1, **SMALL)
    paths = mi.write(world, tmp_path)
    assert len([p for p in paths if p.suffix == ".fif"]) == 4  # subjects x sessions
    raw = mne.io.read_raw_fif(paths[0], verbose="error")
    assert set(raw.annotations.description) <= set(mi.CLASSES)
    assert raw.get_channel_types() == ["eeg"] * 4
    back = mi.read(tmp_path)
    assert back.params == world.params
    for subject, made in world.subjects.items():
        read = back.subjects[subject]
        np.testing.assert_array_equal(read.X, made.X)  # float32-exact signals, FIF single
        np.testing.assert_array_equal(read.y, made.y)
        assert read.metadata.equals(made.metadata)
        np.testing.assert_allclose(read.info["ch_pos"], made.info["ch_pos"], atol=1e-8)
    assert not list(tmp_path.rglob(".*tmp*"))


def _session(seed=0, **params):
    params = {"model": "temporal", **params}
    world = mi.make(n_subjects=1, seed=seed, n_trials_per_class=20, channels=MOTOR, **params)
    data = world.subjects["1"]
    m = data.metadata["session"] == "1"
    X = mne.filter.filter_data(data.X[m], 128.0, 8, 32, method="iir", verbose="error")
    return X, data.y[m]


def _score(pipeline, X, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(pipeline, X, y, cv=cv).mean()


def _ts_lr():
    return make_pipeline(BatchCovariances("oas"), TangentSpace(), LogisticRegression(max_iter=500))


def _acm_lr():
    return make_pipeline(
        AugmentedCovariances(order=4, lag=3), TangentSpace(), LogisticRegression(max_iter=500)
    )


def test_temporal_effect_needs_the_augmented_covariance():
    # Band power off: classes differ only in the mu peak frequency at equal variance.
    X, y = _session(erd=0.0)
    chance = 0.25
    assert _score(_acm_lr(), X, y) > chance + 0.3
    assert _score(_ts_lr(), X, y) < chance + 0.15  # zero-lag covariance cannot see it
    shuffled = np.random.default_rng(0).permutation(y)
    assert _score(_acm_lr(), X, shuffled) < chance + 0.15


def test_band_power_effect_is_seen_by_the_covariance():
    X, y = _session(erd=0.6, freq_shift=0.0)
    assert _score(_ts_lr(), X, y) > 0.25 + 0.3
    assert _score(_ts_lr(), X, np.random.default_rng(1).permutation(y)) < 0.25 + 0.15


def _two_class(classes, seed=0, **params):
    world = mi.make(n_subjects=1, seed=seed, n_sessions=1, n_trials_per_class=48, **params)
    data = world.subjects["1"]
    keep = np.isin(data.y, classes)
    X = mne.filter.filter_data(data.X[keep], 128.0, 8, 32, method="iir", verbose="error")
    return X, data.y[keep], world


def _csp_lda():
    from pyriemann.spatialfilters import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return make_pipeline(BatchCovariances("oas"), CSP(nfilter=6), LinearDiscriminantAnalysis())


def _auc(pipeline, X, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(pipeline, X, y, cv=cv, scoring="roc_auc").mean()


@pytest.mark.slow
@pytest.mark.parametrize("classes", [("left_hand", "right_hand"), ("right_hand", "feet")])
def test_physiological_world_is_decoded_by_zero_lag_pipelines(classes):
    # The default model: ERD/ERS band power, volume conduction, artefacts, average reference.
    X, y, world = _two_class(classes)
    assert world.params["model"] == "physiological" and world.params["freq_shift"] == 0.0
    for pipeline in (_ts_lr, _csp_lda):
        assert _auc(pipeline(), X, y) > 0.75, pipeline.__name__
    rng = np.random.default_rng(0)
    shuffled = [_auc(_ts_lr(), X, rng.permutation(y)) for _ in range(4)]
    assert abs(np.mean(shuffled) - 0.5) < 0.12  # labels carry the effect, nothing else does


def test_physiological_world_is_rank_deficient_and_has_artefacts():
    from neurodecode.riemann import data_rank

    X, _, world = _two_class(("left_hand", "right_hand"))
    assert world.truth["subjects"]["1"]["rank"] == 21
    assert data_rank(X) == 21  # common average reference: channels - 1
    clean = mi.make(n_subjects=1, seed=0, n_sessions=1, n_trials_per_class=30, artefacts=0.0,
                    reference="none").subjects["1"]
    assert data_rank(clean.X) == 22
    dirty = mi.make(n_subjects=1, seed=0, n_sessions=1, n_trials_per_class=30,
                    reference="none").subjects["1"]
    from scipy.signal import butter, sosfiltfilt

    # blinks: slow (< 4 Hz) frontal bumps far above anything the clean world has there
    fz, sos = mi.CHANNELS.index("Fz"), butter(4, 4.0, fs=128.0, output="sos")
    slow = [np.abs(sosfiltfilt(sos, d.X[:, fz])).max() for d in (clean, dirty)]
    assert slow[1] > 2 * slow[0]
    with pytest.raises(DataError, match="model must be one of"):
        mi.make(n_subjects=1, model="physio")
