"""open_dataset: one front door. Synthetic worlds by name, folders by layout (NSD as released,
the bring-your-own format, world folders), cards' loaders through an allow-list, one Dataset
type; every value checked against what was written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from layouts import AFFINE, own_dataset, write_nsd

from neurodecode.data import DataError, Dataset
from neurodecode.data.folder import check_trial_folder, write_trial_folder
from neurodecode.data.nsd import SCALE, read_nsd_expdesign
from neurodecode.datasets import OPENERS, detect_layout, open_dataset


# ------------------------------------------------------------------------------- worlds
def test_synthetic_world_is_a_dataset_with_card_and_truth():
    ds = open_dataset("synthetic-rsa", seed=0)
    assert isinstance(ds, Dataset) and ds.is_synthetic and ds.truth
    assert ds.card["name"] == "synthetic-rsa" and ds.source is None
    again = open_dataset("Synthetic-RSA", subjects=[2], seed=0)  # card names ignore case
    assert list(again) == ["02"]
    np.testing.assert_array_equal(np.asarray(again[2].X), np.asarray(ds["02"].X))


def test_world_folder_reads_back_what_make_built(tmp_path):
    from neurodecode import synth

    synth.write("synthetic-rsa", tmp_path / "w", seed=1)
    ds = open_dataset(tmp_path / "w")
    built = synth.make("synthetic-rsa", seed=1)
    assert ds.source == str(tmp_path / "w") and ds.card["name"] == "synthetic-rsa"
    np.testing.assert_allclose(np.asarray(ds[1].X), np.asarray(built[1].X),
                               rtol=1e-5, atol=1e-6)


def test_unknown_names_and_layouts_say_what_is_known(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'nope'; known datasets: .*NSD"):
        open_dataset("nope")
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="not a layout neurodecode knows.*dataset.yaml"):
        open_dataset(tmp_path / "x")
    with pytest.raises(DataError, match="NSD is not downloaded by neurodecode.*path="):
        open_dataset("nsd")
    with pytest.raises(DataError, match=r"subjects \['9'\] not found"):
        open_dataset("synthetic-rsa", subjects=[9])


def test_card_loader_must_be_on_the_allow_list(monkeypatch):
    from neurodecode import datasets
    from neurodecode.data import cards

    card = dict(cards.get_card("synthetic-rsa"), loader="os.system")
    monkeypatch.setattr(cards, "get_card", lambda name, directory=None: card)
    with pytest.raises(DataError, match="'os.system' is not on the allow-list"):
        datasets.open_dataset("synthetic-rsa")
    # every card in the repository names an allowed loader
    assert {c["loader"] for c in cards.list_cards()} <= set(OPENERS)


# ------------------------------------------------------------------------------- NSD
@pytest.mark.parametrize("fmt", ["hdf5", "nifti"])
def test_nsd_layout_betas_design_rois_and_lazy_images(tmp_path, fmt):
    world = write_nsd(tmp_path / "nsd", fmt=fmt)
    assert detect_layout(tmp_path / "nsd") == "nsd"
    ds = open_dataset(tmp_path / "nsd")
    assert ds.card["name"] == "NSD" and list(ds) == ["1"]
    sub = ds["1"]
    roi = world["roi"] > 0
    assert sub.n_features == int(roi.sum()) == 12  # -1 (outside the brain) is not the ROI
    expected = np.rint(world["vols"] * SCALE)[roi].T / SCALE  # (trials, voxels), int16 / 300
    np.testing.assert_allclose(np.asarray(sub.X), expected, atol=1e-6)
    # trial table from nsd_expdesign.mat: 73k ids, shared-1000 split, repetitions
    np.testing.assert_array_equal(sub.stimulus_ids, world["ids"])
    shared = set(world["sharedix"].tolist())
    assert (sub.metadata["split"] == "test").sum() == 30  # 10 shared images x 3
    assert all((s == "test") == (i in shared) for s, i in zip(sub.metadata["split"],
                                                             sub.stimulus_ids, strict=True))
    for i in shared:
        assert sorted(sub.metadata["repetition"][sub.stimulus_ids == i]) == [0, 1, 2]
    assert list(sub.metadata["session"].unique()) == [1, 2]
    np.testing.assert_allclose(sub.info["affine"], AFFINE)
    # stimuli: only what this subject saw, read lazily from nsd_stimuli.hdf5 (row = id - 1)
    assert len(ds.stimuli) == 40 and not isinstance(ds.stimuli.images, np.ndarray)
    pick = sub.stimulus_ids[[5, 0, 5]]
    np.testing.assert_array_equal(ds.stimuli.get_images(pick), world["images"][pick - 1])
    small = ds.stimuli.subset(pick[:2])
    np.testing.assert_array_equal(small.get_images(), world["images"][pick[:2] - 1])


def test_nsd_reads_only_the_selected_sessions_and_rows(tmp_path):
    world = write_nsd(tmp_path / "nsd", fmt="nifti")
    folder = next((tmp_path / "nsd").rglob("betas_fithrf_GLMdenoise_RR"))
    session1 = folder / "betas_session01.nii.gz"
    ds = open_dataset(tmp_path / "nsd", sessions=[2])
    sub = ds["1"]
    assert sub.n_trials == 30 and set(sub.metadata["session"]) == {2}
    session1.write_bytes(b"not a NIfTI any more")  # never opened: session 2 only
    rows = sub.select([3, 1]).X
    expected = np.rint(world["vols"][..., 30:] * SCALE)[world["roi"] > 0].T / SCALE
    np.testing.assert_allclose(rows, expected[[3, 1]], atol=1e-6)
    # a cut session file is named when its rows are read
    session2 = folder / "betas_session02.nii.gz"
    session2.write_bytes(session2.read_bytes()[:300])
    with pytest.raises(DataError, match="betas_session02.nii.gz"):
        np.asarray(sub.X)


def test_nsd_expdesign_is_a_matlab_file_with_the_three_variables(tmp_path):
    world = write_nsd(tmp_path / "nsd")
    design = read_nsd_expdesign(tmp_path / "nsd/nsddata/experiments/nsd/nsd_expdesign.mat")
    np.testing.assert_array_equal(design["masterordering"].ravel(), world["masterordering"])
    np.testing.assert_array_equal(design["subjectim"], world["subjectim"])
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataError, match="bad.mat"):
        read_nsd_expdesign(tmp_path / "bad.mat")


# ------------------------------------------------------------------------------- own format
@pytest.mark.parametrize("modality", ["fmri", "eeg", "fc"])
def test_own_folder_round_trip(tmp_path, modality):
    original = own_dataset(modality)
    write_trial_folder(original, tmp_path / "mine")
    assert check_trial_folder(tmp_path / "mine") == []
    ds = open_dataset(tmp_path / "mine")
    assert ds.name == original.name and list(ds) == list(original)
    for s, d in original.items():
        got = ds[s]
        assert got.modality == d.modality
        np.testing.assert_allclose(np.asarray(got.X), np.asarray(d.X), rtol=1e-6, atol=1e-12)
        if d.y is not None:
            assert list(got.y) == list(d.y)
        if d.stimulus_ids is not None:
            np.testing.assert_array_equal(got.stimulus_ids, d.stimulus_ids)
        for col in d.metadata:
            assert list(got.metadata[col]) == list(d.metadata[col]), col
    if original.stimuli is not None:
        np.testing.assert_array_equal(ds.stimuli.get_images(), original.stimuli.get_images())
        assert ds.stimuli.captions == original.stimuli.captions


def test_check_lists_every_problem(tmp_path):
    write_trial_folder(own_dataset("fmri"), tmp_path / "mine")
    root = tmp_path / "mine"
    (root / "sub-1" / "trials.tsv").write_text(
        (root / "sub-1" / "trials.tsv").read_text().replace("\ttest\t", "\tvalidation\t", 1))
    (root / "sub-2" / "betas.npy").unlink()
    np.save(root / "sub-2" / "betas.npy", np.zeros((3, 30), np.float32))
    (next((root / "stimuli").glob("*.png"))).unlink()
    problems = check_trial_folder(root)
    text = "\n".join(problems)
    assert "split must be train or test, found ['validation']" in text
    assert "sub-2/trials.tsv: 30 trial rows for 3 trials in betas.npy" in text
    assert "1 image files listed in stimuli.tsv are missing" in text
    with pytest.raises(DataError, match="not a valid neurodecode data folder"):
        open_dataset(root)
    shutil.rmtree(root / "sub-1")
    (root / "sub-1").mkdir()
    assert any("needs exactly one data file" in p for p in check_trial_folder(root))


def test_writer_refuses_to_overwrite(tmp_path):
    write_trial_folder(own_dataset("fmri", n_subjects=1), tmp_path / "mine")
    with pytest.raises(DataError, match="already holds a data folder"):
        write_trial_folder(own_dataset("fmri", n_subjects=1), tmp_path / "mine")


def test_real_fif_to_own_folder_keeps_mne_info(mne_sample_dir, tmp_path):
    from neurodecode.data.sensors import load_raw_epochs

    events = np.array([[12960, 0, 1], [13100, 0, 3]])
    td = load_raw_epochs(mne_sample_dir / "sample_audvis_trunc_raw_sss.fif", "sample",
                         events=events, event_id={"a": 1, "v": 3}, tmin=-0.1, tmax=0.2)
    write_trial_folder(Dataset("sample", {"sample": td}), tmp_path / "meg")
    back = open_dataset(tmp_path / "meg")["sample"]
    ref = td.to_epochs().info
    got = back.to_epochs().info
    assert got["dev_head_t"] is not None and len(got["dig"]) == len(ref["dig"])
    np.testing.assert_allclose(np.array([c["loc"] for c in got["chs"]]),
                               np.array([c["loc"] for c in ref["chs"]]))
    assert list(back.y) == ["a", "v"]


# ------------------------------------------------------------------------------- MOABB
@pytest.mark.slow
def test_moabb_dataset_opens_offline_from_the_mne_data_cache(tmp_path, monkeypatch):
    """PhysionetMI subject 1 (real EDF files) through MOABB's own reader, no network."""
    from collections import Counter

    import mne

    source = Path(__file__).resolve().parents[3] / "shared" / "data" / "eegmmidb_S001_imagery"
    if not source.is_dir():
        pytest.skip(f"real PhysioNet EEG not found at {source}")
    cache = tmp_path / "mne_data" / "MNE-eegbci-data/files/eegmmidb/1.0.0/S001"
    cache.mkdir(parents=True)
    for f in source.glob("S001R*.edf*"):
        shutil.copy(f, cache / f.name)
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")
    ds = open_dataset("PhysionetMI", subjects=[1], imagined=True, executed=False)
    assert ds.card["name"] == "PhysionetMI"
    d = ds["1"]
    assert d.X.shape[1:] == (64, 481) and d.info["sfreq"] == 160.0  # 0-3 s at 160 Hz
    # every imagery cue of the EDF annotations is an epoch (T1/T2 by run), none invented
    expected = Counter()
    for run, (t1, t2) in {4: ("left_hand", "right_hand"), 6: ("hands", "feet")}.items():
        for r in (run, run + 4, run + 8):
            for desc in mne.read_annotations(source / f"S001R{r:02d}.edf").description:
                expected[{"T1": t1, "T2": t2}.get(desc, "rest")] += 1
    got = Counter(d.y.tolist())
    assert {k: got[k] for k in ("left_hand", "right_hand", "hands", "feet")} == {
        k: expected[k] for k in ("left_hand", "right_hand", "hands", "feet")}
    assert expected["rest"] - got["rest"] == 6  # each run's last rest runs past the end
    assert d.mne_info()["meas_date"] is not None and len(d.metadata["run"].unique()) == 6
    # a subject missing from the cache is refused, not downloaded (unless asked for)
    monkeypatch.delenv("NEURODECODE_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(DataError, match="would download this dataset.*S002"):
        open_dataset("PhysionetMI", subjects=[2], imagined=True, executed=False)


# ------------------------------------------------------------------------------- other layouts
def test_bids_folder_through_mne_bids(tmp_path):
    pytest.importorskip("mne_bids")
    import mne

    from neurodecode.data.bids import write_bids

    rng = np.random.default_rng(0)
    for s in ("01", "02"):
        raw = mne.io.RawArray(rng.normal(size=(3, 2000)) * 1e-5,
                              mne.create_info(["C3", "C4", "Cz"], 250.0, "eeg"), verbose="error")
        raw.info["line_freq"] = 50.0
        raw.set_annotations(mne.Annotations([1.0, 3.0, 5.0], [0, 0, 0], ["a", "b", "a"]))
        write_bids(raw, tmp_path / "bids", s, "mi")
    assert detect_layout(tmp_path / "bids") == "bids"
    with pytest.raises(DataError, match="needs task="):
        open_dataset(tmp_path / "bids")
    ds = open_dataset(tmp_path / "bids", task="mi", tmin=0.0, tmax=0.5)
    assert list(ds) == ["01", "02"] and [list(d.y) for d in ds.values()] == [["a", "b", "a"]] * 2
    assert ds["02"].X.shape == (3, 3, 126) and ds.params["task"] == "mi"


@pytest.mark.slow
def test_brain_treebank_and_abide_style_folders(tmp_path):
    from neurodecode import synth
    from neurodecode.data.connectivity import load_roi_connectivity
    from neurodecode.data.treebank import load_brain_treebank

    synth.write("synthetic-seeg-movie", tmp_path / "tb", n_subjects=1, seed=0)
    (tmp_path / "tb" / "world.json").unlink()  # the layout alone, as released
    assert detect_layout(tmp_path / "tb") == "treebank"
    with pytest.raises(DataError, match="needs session="):
        open_dataset(tmp_path / "tb")
    events = np.array([2.0, 4.5, 7.0])
    ds = open_dataset(tmp_path / "tb", session=1, events=events, tmin=-0.1, tmax=0.2)
    ref = load_brain_treebank(tmp_path / "tb", "1", 1, events, tmin=-0.1, tmax=0.2)
    assert ds.card["name"] == "Brain Treebank" and list(ds) == ["1"]
    np.testing.assert_array_equal(np.asarray(ds["1"].X), np.asarray(ref.X))

    synth.write("synthetic-fc-demographics", tmp_path / "fc", seed=0)
    (tmp_path / "fc" / "world.json").unlink()
    assert detect_layout(tmp_path / "fc") == "roi"
    with pytest.raises(DataError, match="no column 'FILE_ID'.*participant_id"):
        open_dataset(tmp_path / "fc")
    ds = open_dataset(tmp_path / "fc", id_column="participant_id", zero_variance="drop")
    ref = load_roi_connectivity(tmp_path / "fc", tmp_path / "fc" / "phenotypic.csv", "synth",
                                id_column="participant_id", zero_variance="drop")
    assert ds.card["name"] == "ABIDE (PCP)" and ds.params["atlas"] == "synth"
    np.testing.assert_array_equal(ds["group"].X, ref.X)


@pytest.mark.parametrize("fmt", ["hdf5", "nifti"])
def test_nsd_memory_follows_the_selection(tmp_path, fmt):
    """Reading 3 of 120 trials allocates a small fraction of the session (tracemalloc)."""
    import tracemalloc

    from neurodecode.data.nsd import write_nsd_layout

    rng = np.random.default_rng(0)
    shape, n = (30, 30, 20), 120
    write_nsd_layout(tmp_path, {1: [rng.normal(size=(*shape, n)).astype(np.float32)]},
                     np.eye(4), np.ones(shape, np.int16), np.zeros((n, 4, 4, 3), np.uint8),
                     np.arange(1, n + 1), np.tile(np.arange(1, n + 1), (8, 1)),
                     np.arange(1, 11), fmt=fmt)
    sub = open_dataset(tmp_path)["1"]
    full = n * int(np.prod(shape)) * 4  # the session as float32
    tracemalloc.start()
    rows = sub.select([5, 100, 17]).X
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows.shape == (3, int(np.prod(shape)))
    assert peak < 0.1 * full, (peak, full)


def test_nsd_style_folder_of_one_subject(tmp_path):
    """A folder written by write_nsd_betas (our NSD-style layout) opens by path and by card."""
    from neurodecode.data.nsd import write_nsd_betas

    d = own_dataset("fmri", n_subjects=1)["1"]
    mask = np.zeros((5, 3, 2), bool)
    mask.ravel()[:30] = True
    d.info = {"mask": mask, "affine": np.eye(4)}
    write_nsd_betas(d, tmp_path / "sub-1")
    assert detect_layout(tmp_path / "sub-1") == "nsd"
    by_path = open_dataset(tmp_path / "sub-1", subject="1")["1"]
    by_card = open_dataset("NSD", path=tmp_path / "sub-1", subjects=["1"])["1"]
    for got in (by_path, by_card):
        np.testing.assert_allclose(np.asarray(got.X), np.rint(d.X * SCALE) / SCALE, atol=1e-6)
        np.testing.assert_array_equal(got.stimulus_ids, d.stimulus_ids)


def test_writer_keeps_only_shown_stimuli_and_prefers_the_fields(tmp_path):
    ds = own_dataset("fmri", n_subjects=1)
    d = ds["1"]
    d.metadata["stimulus_id"] = -1  # a stale column of the same name: the field wins
    keep = d.stimulus_ids != d.stimulus_ids[0]
    ds = Dataset(ds.name, {"1": d.select(keep)}, stimuli=ds.stimuli)
    write_trial_folder(ds, tmp_path / "mine")
    back = open_dataset(tmp_path / "mine")
    np.testing.assert_array_equal(back["1"].stimulus_ids, d.stimulus_ids[keep])
    assert sorted(back.stimuli.ids) == sorted(set(d.stimulus_ids[keep].tolist()))
    assert len(back.stimuli) == len(ds.stimuli) - 1


def test_a_raw_file_opens_as_one_subject(mne_sample_dir):
    from neurodecode.data.sensors import load_raw_epochs

    path = mne_sample_dir / "sample_audvis_trunc_raw_sss.fif"
    events = np.array([[12960, 0, 1], [13100, 0, 3]])
    kw = dict(events=events, event_id={"a": 1, "v": 3}, tmin=-0.1, tmax=0.2)
    assert detect_layout(path) == "raw"
    ds = open_dataset(path, subjects=["sample"], **kw)
    ref = load_raw_epochs(path, "sample", **kw)
    assert list(ds) == ["sample"] and ds.source == str(path)
    np.testing.assert_array_equal(ds["sample"].X, ref.X)
    with pytest.raises(DataError, match="unexpected keyword argument 'nope'"):
        open_dataset(path, nope=1)
