"""Raw sensor files → epochs: format round trips, real MNE sample data, bad input."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from neurodecode.data import DataError, load_raw_epochs
from neurodecode.data.sensors import (
    find_raw_events,
    read_raw,
    sensor_modality,
    set_electrode_positions,
    write_raw,
)

SFREQ = 200.0
ONSETS = np.array([1.0, 2.0, 3.5, 5.0, 6.25])  # s from the first sample
LABELS = ["left", "right", "left", "right", "left"]
EVENT_ID = {"left": 1, "right": 2}
TMIN, TMAX = -0.1, 0.3


def _raw(kind: str = "eeg", n_ch: int = 4, seed: int = 0, stim: bool = False):
    rng = np.random.default_rng(seed)
    names = [f"{'A' if kind == 'seeg' else 'E'}{i + 1}" for i in range(n_ch)]
    # Channels with different ranges, so per-channel format scaling is exercised.
    data = rng.normal(size=(n_ch, int(8 * SFREQ))) * (1e-5 * (1 + np.arange(n_ch)))[:, None]
    types = [kind] * n_ch
    if stim:
        trig = np.zeros((1, data.shape[1]))
        for onset, lab in zip(ONSETS, LABELS, strict=True):
            trig[0, int(round(onset * SFREQ))] = EVENT_ID[lab]
        data = np.vstack([data, trig])
        names, types = names + ["STI"], types + ["stim"]
    raw = mne.io.RawArray(data, mne.create_info(names, SFREQ, types), verbose="error")
    raw.set_annotations(mne.Annotations(ONSETS, np.zeros(len(ONSETS)), LABELS))
    return raw


def _expected(raw) -> np.ndarray:
    """Epochs cut by hand from the in-memory data: (n_events, n_data_channels, n_times)."""
    data = raw.get_data(picks="data")
    start = np.round((ONSETS + TMIN) * SFREQ).astype(int)
    n_times = int(round((TMAX - TMIN) * SFREQ)) + 1
    return np.stack([data[:, s : s + n_times] for s in start])


@pytest.mark.parametrize(
    ("name", "rel_tol"),
    [
        ("rec_raw.fif", 1e-6),  # float32
        ("rec.edf", 2**-15),  # 16-bit, one physical range per channel
        ("rec.bdf", 2**-23),  # 24-bit
        ("rec.vhdr", 1e-6),  # float32 microvolts
        ("rec.set", 1e-6),  # float32
    ],
)
def test_round_trip_each_format(tmp_path, name, rel_tol):
    raw = _raw()
    out = write_raw(raw, tmp_path / name)
    assert out == tmp_path / name and out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    td = load_raw_epochs(out, "s1", event_id=EVENT_ID, tmin=TMIN, tmax=TMAX)
    expected = _expected(raw)
    assert td.X.shape == expected.shape
    # Error bounded by the format's quantisation step of each channel's range.
    scale = np.ptp(raw.get_data(), axis=1)[None, :, None]
    assert np.all(np.abs(td.X - expected) <= rel_tol * scale + 1e-12)
    assert list(td.y) == LABELS
    assert td.modality == "eeg" and td.subject == "s1"
    assert td.info["sfreq"] == SFREQ and td.info["ch_names"] == raw.ch_names
    assert td.info["tmin"] == pytest.approx(TMIN)
    np.testing.assert_allclose(td.metadata["onset"], ONSETS, atol=1 / SFREQ)


def test_brainvision_writes_three_files(tmp_path):
    write_raw(_raw(), tmp_path / "rec.vhdr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.eeg", "rec.vhdr", "rec.vmrk"]


def test_stim_channel_events_and_stimulus_ids(tmp_path):
    raw = _raw(stim=True)
    path = write_raw(raw, tmp_path / "rec_raw.fif")
    ids = np.array([10, 11, 12, 13, 14])
    meta = pd.DataFrame({"run": [1, 1, 2, 2, 2]})
    raw.set_annotations(None)
    write_raw(raw, path)  # overwrite: no annotations left, the stim channel must be used
    td = load_raw_epochs(
        path, "s1", event_id=EVENT_ID, tmin=TMIN, tmax=TMAX, stimulus_ids=ids, metadata=meta
    )
    assert list(td.y) == LABELS
    np.testing.assert_array_equal(td.stimulus_ids, ids)
    assert list(td.metadata["run"]) == [1, 1, 2, 2, 2]
    assert list(td.metadata["event_code"]) == [1, 2, 1, 2, 1]
    assert "STI" not in td.info["ch_names"]  # data channels only
    np.testing.assert_allclose(td.X, _expected(raw), rtol=1e-6, atol=1e-12)


def test_stim_channel_and_annotations_together(tmp_path):
    path = write_raw(_raw(stim=True), tmp_path / "rec_raw.fif")
    by_name = load_raw_epochs(path, "s1", event_id=EVENT_ID, tmin=TMIN, tmax=TMAX)
    by_code = load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX)  # the stim channel
    assert list(by_name.y) == LABELS and list(by_code.y) == ["1", "2", "1", "2", "1"]
    np.testing.assert_array_equal(by_name.X, by_code.X)


def test_dropped_epochs_drop_their_ids(tmp_path):
    raw = _raw()
    raw.set_annotations(mne.Annotations([0.05, 2.0, 7.95], [0, 0, 0], ["a", "b", "a"]))
    path = write_raw(raw, tmp_path / "rec_raw.fif")
    td = load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX, stimulus_ids=["x", "y", "z"])
    assert list(td.stimulus_ids) == ["y"]  # the first and last windows leave the recording


def test_event_sources_array_eve_file_and_tsv(tmp_path):
    raw = _raw()
    path = write_raw(raw, tmp_path / "rec_raw.fif")
    samples = np.round(ONSETS * SFREQ).astype(int)
    codes = np.array([EVENT_ID[lab] for lab in LABELS])
    arr = np.column_stack([samples, np.zeros_like(samples), codes])
    mne.write_events(tmp_path / "rec-eve.fif", arr, verbose="error")
    pd.DataFrame({"onset": ONSETS, "duration": 0.0, "trial_type": LABELS}).to_csv(
        tmp_path / "events.tsv", sep="\t", index=False
    )
    ref = load_raw_epochs(path, "s1", events=arr, event_id=EVENT_ID, tmin=TMIN, tmax=TMAX)
    for source in (tmp_path / "rec-eve.fif", str(tmp_path / "events.tsv")):
        td = load_raw_epochs(path, "s1", events=source, event_id=EVENT_ID, tmin=TMIN, tmax=TMAX)
        np.testing.assert_array_equal(td.X, ref.X)
        assert list(td.y) == LABELS
    only_right = load_raw_epochs(
        path, "s1", events=arr, event_id={"right": 2}, tmin=TMIN, tmax=TMAX
    )
    assert only_right.n_trials == 2 and set(only_right.y) == {"right"}


def test_filter_and_resample_change_what_they_should(tmp_path):
    path = write_raw(_raw(), tmp_path / "rec_raw.fif")
    raw_td = load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX)
    low = load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX, h_freq=10.0)
    assert low.X.shape == raw_td.X.shape
    # White noise low-passed at 10 Hz of a 100 Hz band keeps about a tenth of its power.
    ratio = np.var(low.X) / np.var(raw_td.X)
    assert 0.05 < ratio < 0.2
    half = load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX, resample=100.0)
    assert half.info["sfreq"] == 100.0 and half.X.shape == (5, 4, 40)  # 81 samples halved


def test_seeg_positions_types_and_modality(tmp_path):
    raw = _raw(kind="seeg", n_ch=3)
    pos = {"A1": [0.01, 0.02, 0.03], "A2": [0.015, 0.02, 0.03], "A3": [0.02, 0.02, 0.03]}
    set_electrode_positions(raw, pos)
    fif = write_raw(raw, tmp_path / "seeg_raw.fif")
    td = load_raw_epochs(fif, "s1", tmin=TMIN, tmax=TMAX)
    assert td.modality == "seeg" and set(td.info["ch_types"]) == {"seeg"}
    np.testing.assert_allclose(td.info["ch_pos"], np.array(list(pos.values())), atol=1e-7)
    edf = write_raw(raw, tmp_path / "seeg.edf")  # EDF keeps types in the labels
    td_edf = load_raw_epochs(edf, "s1", tmin=TMIN, tmax=TMAX, ch_pos=pos)
    assert td_edf.info["ch_names"] == ["A1", "A2", "A3"] and td_edf.modality == "seeg"
    np.testing.assert_allclose(td_edf.info["ch_pos"], td.info["ch_pos"], atol=1e-7)


def test_mri_positions_need_a_transform():
    raw = _raw(kind="seeg", n_ch=2)
    with pytest.raises(DataError, match="trans"):
        set_electrode_positions(raw, {"A1": [0, 0, 0.05]}, coord_frame="mri")
    trans = mne.transforms.Transform("mri", "head", mne.transforms.translation(0.0, 0.0, 0.01))
    set_electrode_positions(raw, {"A1": [0, 0, 0.05]}, coord_frame="mri", trans=trans)
    np.testing.assert_allclose(raw.info["chs"][0]["loc"][:3], [0, 0, 0.06], atol=1e-9)


def test_sensor_modality_counts_channels():
    assert sensor_modality(["mag", "grad", "grad", "eeg", "stim"]) == "meg"
    assert sensor_modality(["eeg", "eeg", "seeg"]) == "eeg"
    assert sensor_modality(["seeg", "seeg", "eeg", "ecg"]) == "seeg"
    with pytest.raises(DataError):
        sensor_modality(["stim", "misc"])


# ----------------------------------------------------------------------------- real data
def test_real_sample_raw_epochs_shapes_and_values(mne_sample_dir):
    path = mne_sample_dir / "sample_audvis_trunc_raw_sss.fif"
    raw = mne.io.read_raw_fif(path, verbose="error")
    events = np.array([[12960, 0, 1], [13100, 0, 3]])
    td = load_raw_epochs(
        path,
        "sample",
        events=events,
        event_id={"auditory/left": 1, "visual/left": 3},
        tmin=-0.1,
        tmax=0.2,
    )
    n_times = len(np.arange(round(-0.1 * raw.info["sfreq"]), round(0.2 * raw.info["sfreq"]) + 1))
    assert td.X.shape == (2, 366, n_times)  # 306 MEG + 60 EEG, no EOG/stim
    assert td.modality == "meg"
    types = pd.Series(td.info["ch_types"]).value_counts().to_dict()
    assert types == {"grad": 204, "mag": 102, "eeg": 60}
    assert list(td.y) == ["auditory/left", "visual/left"]
    data = raw.get_data(picks="data")
    start = 12960 - raw.first_samp + round(-0.1 * raw.info["sfreq"])
    np.testing.assert_array_equal(td.X[0], data[:, start : start + n_times])
    assert np.all(np.linalg.norm(td.info["ch_pos"][:306], axis=1) > 0.05)  # helmet, metres


def test_real_sample_events_outside_the_recording(mne_sample_dir, tmp_path):
    # The -eve.fif file belongs to a longer recording than this 1-s excerpt.
    raw_path = mne_sample_dir / "sample_audvis_trunc_raw_sss.fif"
    with pytest.raises(DataError, match="sample_audvis_trunc_raw_sss.fif.*none of the"):
        load_raw_epochs(
            raw_path, "sample", events=mne_sample_dir / "sample_audvis_trunc_raw-eve.fif"
        )
    arr, event_id = find_raw_events(
        read_raw(raw_path), events=mne_sample_dir / "sample_audvis_trunc_raw-eve.fif"
    )
    assert event_id == {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "32": 32}
    assert len(arr) == 25  # 50 rows, half of them offsets (code 0)


def test_real_sample_unknown_codes_list_what_was_found(mne_sample_dir):
    raw_path = mne_sample_dir / "sample_audvis_trunc_raw_sss.fif"
    with pytest.raises(DataError, match=r"\[99\].*1: 7, 2: 8, 3: 8, 4: 6, 5: 1, 32: 1"):
        load_raw_epochs(
            raw_path, "sample", events=mne_sample_dir / "test-eve.fif", event_id={"nope": 99}
        )


def test_real_evoked_file_is_not_raw(mne_sample_dir):
    with pytest.raises(DataError, match="test-ave.fif.gz.*load_evoked"):
        load_raw_epochs(mne_sample_dir / "test-ave.fif.gz", "sample")


# ----------------------------------------------------------------------------- bad input
def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothere_raw.fif.*not found"):
        load_raw_epochs(tmp_path / "nothere_raw.fif", "s1")
    assert _listing(tmp_path) == []


def test_nans_are_reported_with_channels(tmp_path):
    raw = _raw()
    data = raw.get_data()
    data[2, 390:400] = np.nan  # inside the second epoch
    raw = mne.io.RawArray(data, raw.info, verbose="error").set_annotations(raw.annotations)
    path = write_raw(raw, tmp_path / "nan_raw.fif")
    before = _listing(tmp_path)
    with pytest.raises(DataError, match=r"nan_raw.fif.*NaN.*\['E3'\]"):
        load_raw_epochs(path, "s1", tmin=TMIN, tmax=TMAX)
    assert _listing(tmp_path) == before


def test_unknown_event_names_and_codes(tmp_path):
    path = write_raw(_raw(), tmp_path / "rec_raw.fif")
    with pytest.raises(DataError, match=r"rec_raw.fif.*\['up'\].*\['left', 'right'\]"):
        load_raw_epochs(path, "s1", event_id={"left": 1, "up": 3})
    arr = np.array([[200, 0, 1], [400, 0, 2]])
    with pytest.raises(DataError, match=r"rec_raw.fif.*\[7\].*\{1: 1, 2: 1\}"):
        load_raw_epochs(path, "s1", events=arr, event_id={"a": 1, "b": 7})


def test_sampling_rate_mismatch(tmp_path):
    path = write_raw(_raw(), tmp_path / "rec.edf")
    with pytest.raises(DataError, match="rec.edf.*200 Hz, expected 250 Hz"):
        load_raw_epochs(path, "s1", expected_sfreq=250.0)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_export(fname, raw, **kwargs):
        open(fname, "w").write("half a header")
        raise RuntimeError("disk full")

    monkeypatch.setattr(mne.export, "export_raw", broken_export)
    with pytest.raises(RuntimeError, match="disk full"):
        write_raw(_raw(), tmp_path / "rec.vhdr")
    assert _listing(tmp_path) == []
    with pytest.raises(DataError, match=r"rec.xyz.*extension"):
        write_raw(_raw(), tmp_path / "rec.xyz")
    assert _listing(tmp_path) == []


def test_no_overwrite_keeps_the_old_file(tmp_path):
    path = write_raw(_raw(seed=1), tmp_path / "rec_raw.fif")
    with pytest.raises(DataError, match="exists"):
        write_raw(_raw(seed=2), path, overwrite=False)
    np.testing.assert_allclose(read_raw(path).get_data(), _raw(seed=1).get_data(), rtol=1e-6)
