"""ROI masks survive the real file formats: ``roi-<name>.nii.gz`` beside the betas.

Synthetic-vision subjects carry ``info["rois"]`` (early / higher visual voxels) that the
Takagi-Nishimoto pipeline reads; before, a world written by ``neurodecode synth`` (or
converted to the bring-your-own folder) came back without them and that pipeline could not
run on it.
"""

import nibabel as nib
import numpy as np
import pytest

from neurodecode import synth
from neurodecode.data.folder import write_trial_folder
from neurodecode.datasets import open_dataset
from neurodecode.errors import DataError

PARAMS = dict(n_subjects=2, n_train=60, n_test=12)


@pytest.fixture(scope="module")
def world():
    return synth.make("synthetic-vision", seed=0, **PARAMS)


@pytest.fixture(scope="module")
def world_dir(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    synth.write("synthetic-vision", out, seed=0, **PARAMS)
    return out


def _same_rois(read, world):
    for s, data in world.subjects.items():
        got = read.subjects[s].info.get("rois")
        assert got is not None, f"subject {s} lost its ROIs"
        assert sorted(got) == sorted(data.info["rois"]) == ["early", "higher"]
        for name, cols in data.info["rois"].items():
            # planted masks are non-trivial: both ROIs hold voxels
            assert 0 < cols.sum() < len(cols)
            np.testing.assert_array_equal(got[name], cols)


def test_synth_world_folder_round_trips_roi_masks(world, world_dir):
    assert (world_dir / "sub-1" / "roi-early.nii.gz").is_file()
    _same_rois(open_dataset(world_dir), world)


def test_bring_your_own_folder_round_trips_roi_masks(world, tmp_path):
    write_trial_folder(world, tmp_path / "byo")
    assert (tmp_path / "byo" / "sub-2" / "roi-higher.nii.gz").is_file()
    _same_rois(open_dataset(tmp_path / "byo"), world)


def test_roi_mask_voxels_outside_the_mask_are_ignored_and_subset_mask_reindexes(world_dir,
                                                                               tmp_path):
    """A broader NSD-style ROI (extends beyond the stored mask) keeps only stored voxels;
    a smaller ``mask=`` re-indexes the ROI onto the returned columns."""
    from neurodecode.data.nsd import load_nsd_betas

    sub = _copy_subject(world_dir / "sub-1", tmp_path / "sub-1")
    stored_img = nib.load(sub / "mask.nii.gz")
    stored = np.asarray(stored_img.dataobj) > 0
    early = np.asarray(nib.load(sub / "roi-early.nii.gz").dataobj) > 0
    wide = np.ones(stored.shape, np.uint8)  # the whole grid, as NSD's broad ROIs
    wide[0] = 0
    nib.save(nib.Nifti1Image(wide, stored_img.affine), sub / "roi-wide.nii.gz")
    # about half of the stored voxels as a smaller mask
    i = np.indices(stored.shape)[0]
    small = stored & (i < np.median(np.nonzero(stored)[0]))
    nib.save(nib.Nifti1Image(small.astype(np.uint8), stored_img.affine), tmp_path / "m.nii.gz")
    full = load_nsd_betas(sub, subject="1")
    np.testing.assert_array_equal(full.info["rois"]["wide"], (wide > 0)[stored])
    data = load_nsd_betas(sub, subject="1", mask=tmp_path / "m.nii.gz")
    assert 0 < data.n_features == small.sum() < stored.sum()
    np.testing.assert_array_equal(data.info["rois"]["early"], early[small])
    assert 0 < data.info["rois"]["early"].sum() < data.n_features


def _copy_subject(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_wrong_shaped_roi_mask_is_a_data_error_naming_the_file(world_dir, tmp_path):
    sub = _copy_subject(world_dir / "sub-1", tmp_path / "sub-1")
    affine = nib.load(sub / "mask.nii.gz").affine
    shape = nib.load(sub / "mask.nii.gz").shape
    bad = sub / "roi-v1.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((shape[0] + 1, *shape[1:]), np.uint8), affine), bad)
    from neurodecode.data.nsd import load_nsd_betas

    with pytest.raises(DataError, match=r"roi-v1\.nii\.gz: ROI mask shape") as err:
        load_nsd_betas(sub, subject="1")
    assert str(shape) in str(err.value)
    # the bring-your-own reader gives the same message
    byo = tmp_path / "byo"
    byo.mkdir()
    (byo / "dataset.yaml").write_text("name: byo\nmodality: fmri\n")
    folder = byo / "sub-1"
    folder.mkdir()
    n = int((np.asarray(nib.load(sub / "mask.nii.gz").dataobj) > 0).sum())
    np.save(folder / "betas.npy", np.zeros((3, n), np.float32))
    (folder / "trials.tsv").write_text("y\n0\n1\n0\n")
    nib.save(nib.load(sub / "mask.nii.gz"), folder / "mask.nii.gz")
    nib.save(nib.Nifti1Image(np.ones(shape[:2], np.uint8), affine), folder / "roi-v1.nii.gz")
    with pytest.raises(DataError, match=r"roi-v1\.nii\.gz: ROI mask must be 3-D"):
        open_dataset(byo)


def test_takagi_nishimoto_trains_on_a_read_back_world(world_dir):
    """The ridge decoder with ROI heads (pipelines/recon/takagi-nishimoto.yaml) runs on the
    written world: each target reads only its ROI and identification is far above chance."""
    from neurodecode.training.experiment import load_config
    from tests.training.conftest import takagi_nishimoto_two_way

    cfg = load_config("pipelines/recon/takagi-nishimoto.yaml")
    cfg.data["dataset"] = str(world_dir)
    cfg.data["subjects"] = ["1"]
    cfg.data["params"] = {}
    cfg.train.ridge_cv = 3
    assert takagi_nishimoto_two_way(cfg) > 0.8


@pytest.mark.parametrize("fmt", ["hdf5", "nifti"])
def test_nsd_layout_reads_named_label_rois(tmp_path, fmt):
    """NSD as released: ``rois={"early": "streams:1", ...}`` picks labels of NSD's ROI files
    (``roi/streams.nii.gz``) onto the nsdgeneral columns; a file off the grid names itself."""
    from neurodecode.data.nsd import NSD_ROI
    from tests.data.layouts import AFFINE, SHAPE, write_nsd

    world = write_nsd(tmp_path, fmt=fmt)
    streams = np.zeros(SHAPE, np.int16)
    streams[:3] = 1  # early
    streams[3:, :2] = 5  # ventral
    streams[3:, 2:] = 7  # parietal
    path = tmp_path / NSD_ROI.format(subject=1, space="func1pt8mm", roi="streams")
    nib.save(nib.Nifti1Image(streams, AFFINE), path)
    sub = open_dataset(tmp_path, subjects=[1], rois={"early": "streams:1",
                                                     "higher": "streams:5,6,7",
                                                     "any": "streams"})["1"]
    general = world["roi"] > 0
    rois = sub.info["rois"]
    np.testing.assert_array_equal(rois["early"], (streams == 1)[general])
    np.testing.assert_array_equal(rois["higher"], np.isin(streams, [5, 6, 7])[general])
    np.testing.assert_array_equal(rois["any"], (streams > 0)[general])
    assert 0 < rois["early"].sum() < sub.n_features and (rois["early"] ^ rois["higher"]).all()
    nib.save(nib.Nifti1Image(streams[:-1], AFFINE), path)
    with pytest.raises(DataError, match=r"streams\.nii\.gz: ROI mask shape"):
        open_dataset(tmp_path, subjects=[1], rois={"early": "streams:1"})
