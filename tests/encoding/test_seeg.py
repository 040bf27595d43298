"""SEEG multimodal sites on synthetic-seeg-movie: planted sites found, equal information not."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.data.errors import DataError
from neurodecode.encoding.seeg import (
    across_alignments,
    bin_responses,
    feature_streams,
    movie_epochs,
    multimodal_sites,
    plot_site_map,
    scene_cuts,
)
from neurodecode.synth import seeg_movie


@pytest.fixture(scope="module")
def world():
    return seeg_movie.make(n_subjects=2, seed=0)


def _streams(features, multimodal=None):
    v, lang = features["vision"], features["language"]
    mm = np.hstack([v, lang, features["interaction"]]) if multimodal is None else multimodal
    return {"vision": v, "language": lang, "multimodal": mm}


def test_planted_multimodal_sites_recovered_with_fdr_5_and_recall_80(world, tmp_path):
    found_all, truth_all = [], []
    for subject, data in world.subjects.items():
        Y, targets = bin_responses(data)
        result = multimodal_sites(Y, _streams(world.truth["features"]), targets=targets)
        sites = result.sites(dict(zip(data.info["ch_names"], data.info["ch_pos"], strict=True)))
        assert list(sites.index) == data.info["ch_names"]
        found_all.append(sites["multimodal"].to_numpy())
        truth_all.append(np.array(world.truth["site_type"][subject]) == "multimodal")
    found, truth = np.concatenate(found_all), np.concatenate(truth_all)
    false_discovery = (found & ~truth).sum() / max(found.sum(), 1)
    recall = (found & truth).sum() / truth.sum()
    assert false_discovery <= 0.05 and recall >= 0.8, (false_discovery, recall)
    # The table carries every model's score; the map is written.
    assert {"r[vision]", "r[language]", "r[concat]", "r[multimodal]"} <= set(sites.columns)
    png = plot_site_map(sites, tmp_path / "sites.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_same_information_in_the_multimodal_model_gives_no_sites(world):
    """The 'multimodal' model sees vision and language only, through an orthogonal mixing."""
    data = world.subjects["1"]
    f = world.truth["features"]
    mix = np.linalg.qr(np.random.default_rng(1).standard_normal((12, 12)))[0]
    Y, targets = bin_responses(data)
    result = multimodal_sites(Y, _streams(f, np.hstack([f["vision"], f["language"]]) @ mix),
                              targets=targets)
    assert result.sites()["multimodal"].mean() <= 0.05


def test_shuffled_responses_give_no_sites(world):
    data = world.subjects["1"]
    Y, targets = bin_responses(data)
    Y = Y[np.random.default_rng(0).permutation(len(Y))]
    result = multimodal_sites(Y, _streams(world.truth["features"]), targets=targets)
    assert result.sites()["multimodal"].sum() == 0


def test_events_aligned_through_the_trigger_table(tmp_path):
    world = seeg_movie.make(n_subjects=1, seed=3, n_events=40, n_electrodes=8)
    seeg_movie.write(world, tmp_path)
    words = pd.read_csv(tmp_path / "movie" / "words.csv")
    epochs = movie_epochs(tmp_path, "1", 1, words, tmin=seeg_movie.TMIN, tmax=seeg_movie.TMAX)
    np.testing.assert_array_equal(epochs.X, world.subjects["1"].X)
    Y, targets = bin_responses(epochs, bins=((0.0, 0.25), (0.25, 0.5)))
    assert Y.shape == (40, 16) and targets[1] == ("A1", "0.25-0.5s")
    times = epochs.info["tmin"] + np.arange(epochs.X.shape[-1]) / epochs.info["sfreq"]
    np.testing.assert_allclose(Y[:, 1], epochs.X[:, 0][
        :, (times >= 0.25) & (times < 0.5)].mean(-1))
    with pytest.raises(DataError, match="holds no sample"):
        bin_responses(epochs, bins=((2.0, 3.0),))


def test_scene_cuts_and_feature_streams():
    rng = np.random.default_rng(0)
    scenes = rng.standard_normal((4, 5))
    frames = np.repeat(scenes, 25, axis=0) + 0.01 * rng.standard_normal((100, 5))
    cuts = scene_cuts(frames, np.arange(100) * 0.1, quantile=0.97)
    assert cuts["frame"].tolist() == [25, 50, 75]
    events = pd.DataFrame({"start": [0.0, 1.0, 2.0], "word": ["a", "bb", "ccc"]})
    streams = feature_streams(events, {"length": lambda ev: ev["word"].str.len().to_numpy(),
                                       "tokens": np.ones((3, 4, 2))})
    assert streams["length"].shape == (3, 1) and streams["tokens"].shape == (3, 2)
    with pytest.raises(DataError, match="expected \\(3, d\\)"):
        feature_streams(events, {"bad": np.ones((2, 3))})


def test_conjunction_across_alignments(world):
    data = world.subjects["1"]
    Y, targets = bin_responses(data)
    a = multimodal_sites(Y, _streams(world.truth["features"]), targets=targets)
    # A second "alignment": the same events, other bootstrap resamples.
    b = multimodal_sites(Y, _streams(world.truth["features"]), targets=targets, seed=1)
    both = across_alignments(a, b)
    assert 0 < both["multimodal"].sum() <= a.sites()["multimodal"].sum()
    np.testing.assert_array_equal(both["multimodal"], a.sites()["multimodal"].to_numpy()
                                  & b.sites()["multimodal"].to_numpy())


def test_too_few_bootstraps_for_the_fdr_are_refused(world):
    Y, targets = bin_responses(world.subjects["1"])
    with pytest.raises(DataError, match="n_boot"):
        multimodal_sites(Y, _streams(world.truth["features"]), targets=targets, n_boot=10)


def test_text_stream_runs_a_clip_text_tower_on_event_words():
    from transformers import CLIPTextModelWithProjection

    from neurodecode.encoding.seeg import text_stream
    from neurodecode.reconstruct.random_models import TINY, _text_config, tiny_tokenizer

    net = CLIPTextModelWithProjection(_text_config(TINY)).eval()
    events = pd.DataFrame({"start": [0.0, 0.5, 1.0], "word": ["dog", "cat", "dog"]})
    streams = feature_streams(events, {"language": text_stream(net, tokenizer=tiny_tokenizer())})
    lang = streams["language"]
    assert lang.shape == (3, net.config.projection_dim)
    np.testing.assert_allclose(lang[0], lang[2], atol=1e-6)  # same word, same features
    assert np.abs(lang[0] - lang[1]).max() > 1e-4
    with pytest.raises(DataError, match="no 'text' column"):
        feature_streams(events, {"language": text_stream(net, column="text",
                                                         tokenizer=tiny_tokenizer())})
