"""TrialData and StimulusSet: validation messages, selection (in memory and lazy HDF5),
repetition averaging against a hand computation, and exact MNE / NIfTI round trips."""

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neurodecode.data import DataError, StimulusSet, TrialData
from neurodecode.data.containers import take_rows


def _fmri(n=6, n_vox=4, seed=0) -> TrialData:
    rng = np.random.default_rng(seed)
    return TrialData(
        X=rng.standard_normal((n, n_vox)).astype(np.float32),
        subject="7",
        modality="fmri",
        y=np.arange(n) % 2,
        stimulus_ids=np.array([10, 11, 10, 12, 11, 10])[:n],
        metadata=pd.DataFrame({"session": np.arange(n) + 1, "run": np.arange(n) // 3}),
    )


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("modality", "shape", "expected"),
    [("fmri", (5, 3, 2), "2 dimensions"), ("eeg", (5, 3), "3 dimensions"),
     ("meg", (5,), "3 dimensions"), ("seeg", (5, 3), "3 dimensions")],
)
def test_wrong_ndim_names_subject_expected_and_found(modality, shape, expected):
    with pytest.raises(DataError) as err:
        TrialData(X=np.zeros(shape), subject="s3", modality=modality)
    msg = str(err.value)
    assert "subject s3" in msg and modality in msg and expected in msg and str(shape) in msg


def test_unknown_modality_lists_known_ones():
    with pytest.raises(DataError, match="unknown modality 'mri'.*fmri"):
        TrialData(X=np.zeros((3, 2)), subject="1", modality="mri")


@pytest.mark.parametrize("field", ["y", "stimulus_ids"])
def test_length_mismatch_of_labels_and_ids(field):
    with pytest.raises(DataError, match=f"subject 1: {field} has 4 entries for 5 trials"):
        TrialData(X=np.zeros((5, 2)), subject=1, modality="fmri", **{field: np.arange(4)})


def test_metadata_length_mismatch():
    with pytest.raises(DataError, match="subject 1: metadata has 2 rows for 5 trials"):
        TrialData(X=np.zeros((5, 2)), subject="1", modality="fmri",
                  metadata=pd.DataFrame({"a": [1, 2]}))


def test_defaults_and_index_reset():
    meta = pd.DataFrame({"a": [5, 6, 7]}, index=[10, 20, 30])
    d = TrialData(X=np.zeros((3, 2)), subject=4, modality="fc", metadata=meta)
    assert d.subject == "4" and d.n_trials == len(d) == 3 and d.n_features == 2
    assert list(d.metadata.index) == [0, 1, 2] and d.metadata["a"].tolist() == [5, 6, 7]
    assert len(TrialData(X=np.zeros((3, 2)), subject="1", modality="fmri").metadata) == 3


# ----------------------------------------------------------------------------- selection
@pytest.mark.parametrize(
    "index",
    [[4, 0, 0, 2], np.array([4, 0, 0, 2]),
     np.array([True, False, True, False, False, True]), [False, True, False, True, True, False],
     slice(1, None, 2), slice(None, None, -1)],
)
def test_select_matches_numpy_indexing(index):
    d = _fmri()
    rows = np.arange(6)[index]
    s = d.select(index)
    np.testing.assert_array_equal(s.X, d.X[rows])
    np.testing.assert_array_equal(s.y, d.y[rows])
    np.testing.assert_array_equal(s.stimulus_ids, d.stimulus_ids[rows])
    assert s.metadata["session"].tolist() == (rows + 1).tolist()
    assert list(s.metadata.index) == list(range(len(rows)))
    assert s.subject == "7" and s.modality == "fmri"


def test_select_wrong_mask_length():
    with pytest.raises(DataError, match="boolean mask of length 3 for 6 trials"):
        _fmri().select(np.array([True, False, True]))


class _RowReader:
    """An array-like that records which rows it was asked for (like an h5py dataset)."""

    def __init__(self, array):
        self.array, self.shape, self.requests = array, array.shape, []

    def __getitem__(self, key):
        self.requests.append(key)
        return self.array[key]


def test_take_rows_reads_each_requested_row_once_in_increasing_order():
    base = np.arange(40, dtype=float).reshape(10, 4)
    reader = _RowReader(base)
    idx = np.array([7, 2, 7, 0, 9, 2])
    np.testing.assert_array_equal(take_rows(reader, idx), base[idx])
    assert reader.requests == [[0, 2, 7, 9]]


def test_select_on_h5py_dataset_keeps_unsorted_repeated_order(tmp_path):
    base = np.random.default_rng(1).standard_normal((12, 5)).astype(np.float32)
    with h5py.File(tmp_path / "betas.h5", "w") as handle:
        handle["betas"] = base
    with h5py.File(tmp_path / "betas.h5", "r") as handle:
        d = TrialData(X=handle["betas"], subject="1", modality="fmri",
                      stimulus_ids=np.arange(12) * 10)
        idx = [9, 3, 3, 0, 11, 3]
        s = d.select(idx)
        mask = np.zeros(12, bool)
        mask[[1, 4, 5]] = True
        m = d.select(mask)
    assert isinstance(s.X, np.ndarray)
    np.testing.assert_array_equal(s.X, base[idx])
    np.testing.assert_array_equal(s.stimulus_ids, np.array(idx) * 10)
    np.testing.assert_array_equal(m.X, base[[1, 4, 5]])


def test_select_on_lazy_nsd_betas(tmp_path):
    from neurodecode.data.fmri import fmri_info
    from neurodecode.data.nsd import load_nsd_betas, write_nsd_betas

    mask = np.zeros((3, 3, 3), bool)
    mask[1:, 1:, :] = True
    rng = np.random.default_rng(2)
    d = TrialData(X=np.round(rng.normal(0, 1, (9, 12)) * 300) / 300, subject="1",
                  modality="fmri", stimulus_ids=np.arange(9), info=fmri_info(mask, np.eye(4)))
    write_nsd_betas(d, tmp_path / "sub-1")
    lazy = load_nsd_betas(tmp_path / "sub-1", subject="1")
    idx = [8, 1, 1, 4]
    s = lazy.select(idx)
    np.testing.assert_allclose(s.X, d.X[idx], atol=1e-6)
    np.testing.assert_array_equal(s.stimulus_ids, idx)


# ----------------------------------------------------------------------------- repetitions
def test_average_repetitions_by_hand():
    d = _fmri()  # stimulus ids 10, 11, 10, 12, 11, 10
    a = d.average_repetitions()
    X = d.X.astype(np.float64)
    expected = np.stack([(X[0] + X[2] + X[5]) / 3, (X[1] + X[4]) / 2, X[3]])
    np.testing.assert_allclose(a.X, expected, rtol=1e-6)
    assert a.X.dtype == np.float32
    np.testing.assert_array_equal(a.stimulus_ids, [10, 11, 12])
    np.testing.assert_array_equal(a.y, d.y[[0, 1, 3]])
    assert a.metadata["n_repetitions"].tolist() == [3, 2, 1]
    assert a.metadata["session"].tolist() == [1, 2, 4]  # first row of each stimulus


def test_average_repetitions_order_of_first_appearance_not_sorted():
    d = TrialData(X=np.array([[1.0], [2.0], [3.0], [5.0]]), subject="1", modality="fmri",
                  stimulus_ids=np.array(["b", "a", "b", "c"]))
    a = d.average_repetitions()
    assert a.stimulus_ids.tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(a.X[:, 0], [2.0, 2.0, 5.0])


def test_average_repetitions_of_epochs_and_missing_ids():
    X = np.arange(24, dtype=float).reshape(4, 2, 3)
    d = TrialData(X=X, subject="1", modality="meg", stimulus_ids=[0, 1, 0, 1])
    a = d.average_repetitions()
    np.testing.assert_allclose(a.X, [(X[0] + X[2]) / 2, (X[1] + X[3]) / 2])
    with pytest.raises(DataError, match="needs stimulus_ids"):
        TrialData(X=X, subject="1", modality="meg").average_repetitions()


# ----------------------------------------------------------------------------- conversions
def _eeg() -> TrialData:
    rng = np.random.default_rng(3)
    names = ["Fz", "Cz", "Pz"]
    pos = np.array([[0.0, 0.06, 0.07], [0.0, 0.0, 0.09], [0.0, -0.06, 0.07]])
    return TrialData(
        X=rng.normal(0, 1e-5, (5, 3, 20)),
        subject="2",
        modality="eeg",
        y=np.array(["left", "right", "left", "rest", "right"]),
        metadata=pd.DataFrame({"block": [1, 1, 2, 2, 3]}),
        info=dict(sfreq=100.0, ch_names=names, ch_types=["eeg"] * 3, ch_pos=pos, tmin=-0.1),
    )


def test_epochs_round_trip():
    d = _eeg()
    epochs = d.to_epochs()
    assert epochs.event_id == {"left": 1, "right": 2, "rest": 3}
    np.testing.assert_array_equal(epochs.events[:, 2], [1, 2, 1, 3, 2])
    back = TrialData.from_epochs(epochs, subject="2")
    assert back.modality == "eeg" and back.subject == "2"
    np.testing.assert_array_equal(back.X, d.X)
    np.testing.assert_array_equal(back.y, d.y)
    assert back.info["sfreq"] == 100.0 and back.info["ch_names"] == ["Fz", "Cz", "Pz"]
    assert back.info["ch_types"] == ["eeg"] * 3
    np.testing.assert_allclose(back.info["ch_pos"], d.info["ch_pos"], atol=1e-12)
    assert back.info["tmin"] == pytest.approx(-0.1)
    assert back.metadata["block"].tolist() == [1, 1, 2, 2, 3]


@pytest.mark.parametrize(("modality", "ch_type"),
                         [("meg", "mag"), ("meg", "grad"), ("seeg", "seeg"), ("ecog", "ecog")])
def test_epochs_round_trip_keeps_sensor_positions(modality, ch_type):
    pos = np.array([[0.01, 0.02, 0.03], [0.04, -0.05, 0.06]])
    d = TrialData(X=np.ones((2, 2, 5)), subject="1", modality=modality,
                  info=dict(sfreq=200.0, ch_names=["A1", "A2"], ch_types=[ch_type] * 2,
                            ch_pos=pos))
    back = TrialData.from_epochs(d.to_epochs(), subject="1")
    assert back.modality == modality and back.info["ch_types"] == [ch_type] * 2
    np.testing.assert_allclose(back.info["ch_pos"], pos, atol=1e-12)


def test_from_epochs_label_map_and_missing_info():
    d = _eeg()
    back = TrialData.from_epochs(d.to_epochs(), subject="2",
                                 label_map={"left": 0, "right": 1, "rest": 2})
    assert back.y.tolist() == [0, 1, 0, 2, 1]
    del d.info["sfreq"]
    with pytest.raises(DataError, match="subject 2: info lacks 'sfreq'"):
        d.to_epochs()
    with pytest.raises(DataError, match="only sensor data"):
        _fmri().to_epochs()


def test_nifti_round_trip():
    mask = np.zeros((4, 5, 3), bool)
    mask[1:3, 1:4, 0:2] = True
    mask[3, 4, 2] = True
    affine = np.diag([2.0, 2.5, 3.0, 1.0])
    affine[:3, 3] = [-4, -5, 6]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((7, int(mask.sum()))).astype(np.float32)
    d = TrialData(X=X, subject="3", modality="fmri", info={"mask": mask, "affine": affine})
    img = d.to_nifti()
    assert img.shape == (4, 5, 3, 7)
    vol = img.get_fdata()
    np.testing.assert_array_equal(vol[3, 4, 2], X[:, -1])  # last voxel in C order
    assert not vol[~mask].any()
    back = TrialData.from_nifti(img, nib.Nifti1Image(mask.astype(np.uint8), affine), subject="3")
    np.testing.assert_array_equal(back.X, X)
    np.testing.assert_array_equal(back.info["mask"], mask)
    np.testing.assert_allclose(back.info["affine"], affine)
    i, j, k = np.argwhere(mask)[0]
    np.testing.assert_allclose(back.info["voxel_coords"][0], affine[:3, :3] @ [i, j, k]
                               + affine[:3, 3])


def test_to_nifti_mask_mismatch():
    mask = np.ones((2, 2, 2), bool)
    d = TrialData(X=np.zeros((3, 5)), subject="3", modality="fmri",
                  info={"mask": mask, "affine": np.eye(4)})
    with pytest.raises(DataError, match="subject 3: mask has 8 voxels, data has 5"):
        d.to_nifti()


# ----------------------------------------------------------------------------- stimuli
def test_stimulus_set_ids_unique_and_lengths():
    with pytest.raises(DataError, match="ids must be unique"):
        StimulusSet(ids=[1, 2, 1])
    with pytest.raises(DataError, match="captions has 1 entries for 2 ids"):
        StimulusSet(ids=[1, 2], captions=["one"])


def test_index_of_and_unknown_id():
    s = StimulusSet(ids=np.array([30, 10, 20]))
    np.testing.assert_array_equal(s.index_of([20, 30, 20]), [2, 0, 2])
    with pytest.raises(DataError, match="stimulus id 99 is not in the StimulusSet"):
        s.index_of([10, 99])


def test_lazy_image_paths_read_with_pillow_and_subset(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    paths = []
    for i, im in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(im).save(paths[-1])
    attrs = pd.DataFrame({"shape": ["a", "b", "c"]})
    s = StimulusSet(ids=np.array(["x", "y", "z"]), images=paths, captions=["c0", "c1", "c2"],
                    attributes=attrs)
    np.testing.assert_array_equal(s.get_images(), images)
    np.testing.assert_array_equal(s.get_images(["z", "x"]), images[[2, 0]])
    assert s.get_captions(["y"]) == ["c1"]
    sub = s.subset(["z", "y"])
    assert sub.ids.tolist() == ["z", "y"] and sub.images == [paths[2], paths[1]]
    assert sub.captions == ["c2", "c1"] and sub.attributes["shape"].tolist() == ["c", "b"]
    assert list(sub.attributes.index) == [0, 1]
    np.testing.assert_array_equal(sub.get_images(), images[[2, 1]])
    paths[0].unlink()
    with pytest.raises(DataError, match="0.png: image file not found"):
        s.get_images(["x"])


def test_in_memory_images_subset_and_missing_parts():
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    s = StimulusSet(ids=[5, 6], images=images)
    np.testing.assert_array_equal(s.subset([6]).get_images(), images[[1]])
    with pytest.raises(DataError, match="no captions"):
        s.get_captions()
    with pytest.raises(DataError, match="no images"):
        StimulusSet(ids=[5]).get_images()
