"""NSD-style HDF5 betas: round trips within int16 quantisation, lazy row reads, subsets,
ROI masks, NSD's own volume files and responses.tsv, and bad input."""

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neurodecode.data import DataError, TrialData
from neurodecode.data import nsd as nsd_mod
from neurodecode.data.fmri import fmri_info
from neurodecode.data.nsd import HDF5Betas, load_nsd_betas, write_nsd_betas

QUANTUM = 0.5 / 300 + 1e-6  # largest rounding error of int16 x 300


def _data(n=50, seed=0) -> TrialData:
    rng = np.random.default_rng(seed)
    mask = np.zeros((6, 6, 5), bool)
    mask[1:5, 1:5, 1:4] = True
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    sessions = np.tile([1, 2, 3], n)[:n]  # interleaved on purpose
    meta = pd.DataFrame(
        dict(session=sessions, split=np.where(np.arange(n) % 5 == 0, "test", "train"))
    )
    return TrialData(
        X=rng.normal(0, 2, (n, int(mask.sum()))).astype(np.float32),
        subject="01",
        modality="fmri",
        stimulus_ids=rng.integers(0, 20, n),
        y=rng.integers(0, 2, n),
        metadata=meta,
        info=fmri_info(mask, affine),
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    data = _data()
    out = tmp_path_factory.mktemp("nsd") / "subj01"
    return data, write_nsd_betas(data, out), out


def test_round_trip_grouped_by_session(written):
    data, paths, out = written
    assert [p.name for p in paths] == [
        "betas_session01.hdf5",
        "betas_session02.hdf5",
        "betas_session03.hdf5",
        "trials.tsv",
        "mask.nii.gz",
    ]
    with h5py.File(paths[0]) as handle:
        assert handle["betas"].dtype == np.int16 and handle["betas"].shape == (17, 48)
        assert handle.attrs["scale"] == 300
    back = load_nsd_betas(out, subject="01")
    order = np.argsort(data.metadata["session"].to_numpy(), kind="stable")
    assert isinstance(back.X, HDF5Betas) and back.X.shape == (50, 48)
    X = np.asarray(back.X)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X, data.X[order], atol=QUANTUM)
    np.testing.assert_array_equal(back.stimulus_ids, data.stimulus_ids[order])
    np.testing.assert_array_equal(back.y, data.y[order])
    meta = back.metadata
    assert list(meta.columns) == ["session", "trial", "repetition", "split"]
    assert meta["session"].tolist() == [1] * 17 + [2] * 17 + [3] * 16
    assert meta["trial"].tolist() == list(range(1, 18)) * 2 + list(range(1, 17))
    assert meta["split"].tolist() == data.metadata["split"].to_numpy()[order].tolist()
    # Repetition counts earlier presentations of the same stimulus, in stored order.
    ids = back.stimulus_ids
    assert meta["repetition"].tolist() == [int((ids[:i] == ids[i]).sum()) for i in range(50)]
    np.testing.assert_array_equal(back.info["mask"], data.info["mask"])
    np.testing.assert_allclose(back.info["voxel_coords"], data.info["voxel_coords"])


def test_subsets_read_only_requested_rows(written, monkeypatch):
    data, _, out = written
    full = np.asarray(load_nsd_betas(out, "01").X)
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        block = original(self, key)
        reads.append(block.shape[0])
        return block

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    lazy = load_nsd_betas(out, "01")
    assert reads == []  # loading reads no betas
    picked = lazy.select([40, 3, 3, 17, 18])
    np.testing.assert_array_equal(picked.X, full[[40, 3, 3, 17, 18]])
    assert sum(reads) == 4  # rows 3, 17, 18 and 40, each once
    np.testing.assert_array_equal(lazy.X[7], full[7])
    np.testing.assert_array_equal(lazy.X[2:5, 3], full[2:5, 3])
    reads.clear()
    sub = load_nsd_betas(out, "01", sessions=[2, 3], trials=[20, 0, 5])
    assert reads == [] and sub.X.shape == (3, 48)
    np.testing.assert_array_equal(np.asarray(sub.X), full[[37, 17, 22]])
    assert sub.metadata["session"].tolist() == [3, 2, 2]
    boolean = load_nsd_betas(out, "01", trials=np.arange(50) % 10 == 0)
    np.testing.assert_array_equal(np.asarray(boolean.X), full[::10])
    # TrialData operations work on the lazy array.
    avg = lazy.average_repetitions()
    assert avg.n_trials == len(np.unique(lazy.stimulus_ids))


def test_roi_mask_selects_columns(written, tmp_path):
    data, _, out = written
    roi = np.zeros((6, 6, 5), bool)
    roi[2:4, 1:5, 2] = True
    roi_path = tmp_path / "nsdgeneral.nii.gz"
    nib.save(nib.Nifti1Image(roi.astype(np.uint8), data.info["affine"]), roi_path)
    full = load_nsd_betas(out, "01")
    part = load_nsd_betas(out, "01", mask=roi_path)
    columns = roi[data.info["mask"]]
    np.testing.assert_array_equal(np.asarray(part.X), np.asarray(full.X)[:, columns])
    np.testing.assert_array_equal(part.info["mask"], roi)
    assert part.info["voxel_coords"].shape == (8, 3)
    outside = roi.copy()
    outside[0, 0, 0] = True
    nib.save(nib.Nifti1Image(outside.astype(np.uint8), data.info["affine"]), roi_path)
    with pytest.raises(DataError, match="1 voxels lie outside the stored mask"):
        load_nsd_betas(out, "01", mask=roi_path)
    nib.save(nib.Nifti1Image(roi.astype(np.uint8), np.eye(4)), roi_path)
    with pytest.raises(DataError, match="affine differs"):
        load_nsd_betas(out, "01", mask=roi_path)


def test_reads_nsd_volume_files_and_responses_tsv(tmp_path):
    """NSD's own layout: /betas int16 (750, Z, Y, X) per session and responses.tsv."""
    rng = np.random.default_rng(2)
    shape, n = (5, 4, 3), 6  # X, Y, Z
    vols = {s: rng.integers(-3000, 3000, (n, *shape)).astype(np.int16) for s in (1, 2)}
    for s, vol in vols.items():
        with h5py.File(tmp_path / f"betas_session{s:02d}.hdf5", "w") as handle:
            # MATLAB's X, Y, Z, trial as h5py sees it; session 1 chunked per voxel like NSD.
            chunks = (n, 1, 1, 1) if s == 1 else None
            handle.create_dataset("betas", data=vol.transpose(0, 3, 2, 1), chunks=chunks)
    responses = pd.DataFrame(
        {
            "SUBJECT": 1,
            "SESSION": np.repeat([1, 2], n),
            "RUN": np.repeat([1, 2, 3, 4], 3),
            "TRIAL": np.tile([1, 2, 3], 4),
            "73KID": rng.integers(1, 73001, 2 * n),
            "ISOLD": 0,
        }
    )
    responses.to_csv(tmp_path / "responses.tsv", sep="\t", index=False)
    roi = rng.random(shape) > 0.5
    roi_path = tmp_path / "nsdgeneral.nii.gz"
    nib.save(nib.Nifti1Image(roi.astype(np.int16), np.eye(4)), roi_path)
    data = load_nsd_betas(tmp_path, "1", mask=roi_path, trial_table=tmp_path / "responses.tsv")
    expected = np.concatenate([vols[1][:, roi], vols[2][:, roi]]) / 300
    np.testing.assert_allclose(np.asarray(data.X), expected, rtol=1e-6)
    np.testing.assert_array_equal(data.stimulus_ids, responses["73KID"])
    assert data.metadata["trial"].tolist() == list(range(1, 7)) * 2
    assert {"session", "run", "isold", "repetition"} <= set(data.metadata.columns)
    picked = data.select([8, 1, 1, 11])  # both sessions, a repeated row
    np.testing.assert_allclose(picked.X, expected[[8, 1, 1, 11]], rtol=1e-6)
    one = load_nsd_betas(
        tmp_path / "betas_session02.hdf5",
        "1",
        mask=roi_path,
        trial_table=tmp_path / "responses.tsv",
        trials=[4],
    )
    np.testing.assert_allclose(np.asarray(one.X), vols[2][4][roi][None] / 300, rtol=1e-6)
    with pytest.raises(DataError, match="volume betas need mask="):
        load_nsd_betas(tmp_path, "1", trial_table=tmp_path / "responses.tsv")
    nib.save(nib.Nifti1Image(np.ones((3, 4, 5), np.uint8), np.eye(4)), roi_path)
    with pytest.raises(DataError, match=r"mask shape \(3, 4, 5\) does not match"):
        load_nsd_betas(tmp_path, "1", mask=roi_path, trial_table=tmp_path / "responses.tsv")


# ---------------------------------------------------------------------------- bad input
def test_table_length_must_match_rows(written, tmp_path):
    _, paths, out = written
    table = pd.read_csv(out / "trials.tsv", sep="\t")
    short = tmp_path / "short_trials.tsv"
    table.drop(index=5).to_csv(short, sep="\t", index=False)
    with pytest.raises(
        DataError, match=r"short_trials.tsv: lists 16 trials for session 1 but .*01.hdf5 has 17"
    ):
        load_nsd_betas(out, "01", trial_table=short)
    with pytest.raises(DataError, match="holds subject '01', not '02'"):
        load_nsd_betas(out, "02")
    with pytest.raises(DataError, match=r"no files for session\(s\) \[7\]"):
        load_nsd_betas(out, "01", sessions=[7])
    with pytest.raises(DataError, match="nowhere: betas folder not found"):
        load_nsd_betas(tmp_path / "nowhere", "01")
    with pytest.raises(DataError, match="no betas_sessionNN.hdf5 files"):
        load_nsd_betas(tmp_path, "01")
    with pytest.raises(DataError, match="betas_session09.hdf5: HDF5 betas file not found"):
        load_nsd_betas([out / "betas_session09.hdf5"], "01")
    with pytest.raises(DataError, match="trial positions must be in 0..49"):
        load_nsd_betas(out, "01", trials=[50])


def test_bad_files(tmp_path):
    data = _data(12)
    out = tmp_path / "subj"
    write_nsd_betas(data, out)
    (out / "betas_session02.hdf5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="betas_session02.hdf5: not a readable HDF5 file"):
        load_nsd_betas(out, "01")
    with h5py.File(out / "betas_session02.hdf5", "w") as handle:
        handle["other"] = np.zeros((4, 48), np.int16)
    with pytest.raises(DataError, match="betas_session02.hdf5: no '/betas' dataset"):
        load_nsd_betas(out, "01")
    with h5py.File(out / "betas_session02.hdf5", "w") as handle:
        handle["betas"] = np.zeros((4, 47), np.int16)
    with pytest.raises(DataError, match="session files disagree on voxels"):
        load_nsd_betas(out, "01")
    with h5py.File(out / "betas_session02.hdf5", "w") as handle:
        handle["betas"] = np.full((4, 48), np.nan, np.float32)
    lazy = load_nsd_betas(out, "01")
    with pytest.raises(DataError, match="betas_session02.hdf5: NaN/inf betas"):
        np.asarray(lazy.X)
    (out / "mask.nii.gz").unlink()
    with pytest.raises(DataError, match="no mask.nii.gz; pass mask="):
        load_nsd_betas(out, "01")


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_failed_writes_leave_nothing(tmp_path):
    data = _data(30)
    X = data.X.copy()
    X[-1, 0] = 200.0  # 200 x 300 overflows int16, found in the last session
    with pytest.raises(DataError, match=r"exceeds the int16 range at scale 300 .*smaller scale"):
        write_nsd_betas(TrialData(**{**data.__dict__, "X": X}), tmp_path / "a")
    assert _files(tmp_path / "a") == []
    X[-1, 0] = np.nan
    with pytest.raises(DataError, match="non-finite values"):  # refused by TrialData itself
        TrialData(**{**data.__dict__, "X": X})
    bad = TrialData(**data.__dict__)
    bad.X = X  # changed after validation: the writer checks again
    with pytest.raises(DataError, match="NaN/inf betas in session"):
        write_nsd_betas(bad, tmp_path / "b")
    assert _files(tmp_path / "b") == []
    # A smaller scale stores the large value.
    X[-1, 0] = 200.0
    write_nsd_betas(TrialData(**{**data.__dict__, "X": X}), tmp_path / "c", scale=100)
    back = np.asarray(load_nsd_betas(tmp_path / "c", "01").X)
    assert np.isclose(back.max(), 200.0)
    # Stale session files from another write are refused.
    single = TrialData(**{**data.__dict__, "metadata": data.metadata.assign(session=1)})
    with pytest.raises(DataError, match="holds other session files"):
        write_nsd_betas(single, tmp_path / "c")
    assert _files(tmp_path / "c") == [
        "betas_session01.hdf5",
        "betas_session02.hdf5",
        "betas_session03.hdf5",
        "mask.nii.gz",
        "trials.tsv",
    ]


def test_sessions_from_trials_per_session(tmp_path):
    data = _data(10)
    data.metadata = data.metadata.drop(columns="session")
    paths = write_nsd_betas(data, tmp_path, trials_per_session=4)
    assert [p.name for p in paths[:3]] == [nsd_mod.session_file(s) for s in (1, 2, 3)]
    back = load_nsd_betas(tmp_path, "01")
    assert back.metadata["session"].tolist() == [1] * 4 + [2] * 4 + [3] * 2
    np.testing.assert_allclose(np.asarray(back.X), data.X, atol=QUANTUM)
