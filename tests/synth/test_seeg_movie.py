"""synthetic-seeg-movie: Brain Treebank files, exact round trip, multimodal sites recoverable."""

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from neurodecode.cli import main
from neurodecode.encoding.seeg import bin_responses, multimodal_sites
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


def _multimodal_sites(data, features):
    """Electrodes the library's test calls multimodal (Subramaniam et al.: the vision-language
    model beats vision, language and their concatenation; event bootstrap, BH FDR 5%)."""
    Y, targets = bin_responses(data)
    v, lang, inter = (features[k] for k in seeg_movie.STREAMS)
    streams = {"vision": v, "language": lang, "multimodal": np.hstack([v, lang, inter])}
    return multimodal_sites(Y, streams, targets=targets, n_boot=500).sites()[
        "multimodal"].to_numpy()


# Recovery of the planted multimodal sites (FDR <= 5%, recall >= 80%, shuffled and
# equal-information controls) is tested with the library in tests/encoding/test_seeg.py.


def test_no_planted_effect_no_multimodal_sites():
    world = seeg_movie.make(n_subjects=1, seed=0, effect=0.0)
    assert _multimodal_sites(world.subjects["1"], world.truth["features"]).sum() == 0
