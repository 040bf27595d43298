"""synthetic-vision: deterministic by seed, NSD-style file round trip, CLI, rendering and
captions checked by hand, and the planted brain -> semantics effect (recovered by ridge
retrieval far above chance; gone when trials are shuffled against stimuli)."""

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import RidgeCV

from neurodecode.cli import main
from neurodecode.data import split_from_metadata
from neurodecode.errors import DataError
from neurodecode.synth import vision

SMALL = dict(n_train=200, n_test=100)
QUANTUM = 0.5 / 300 + 1e-6  # largest rounding error of int16 x 300


@pytest.fixture(scope="module")
def world():
    return vision.make(n_subjects=2, seed=0, **SMALL)


@pytest.fixture(scope="module")
def written(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("vision")
    return vision.write(world, out), out


# ----------------------------------------------------------------------------- structure
def test_deterministic_by_seed(world):
    same = vision.make(n_subjects=2, seed=0, **SMALL)
    other = vision.make(n_subjects=2, seed=1, **SMALL)
    for s in ("1", "2"):
        np.testing.assert_array_equal(same.subjects[s].X, world.subjects[s].X)
        np.testing.assert_array_equal(same.subjects[s].stimulus_ids, world.subjects[s].stimulus_ids)
        pd.testing.assert_frame_equal(same.subjects[s].metadata, world.subjects[s].metadata)
        assert not np.allclose(other.subjects[s].X[:50], world.subjects[s].X[:50])
    np.testing.assert_array_equal(same.stimuli.images, world.stimuli.images)
    np.testing.assert_array_equal(same.truth["semantic"], world.truth["semantic"])
    assert same.stimuli.captions == world.stimuli.captions
    assert not np.array_equal(other.stimuli.images, world.stimuli.images)


def test_subjects_differ_in_voxels_and_fit_their_masks(world):
    counts = [world.subjects[s].n_features for s in ("1", "2")]
    assert counts[0] != counts[1]
    for s, d in world.subjects.items():
        assert d.modality == "fmri" and d.subject == s
        assert int(d.info["mask"].sum()) == d.n_features
        assert d.info["voxel_coords"].shape == (d.n_features, 3)
        assert world.truth["anatomy"][s]["n_voxels"] == d.n_features


def test_shared_test_set_three_repetitions_no_leak(world):
    test_ids = world.truth["test_ids"]
    assert len(test_ids) == SMALL["n_test"]
    train_sets = []
    for d in world.subjects.values():
        train, test = split_from_metadata(d)
        counts = dict(zip(*np.unique(test.stimulus_ids, return_counts=True), strict=True))
        assert sorted(counts) == sorted(test_ids.tolist()) and set(counts.values()) == {3}
        assert not np.isin(train.stimulus_ids, test_ids).any()
        train_counts = np.unique(train.stimulus_ids, return_counts=True)[1]
        assert len(train_counts) == SMALL["n_train"] and set(train_counts) <= {1, 2, 3}
        train_sets.append(set(train.stimulus_ids.tolist()))
    assert train_sets[0] != train_sets[1]  # training images are subject-specific
    assert world.truth["semantic"].shape == (len(world.stimuli), vision.EMBED_DIM)


def test_repetition_numbers_follow_presentation_order(world):
    """The k-th showing of a stimulus (in trial order) is labelled repetition k - 1 (0-based,
    the convention of neurodecode.data.nsd)."""
    d = world.subjects["1"]
    meta = d.metadata.assign(stimulus_id=d.stimulus_ids).sort_values("trial")
    shown = meta.groupby("stimulus_id", sort=False).cumcount()
    np.testing.assert_array_equal(meta["repetition"].to_numpy(), shown.to_numpy())


# ----------------------------------------------------------------------------- stimuli
def test_render_one_image_by_hand():
    attrs = pd.DataFrame({"shape": ["circle"], "colour": ["red"], "texture": ["solid"],
                          "background": ["dark"], "x": [0.5], "y": [0.5], "size": [0.25]})
    image = vision.render(attrs, image_size=32)[0]
    red = (230, 38, 26)  # round(255 * (0.9, 0.15, 0.1))
    dark = (20, 20, 31)  # round(255 * (0.08, 0.08, 0.12))
    centre = (np.arange(32) + 0.5) / 32
    inside = np.array([[np.hypot(x - 0.5, y - 0.5) <= 0.25 for x in centre] for y in centre])
    assert 150 < inside.sum() < 250  # ~ pi * 0.25^2 * 32^2 = 201 pixels
    assert (image[inside] == red).all() and (image[~inside] == dark).all()
    assert vision.caption(attrs.iloc[0]) == "a medium red circle at the centre on a dark background"


def test_world_images_have_object_colour_at_object_centre(world):
    attrs = world.stimuli.attributes
    solid = attrs.index[(attrs["texture"] == "solid") & (attrs["shape"] != "ring")]
    assert len(solid) > 10
    size = world.stimuli.images.shape[1]
    for i in solid[:10]:
        row = attrs.loc[i]
        pixel = world.stimuli.images[i, int(row["y"] * size), int(row["x"] * size)]
        expected = np.round(np.array(vision.COLOURS[row["colour"]]) * 255)
        np.testing.assert_array_equal(pixel, expected)
        corner = world.stimuli.images[i, 0, 0]
        np.testing.assert_array_equal(corner, np.round(np.array(
            vision.BACKGROUNDS[row["background"]]) * 255))


def test_captions_mention_colour_shape_texture_background(world):
    attrs = world.stimuli.attributes
    for (_, row), text in zip(attrs.iterrows(), world.stimuli.captions, strict=True):
        words = text.split()
        assert row["colour"] in words and row["shape"] in words
        assert row["background"] in words
        assert (row["texture"] in words) == (row["texture"] != "solid")


def test_semantic_truth_is_the_attribute_embedding(world):
    np.testing.assert_array_equal(world.truth["semantic"], vision.embed(world.stimuli.attributes))
    one_hot = world.truth["semantic"][:, : vision.EMBED_DIM - 3]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    assert (one_hot.sum(1) == 4).all()  # one shape, colour, texture, background each


# ----------------------------------------------------------------------------- files
def test_write_read_round_trip(world, written):
    paths, out = written
    assert all(p.exists() for p in paths) and (out / "world.json") in paths
    assert not list(out.rglob(".*tmp-*"))  # no temporary files left
    back = vision.read(out)
    assert back.params == world.params
    for s, d in world.subjects.items():
        b = back.subjects[s]
        assert b.X.shape == d.X.shape
        np.testing.assert_allclose(np.asarray(b.X), d.X, atol=QUANTUM)
        np.testing.assert_array_equal(b.stimulus_ids, d.stimulus_ids)
        np.testing.assert_array_equal(b.info["mask"], d.info["mask"])
        np.testing.assert_allclose(b.info["affine"], d.info["affine"])
        np.testing.assert_allclose(b.info["voxel_coords"], d.info["voxel_coords"])
        assert (b.metadata["split"] == d.metadata["split"]).all()
    np.testing.assert_array_equal(back.stimuli.ids, world.stimuli.ids)
    np.testing.assert_array_equal(back.stimuli.get_images(), world.stimuli.images)  # PNG lossless
    assert back.stimuli.captions == world.stimuli.captions
    np.testing.assert_allclose(back.truth["semantic"], world.truth["semantic"], atol=1e-5)


def test_lazy_subset_read_matches(world, written):
    from neurodecode.data import load_nsd_betas

    _, out = written
    lazy = load_nsd_betas(out / "sub-2", subject="2")
    idx = np.array([40, 3, 3, 200])
    np.testing.assert_allclose(lazy.select(idx).X, world.subjects["2"].X[idx], atol=QUANTUM)


def test_average_repetitions_of_lazy_betas(world, written):
    from neurodecode.data import load_nsd_betas

    _, out = written
    lazy = split_from_metadata(load_nsd_betas(out / "sub-1", subject="1"))[1]
    eager = split_from_metadata(world.subjects["1"])[1]
    a, b = lazy.average_repetitions(), eager.average_repetitions()
    assert a.X.dtype == np.float32 and a.X.shape == (SMALL["n_test"], eager.n_features)
    np.testing.assert_array_equal(a.stimulus_ids, b.stimulus_ids)
    np.testing.assert_allclose(a.X, b.X, atol=QUANTUM)


@pytest.mark.slow
def test_cli_writes_files_nibabel_and_h5py_open(tmp_path):
    out = tmp_path / "sv"
    result = CliRunner().invoke(
        main, ["synth", "synthetic-vision", "--out", str(out), "--subjects", "2", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "synthetic-vision" in result.output and "seed 3" in result.output
    for s in ("1", "2"):
        mask = nib.load(out / f"sub-{s}" / "mask.nii.gz")
        assert mask.shape == vision.GRID_SHAPE
        n_vox = int(np.asarray(mask.dataobj).astype(bool).sum())
        files = sorted((out / f"sub-{s}").glob("betas_session*.hdf5"))
        assert len(files) == 3
        for f in files:
            with h5py.File(f, "r") as handle:
                assert handle["betas"].dtype == np.int16 and handle["betas"].shape[1] == n_vox
    assert not (out / "sub-3").exists()
    back = vision.read(out)
    assert back.params["seed"] == 3 and set(back.subjects) == {"1", "2"}


# ----------------------------------------------------------------------------- planted effect
def _top1(pred: np.ndarray, target: np.ndarray) -> float:
    """Top-1 retrieval by Pearson correlation among the candidates (rows of ``target``)."""
    def z(a):
        a = a - a.mean(1, keepdims=True)
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    return float(np.mean((z(pred) @ z(target).T).argmax(1) == np.arange(len(target))))


def _retrieval(data, semantic, shuffle_seed=None) -> float:
    train, test = split_from_metadata(data)
    test = test.average_repetitions()
    ids = train.stimulus_ids
    if shuffle_seed is not None:
        ids = np.random.default_rng(shuffle_seed).permutation(ids)
    model = RidgeCV(alphas=np.logspace(0, 5, 11)).fit(np.asarray(train.X), semantic[ids])
    return _top1(model.predict(np.asarray(test.X)), semantic[test.stimulus_ids])


def test_planted_semantic_effect_recovered_and_shuffle_at_chance(world):
    semantic = world.truth["semantic"]
    chance = 1 / SMALL["n_test"]
    # measured: 0.78 (seed 0, 200 training images); shuffled 0.01
    assert _retrieval(world.subjects["1"], semantic) > 0.4
    shuffled = [_retrieval(world.subjects["1"], semantic, shuffle_seed=k) for k in range(3)]
    assert np.mean(shuffled) < 5 * chance


def _anchor_correlation(world) -> float:
    """Median over anchor points and subject pairs of the correlation of anatomically pooled
    test responses (what the ``anat`` adapter's shared projection relies on)."""
    from neurodecode.models.adapters import anchor_weights

    pooled = {}
    for s, d in world.subjects.items():
        test = d.select(d.metadata["split"].to_numpy() == "test").average_repetitions()
        order = np.argsort(test.stimulus_ids)
        pooled[s] = test.X[order] @ anchor_weights(d.info["voxel_coords"], 6, 0.35).numpy().T
    names = sorted(pooled)
    rs = [np.corrcoef(pooled[a][:, k], pooled[b][:, k])[0, 1]
          for i, a in enumerate(names) for b in names[i + 1:] for k in range(216)]
    return float(np.nanmedian(rs))


def test_nonrigid_default_breaks_anatomical_alignment_and_varies_snr():
    from neurodecode.synth import vision

    kw = dict(n_subjects=3, n_train=40, n_test=100, seed=0)
    nonrigid = vision.make(**kw)
    rigid = vision.make(anatomy="rigid", **kw)
    assert nonrigid.params["anatomy"] == "nonrigid"
    truth = nonrigid.truth["anatomy"]
    assert all(10 <= abs(t["rotation_deg"]) <= 25 for t in truth.values())
    assert len({round(t["noise_factor"], 3) for t in truth.values()}) == 3
    # measured .53 (rigid) vs .31 (non-rigid) for seed 0
    assert _anchor_correlation(rigid) > _anchor_correlation(nonrigid) + 0.12
    for d in nonrigid.subjects.values():
        rois = d.info["rois"]
        assert (rois["early"] ^ rois["higher"]).all() and 0.3 < rois["early"].mean() < 0.7
    with pytest.raises(DataError, match="anatomy"):
        vision.make(anatomy="warped", **kw)
