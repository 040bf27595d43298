"""synthetic-seeg-movie: Brain Treebank files, exact round trip, multimodal sites recoverable."""

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict

from neurodecode.cli import main
from neurodecode.synth import seeg_movie


@pytest.fixture(scope="module")
def world():
    return seeg_movie.make(n_subjects=1, seed=0)


def test_cli_writes_brain_treebank_layout(tmp_path):
    result = CliRunner().invoke(
        main, ["synth", "synthetic-seeg-movie", "--out", str(tmp_path), "--subjects", "1"]
    )
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "sub_1_trial001.h5", "r") as f:
        electrodes = sorted(f["data"], key=lambda k: int(k.split("_")[1]))
        assert electrodes == [f"electrode_{i}" for i in range(40)]
        assert f["data"].attrs["sfreq"] == 512
    triggers = pd.read_csv(tmp_path / "subject_timings" / "sub_1_trial001_timings.csv")
    assert (triggers["type"] == "pause").sum() == 1
    back = seeg_movie.read(tmp_path)
    epochs = back.subjects["1"].to_epochs()  # MNE takes the loaded data as SEEG epochs
    assert set(epochs.get_channel_types()) == {"seeg"}
    assert epochs.get_data().shape == (240, 40, 321)


def test_read_gives_back_make_exactly(tmp_path):
    made = seeg_movie.make(n_subjects=2, seed=4, n_events=50, n_electrodes=10)
    seeg_movie.write(made, tmp_path)
    back = seeg_movie.read(tmp_path)
    assert back.params == made.params
    assert back.truth["multimodal_sites"] == made.truth["multimodal_sites"]
    for name in seeg_movie.STREAMS:
        np.testing.assert_array_equal(back.truth["features"][name], made.truth["features"][name])
    for subject, a in made.subjects.items():
        b = back.subjects[subject]
        # Word onsets are in movie time; each session paused once, so the alignment must skip
        # the pause through the trigger table to land on the same samples.
        np.testing.assert_array_equal(b.X, a.X)
        assert b.metadata.equals(a.metadata)
        np.testing.assert_array_equal(b.stimulus_ids, a.stimulus_ids)
        assert b.info["ch_names"] == a.info["ch_names"]
        assert b.info["tmin"] == a.info["tmin"]
        np.testing.assert_allclose(b.info["ch_pos"], a.info["ch_pos"], atol=1e-12)


def test_same_seed_same_world():
    a = seeg_movie.make(n_subjects=1, seed=2, n_events=30, n_electrodes=8)
    b = seeg_movie.make(n_subjects=2, seed=2, n_events=30, n_electrodes=8)
    np.testing.assert_array_equal(a.subjects["1"].X, b.subjects["1"].X)
    assert a.truth["site_type"]["1"] == b.truth["site_type"]["1"]


def _cv_r2(features, Y):
    """Cross-validated R^2 per column of Y with contiguous folds (Subramaniam et al.)."""
    ridge = RidgeCV(alphas=np.logspace(-1, 5, 7))
    pred = cross_val_predict(ridge, features, Y, cv=KFold(5))
    return 1 - ((Y - pred) ** 2).sum(0) / ((Y - Y.mean(0)) ** 2).sum(0)


def _multimodal_sites(data, features):
    """Electrodes where the vision-language model beats vision, language and their concat."""
    times = data.info["tmin"] + np.arange(data.X.shape[-1]) / data.info["sfreq"]
    Y = data.X[..., (times >= 0.1) & (times <= 0.4)].mean(-1)
    v, lang, inter = (features[k] for k in seeg_movie.STREAMS)
    r2 = {
        "vision": _cv_r2(v, Y),
        "language": _cv_r2(lang, Y),
        "concat": _cv_r2(np.hstack([v, lang]), Y),
        "vision-language": _cv_r2(np.hstack([v, lang, inter]), Y),
    }
    best_other = np.maximum.reduce([r2["vision"], r2["language"], r2["concat"]])
    return (r2["vision-language"] > best_other + 0.02) & (r2["vision-language"] > 0.05)


def test_ridge_encoding_picks_out_the_planted_multimodal_sites(world):
    data = world.subjects["1"]
    truth = np.array(world.truth["site_type"]["1"]) == "multimodal"
    found = _multimodal_sites(data, world.truth["features"])
    base_rate = truth.mean()
    precision = (found & truth).sum() / max(found.sum(), 1)
    recall = (found & truth).sum() / truth.sum()
    assert precision >= 0.75 > 3 * base_rate
    assert recall >= 0.5
    # Responses shuffled across words: no site is called multimodal.
    shuffled = data.select(np.random.default_rng(0).permutation(data.n_trials))
    assert _multimodal_sites(shuffled, world.truth["features"]).sum() <= 1


def test_no_planted_effect_no_multimodal_sites():
    world = seeg_movie.make(n_subjects=1, seed=0, effect=0.0)
    assert _multimodal_sites(world.subjects["1"], world.truth["features"]).sum() <= 1
