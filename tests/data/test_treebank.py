"""Brain Treebank layout: round trip, pause-aware alignment, bad input."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from neurodecode.data import DataError, load_brain_treebank
from neurodecode.data.treebank import movie_to_sample, session_paths, write_brain_treebank

SFREQ = 128.0
N_SAMPLES = 1200
LABELS = ["LA1", "LA2", "RH1"]
POS = np.array([[0.01, 0.02, 0.03], [0.012, 0.02, 0.03], [-0.03, 0.01, 0.02]])
# Movie plays 0..3 s from sample 64, pauses for 2 s at movie time 3.0 (sample 448),
# resumes at sample 704 and plays to 6 s (sample 1088).
START, PAUSE_AT, RESUME = 64, 448, 704


def true_sample(t: float) -> float:
    return START + t * SFREQ if t <= 3.0 else RESUME + (t - 3.0) * SFREQ


def _triggers(marked: bool = True, resume_row: bool = False) -> pd.DataFrame:
    before = np.arange(0.0, 3.01, 0.5)
    after = np.arange(3.5, 6.01, 0.5)
    rows = [(t, true_sample(t), "trigger") for t in before]
    rows[-1] = (3.0, PAUSE_AT, "pause" if marked else "trigger")
    if resume_row:
        rows.append((3.0, RESUME, "resume"))
    rows += [(t, true_sample(t), "trigger") for t in after]
    table = pd.DataFrame(rows, columns=["movie_time", "index", "type"])
    table["index"] = table["index"].astype(int)
    return table if marked else table.drop(columns="type")


def _data(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(len(LABELS), N_SAMPLES)) * 1e-5  # volts


@pytest.fixture
def session(tmp_path):
    data = _data()
    files = write_brain_treebank(
        tmp_path, 0, data, SFREQ, LABELS, _triggers(), ch_pos=POS, subject=3
    )
    return tmp_path, data, files


def test_layout_files(session):
    root, _, files = session
    paths = session_paths(root, 3, 0)
    assert sorted(files) == sorted(paths.values())
    assert paths["h5"].name == "sub_3_trial000.h5"
    assert json.loads(paths["labels"].read_text()) == LABELS
    with h5py.File(paths["h5"]) as f:
        assert sorted(f["data"]) == ["electrode_0", "electrode_1", "electrode_2"]
        assert f["data"].attrs["sfreq"] == SFREQ
    assert list(pd.read_csv(paths["triggers"]).columns) == ["movie_time", "index", "type"]
    assert not [p for p in root.rglob(".*")]  # no temporary files


def test_round_trip_and_pause_alignment(session):
    root, data, _ = session
    times = np.array([1.0, 2.75, 3.25, 5.0, 6.25])  # 3.25 and later: after the pause
    td = load_brain_treebank(root, 3, 0, times, tmin=-0.25, tmax=0.5)
    expected_samples = np.array([true_sample(t) for t in times])
    np.testing.assert_array_equal(td.metadata["sample"], np.round(expected_samples))
    n_times = int(round(0.75 * SFREQ)) + 1
    assert td.X.shape == (5, 3, n_times) and td.modality == "seeg"
    for k, s in enumerate(np.round(expected_samples).astype(int)):
        np.testing.assert_array_equal(td.X[k], data[:, s - 32 : s - 32 + n_times])
    assert td.info["ch_names"] == LABELS and set(td.info["ch_types"]) == {"seeg"}
    assert td.info["sfreq"] == SFREQ and td.info["tmin"] == pytest.approx(-0.25)
    np.testing.assert_allclose(td.info["ch_pos"], POS, atol=1e-7)
    # Ignoring the pause (one line through the triggers before it) lands 2 s too early.
    naive = PAUSE_AT + 0.25 * SFREQ
    assert abs(td.metadata["sample"][2] - naive) == 2 * SFREQ


def test_sparse_windows_read_one_by_one_give_the_same_data(session):
    root, data, _ = session
    td = load_brain_treebank(root, 3, 0, [0.5, 5.5], tmin=0.0, tmax=0.05)  # 7 of ~900 samples
    for k, t in enumerate([0.5, 5.5]):
        s = int(true_sample(t))
        np.testing.assert_array_equal(td.X[k], data[:, s : s + 7])


def test_alignment_rules_with_and_without_pause_rows():
    marked, unmarked = _triggers(marked=True), _triggers(marked=False)
    resumed = _triggers(marked=True, resume_row=True)
    times = np.array([0.0, 2.9, 3.0, 3.2, 3.4, 4.1, 7.0])
    truth = np.array([true_sample(t) for t in times])
    truth[2] = RESUME  # movie time 3.0 is shown again when playback resumes
    np.testing.assert_allclose(movie_to_sample(times, marked, SFREQ)[3:], truth[3:])
    np.testing.assert_allclose(movie_to_sample(times, resumed, SFREQ), truth)
    # Without a pause row the stop is only known to lie between 3.0 and 3.5 s: the nearer
    # trigger decides, as in the dataset authors' code.
    got = movie_to_sample(times, unmarked, SFREQ)
    np.testing.assert_allclose(got[[0, 1, 4, 5, 6]], truth[[0, 1, 4, 5, 6]])
    assert got[3] == pytest.approx(PAUSE_AT + 0.2 * SFREQ)


def test_words_table_labels_subset_and_resample(session):
    root, data, _ = session
    words = pd.DataFrame(
        {
            "start": [1.0, 1.0, 4.0, np.nan],  # two words at one sample; one without onset
            "text": ["the", "cat", "sat", "um"],
            "pos": ["DET", "NOUN", "VERB", "INTJ"],
        }
    )
    td = load_brain_treebank(
        root,
        3,
        0,
        words,
        tmin=0.0,
        tmax=0.25,
        electrodes=["RH1", 0],
        label_column="pos",
        stimulus_column="text",
    )
    assert list(td.y) == ["DET", "NOUN", "VERB"] and list(td.stimulus_ids) == ["the", "cat", "sat"]
    assert td.info["ch_names"] == ["RH1", "LA1"]
    s = int(true_sample(4.0))
    np.testing.assert_array_equal(td.X[2], data[[2, 0], s : s + 33])
    half = load_brain_treebank(root, 3, 0, words, tmin=0.0, tmax=0.25, sfreq_out=64.0)
    assert half.info["sfreq"] == 64.0 and half.X.shape == (3, 3, 16)


def test_events_outside_the_recording_are_dropped(session):
    root, _, _ = session
    td = load_brain_treebank(root, 3, 0, [-1.0, 1.0, 9.0], tmin=-0.1, tmax=0.1)
    assert td.n_trials == 1 and td.metadata["sample"][0] == true_sample(1.0)
    with pytest.raises(DataError, match="sub_3_trial000.h5.*no event window"):
        load_brain_treebank(root, 3, 0, [9.0], tmin=-0.1, tmax=0.1)


def test_real_layout_defaults_to_2048_hz_microvolts(tmp_path):
    # Released files carry no attributes: 2048 Hz and microvolts are assumed.
    paths = session_paths(tmp_path, 1, 2)
    paths["labels"].parent.mkdir(parents=True)
    paths["labels"].write_text(json.dumps(["A1"]))
    paths["triggers"].parent.mkdir(parents=True)
    pd.DataFrame({"movie_time": [0.0, 1.0], "index": [0, 2048]}).to_csv(
        paths["triggers"], index=False
    )
    with h5py.File(paths["h5"], "w") as f:
        f.create_dataset("data/electrode_0", data=np.arange(4096, dtype=float))
    td = load_brain_treebank(tmp_path, 1, 2, [0.5], tmin=0.0, tmax=1 / 2048)
    np.testing.assert_allclose(td.X[0, 0], [1024e-6, 1025e-6])
    assert td.info["sfreq"] == 2048.0


# ----------------------------------------------------------------------------- bad input
def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_label_count_mismatch(session):
    root, _, _ = session
    paths = session_paths(root, 3, 0)
    paths["labels"].write_text(json.dumps(LABELS[:2]))
    before = _listing(root)
    with pytest.raises(DataError, match=r"sub_3_trial000.h5: 3 electrode datasets but 2 labels"):
        load_brain_treebank(root, 3, 0, [1.0])
    assert _listing(root) == before


def test_missing_electrode_dataset(session):
    root, _, _ = session
    with h5py.File(session_paths(root, 3, 0)["h5"], "a") as f:
        del f["data/electrode_1"]
    with pytest.raises(DataError, match=r"sub_3_trial000.h5: missing datasets \['electrode_1'\]"):
        load_brain_treebank(root, 3, 0, [1.0])


def test_missing_files_and_columns(session, tmp_path):
    root, _, _ = session
    with pytest.raises(DataError, match="sub_3_trial001.h5.*not found"):
        load_brain_treebank(root, 3, 1, [1.0])
    paths = session_paths(root, 3, 0)
    pd.DataFrame({"time": [0.0], "sample": [0]}).to_csv(paths["triggers"], index=False)
    with pytest.raises(DataError, match=r"timings.csv.*lacks columns \['movie_time', 'index'\]"):
        load_brain_treebank(root, 3, 0, [1.0])


def test_nans_named_by_electrode(tmp_path):
    data = _data()
    data[1, 190:200] = np.nan
    write_brain_treebank(tmp_path, 0, data, SFREQ, LABELS, _triggers())
    with pytest.raises(DataError, match=r"sub_1_trial000.h5: NaN values in electrodes \['LA2'\]"):
        load_brain_treebank(tmp_path, 1, 0, [1.0], tmin=-0.1, tmax=0.1)


def test_bad_writes_leave_nothing(tmp_path):
    with pytest.raises(DataError, match="2 electrode labels for 3 electrodes"):
        write_brain_treebank(tmp_path, 0, _data(), SFREQ, LABELS[:2], _triggers())
    with pytest.raises(DataError, match="ch_pos must have shape"):  # fails after two files
        write_brain_treebank(tmp_path, 0, _data(), SFREQ, LABELS, _triggers(), ch_pos=POS[:2])
    bad = _triggers()
    bad.loc[3, "index"] = N_SAMPLES + 5
    with pytest.raises(DataError, match="outside the 1200 samples"):
        write_brain_treebank(tmp_path, 0, _data(), SFREQ, LABELS, bad)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
