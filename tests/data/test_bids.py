"""BIDS through MNE-BIDS: synthetic EEG and the real MNE sample MEG, staged writes."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from neurodecode.data import DataError, load_bids_epochs

pytest.importorskip("mne_bids", reason="mne-bids is an optional dependency (extra 'bids')")

from neurodecode.data.bids import write_bids  # noqa: E402

SFREQ = 250.0
ONSETS = np.array([1.0, 2.5, 4.0, 6.0])
LABELS = ["left", "right", "left", "right"]


def _eeg(seed: int = 0, annotate: bool = True):
    rng = np.random.default_rng(seed)
    info = mne.create_info(["C3", "C4", "Cz", "Fz"], SFREQ, "eeg")
    raw = mne.io.RawArray(rng.normal(size=(4, int(8 * SFREQ))) * 2e-5, info, verbose="error")
    raw.info["line_freq"] = 50.0
    if annotate:
        raw.set_annotations(mne.Annotations(ONSETS, np.zeros(4), LABELS))
    return raw


def _snapshot(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_eeg_round_trip(tmp_path):
    raw = _eeg()
    out = write_bids(raw, tmp_path, "01", "mi")
    assert out == tmp_path / "sub-01" / "eeg" / "sub-01_task-mi_eeg.vhdr" and out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staging removed
    td = load_bids_epochs(tmp_path, "01", "mi", tmin=-0.1, tmax=0.4)
    start = np.round((ONSETS - 0.1) * SFREQ).astype(int)
    n = int(round(0.5 * SFREQ)) + 1
    expected = np.stack([raw.get_data()[:, s : s + n] for s in start])
    assert td.X.shape == expected.shape == (4, 4, n)
    np.testing.assert_allclose(td.X, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    assert list(td.y) == LABELS and td.modality == "eeg" and td.subject == "01"
    only_left = load_bids_epochs(tmp_path, "01", "mi", event_id={"left": 1}, tmin=0, tmax=0.1)
    assert only_left.n_trials == 2


def test_events_array_and_second_subject(tmp_path):
    write_bids(_eeg(seed=0), tmp_path, "01", "mi")
    first = _snapshot(tmp_path / "sub-01")
    events = np.column_stack([np.round(ONSETS * SFREQ).astype(int), np.zeros(4, int), [1, 2, 1, 2]])
    write_bids(
        _eeg(seed=1, annotate=False),
        tmp_path,
        "02",
        "mi",
        session="a",
        events=events,
        event_id={"left": 1, "right": 2},
    )
    assert _snapshot(tmp_path / "sub-01") == first
    participants = pd.read_csv(tmp_path / "participants.tsv", sep="\t")
    assert sorted(participants["participant_id"]) == ["sub-01", "sub-02"]
    td = load_bids_epochs(tmp_path, "02", "mi", session="a", tmin=0.0, tmax=0.2)
    assert list(td.y) == LABELS
    s = int(ONSETS[1] * SFREQ)
    np.testing.assert_allclose(td.X[1], _eeg(seed=1).get_data()[:, s : s + 51], rtol=0, atol=1e-10)


def test_existing_recording_is_not_replaced(tmp_path):
    write_bids(_eeg(seed=0), tmp_path, "01", "mi")
    before = _snapshot(tmp_path)
    with pytest.raises(DataError, match="already exists.*overwrite=True"):
        write_bids(_eeg(seed=1), tmp_path, "01", "mi")
    assert _snapshot(tmp_path) == before
    write_bids(_eeg(seed=1), tmp_path, "01", "mi", overwrite=True)
    td = load_bids_epochs(tmp_path, "01", "mi", tmin=0.0, tmax=0.1)
    s = int(ONSETS[0] * SFREQ)
    np.testing.assert_allclose(td.X[0], _eeg(seed=1).get_data()[:, s : s + 26], atol=1e-10)


def test_failed_write_leaves_the_dataset_untouched(tmp_path):
    write_bids(_eeg(), tmp_path, "01", "mi")
    before = _snapshot(tmp_path)
    events = np.array([[250, 0, 1]])
    with pytest.raises(DataError, match="MNE-BIDS could not write sub-02"):
        write_bids(_eeg(annotate=False), tmp_path, "02", "mi", events=events)  # no event_id
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_bad_input_names_the_place(tmp_path):
    with pytest.raises(DataError, match="nowhere.*not found"):
        load_bids_epochs(tmp_path / "nowhere", "01", "mi")
    write_bids(_eeg(), tmp_path, "01", "mi")
    with pytest.raises(DataError, match="sub-07.*no such subject"):
        load_bids_epochs(tmp_path, "07", "mi")
    with pytest.raises(DataError, match=r"sub-01_task-rest.*cannot read"):
        load_bids_epochs(tmp_path, "01", "rest")
    with pytest.raises(DataError, match=r"sub-01_task-mi_eeg.vhdr.*\['up'\]"):
        load_bids_epochs(tmp_path, "01", "mi", event_id={"up": 3})
    with pytest.raises(DataError, match=r"sub-01_task-mi_eeg.vhdr.*250 Hz, expected 500 Hz"):
        load_bids_epochs(tmp_path, "01", "mi", expected_sfreq=500.0)


def test_seeg_goes_to_ieeg(tmp_path):
    info = mne.create_info(["A1", "A2", "B1"], 256.0, "seeg")
    data = np.random.default_rng(3).normal(size=(3, 1024)) * 1e-4
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 2.0], [0, 0], ["word", "word"]))
    out = write_bids(raw, tmp_path, "01", "movie")
    assert out.parent.name == "ieeg"
    td = load_bids_epochs(tmp_path, "01", "movie", tmin=0.0, tmax=0.5)
    assert td.modality == "seeg" and set(td.info["ch_types"]) == {"seeg"}
    np.testing.assert_allclose(td.X[1], data[:, 512:641], rtol=0, atol=1e-10)


def test_real_sample_meg_round_trip(mne_sample_dir, tmp_path):
    path = mne_sample_dir / "sample_audvis_trunc_raw_sss.fif"
    raw = mne.io.read_raw_fif(path, verbose="error")
    out = write_bids(raw, tmp_path, "sample", "audvis")
    assert out.name == "sub-sample_task-audvis_meg.fif"
    events = np.array([[12960, 0, 1], [13100, 0, 3]])
    td = load_bids_epochs(
        tmp_path,
        "sample",
        "audvis",
        events=events,
        event_id={"auditory/left": 1, "visual/left": 3},
        tmin=-0.1,
        tmax=0.2,
    )
    assert td.modality == "meg" and td.X.shape[:2] == (2, 366)
    start = 12960 - raw.first_samp - 30
    np.testing.assert_array_equal(td.X[0], raw.get_data(picks="data")[:, start : start + 91])
