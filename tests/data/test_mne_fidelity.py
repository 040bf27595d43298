"""TrialData made from real MNE files keeps MNE's whole Info: to_epochs() and a FIF write/read
round trip equal MNE's own objects field by field; truncated copies of every real FIF give
DataError naming the file (MNE reads lazily, far from where the file was opened)."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from mne.transforms import Transform

from neurodecode.data import DataError, TrialData, load_raw_epochs
from neurodecode.data.sensors import (
    load_evoked,
    read_epochs,
    read_events,
    read_noise_cov,
    write_epochs,
)

RAW = "sample_audvis_trunc_raw_sss.fif"
EVENTS = np.array([[12960, 0, 1], [13050, 0, 3], [13100, 0, 1]])
EVENT_ID = {"auditory/left": 1, "visual/left": 3}


def _mne_epochs(path):
    """The epochs MNE itself makes from the same file and events (the reference)."""
    raw = mne.io.read_raw_fif(path, verbose="error")
    return mne.Epochs(raw, EVENTS, EVENT_ID, tmin=-0.1, tmax=0.2, baseline=None, picks="data",
                      proj=False, preload=True, verbose="error")


def assert_info_equal(got: mne.Info, ref: mne.Info) -> None:
    """MNE's Info, field by field, as the issue lists them (and the rest)."""
    assert got["ch_names"] == ref["ch_names"]
    assert len(got["chs"]) == len(ref["chs"])
    for a, b in zip(got["chs"], ref["chs"], strict=True):
        assert a["ch_name"] == b["ch_name"]
        np.testing.assert_allclose(a["loc"], b["loc"], rtol=0, atol=1e-7)  # incl. loc[3:12]
        for key in ("coil_type", "kind", "unit", "coord_frame", "cal", "range", "unit_mul"):
            assert a[key] == b[key], (a["ch_name"], key)
    assert isinstance(got["dev_head_t"], Transform)
    np.testing.assert_allclose(got["dev_head_t"]["trans"], ref["dev_head_t"]["trans"], atol=1e-7)
    assert [p["desc"] for p in got["projs"]] == [p["desc"] for p in ref["projs"]]
    for a, b in zip(got["projs"], ref["projs"], strict=True):
        np.testing.assert_allclose(a["data"]["data"], b["data"]["data"])
        assert a["active"] == b["active"]
    assert len(got["dig"]) == len(ref["dig"]) > 0
    for a, b in zip(got["dig"], ref["dig"], strict=True):
        assert a["kind"] == b["kind"] and a["ident"] == b["ident"]
        np.testing.assert_allclose(a["r"], b["r"], atol=1e-7)
    for key in ("sfreq", "highpass", "lowpass", "meas_date", "bads", "custom_ref_applied"):
        assert got[key] == ref[key], key


def test_to_epochs_keeps_mne_info_whole(mne_sample_dir):
    path = mne_sample_dir / RAW
    ref = _mne_epochs(path)
    td = load_raw_epochs(path, "sample", events=EVENTS, event_id=EVENT_ID, tmin=-0.1, tmax=0.2)
    ep = td.to_epochs()
    assert_info_equal(ep.info, ref.info)
    # loc[3:12] are real MEG coil orientations (not NaN), and dev_head_t is a transform
    meg = mne.pick_types(ep.info, meg=True)
    assert np.isfinite(np.array([ep.info["chs"][i]["loc"][3:12] for i in meg])).all()
    np.testing.assert_array_equal(ep.get_data(), ref.get_data())
    # Sensor layout in MNE's topomap projection does not move (it moved ~30% before).
    lay_a = mne.channels.find_layout(ep.info, ch_type="mag").pos[:, :2]
    lay_b = mne.channels.find_layout(ref.info, ch_type="mag").pos[:, :2]
    np.testing.assert_allclose(lay_a, lay_b, atol=1e-9)


def test_fif_round_trip_equals_mne(mne_sample_dir, tmp_path):
    path = mne_sample_dir / RAW
    ref = _mne_epochs(path)
    td = load_raw_epochs(path, "sample", events=EVENTS, event_id=EVENT_ID, tmin=-0.1, tmax=0.2,
                         stimulus_ids=np.array([7, 8, 9]))
    out = write_epochs(td, tmp_path / "sample-epo.fif")
    back = read_epochs(out, "sample")
    ref.save(tmp_path / "ref-epo.fif", verbose="error")
    ref_back = mne.read_epochs(tmp_path / "ref-epo.fif", proj=False, verbose="error")
    assert_info_equal(back.mne_info(), ref_back.info)
    assert_info_equal(back.to_epochs().info, ref.info)
    np.testing.assert_allclose(back.X, td.X, rtol=1e-6, atol=0)  # FIF stores float32
    assert list(back.y) == list(td.y) and list(back.stimulus_ids) == [7, 8, 9]
    assert back.modality == "meg" and back.info["ch_names"] == td.info["ch_names"]


@pytest.mark.slow  # reading the gzipped evoked file takes seconds
def test_evoked_file_keeps_info(mne_sample_dir):
    path = mne_sample_dir / "test-ave.fif.gz"
    td = load_evoked(path, "sample")
    ref = mne.read_evokeds(path, proj=False, verbose="error")
    assert list(td.y) == [e.comment for e in ref]
    assert list(td.metadata["nave"]) == [3, 6, 6, 6]  # README: nave of the four responses
    picked = ref[0].copy().pick("data")
    assert_info_equal(td.to_epochs().info, picked.info)
    assert len(td.mne_info()["projs"]) == 4
    np.testing.assert_array_equal(td.X[1], ref[1].copy().pick("data").data)


def test_selection_keeps_info(mne_sample_dir):
    td = load_raw_epochs(mne_sample_dir / RAW, "s", events=EVENTS, event_id=EVENT_ID,
                         tmin=-0.1, tmax=0.2)
    sub = td.select([2, 0])
    assert sub.to_epochs().info["dev_head_t"] is not None
    assert len(sub.to_epochs()) == 2


READERS = {
    RAW: lambda p: load_raw_epochs(p, "s", events=EVENTS, event_id=EVENT_ID, tmin=-0.1,
                                   tmax=0.2),
    "test-ave.fif.gz": lambda p: load_evoked(p, "s"),
    "test-cov.fif": read_noise_cov,
    "test-eve.fif": read_events,
    "test_raw-eve.fif": read_events,
    "sample_audvis_trunc_raw-eve.fif": read_events,
}


@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("fraction", [0.5, 0.99])
def test_truncated_copy_of_each_real_fif_names_the_file(mne_sample_dir, tmp_path, name,
                                                        fraction):
    data = (mne_sample_dir / name).read_bytes()
    if fraction == 0.5:
        READERS[name](mne_sample_dir / name)  # the whole file reads (checked once per file)
    cut = tmp_path / f"cut_{name}"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DataError, match=f"cut_{name}"):
        READERS[name](cut)


def test_truncated_epochs_file(mne_sample_dir, tmp_path):
    td = load_raw_epochs(mne_sample_dir / RAW, "s", events=EVENTS, event_id=EVENT_ID)
    out = write_epochs(td, tmp_path / "x-epo.fif")
    cut = tmp_path / "cut-epo.fif"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size * 9 // 10])
    with pytest.raises(DataError, match="cut-epo.fif"):
        read_epochs(cut, "s")


def test_kept_info_follows_a_changed_sampling_rate():
    info = mne.create_info(["a", "b"], 200.0, "eeg")
    td = TrialData.from_epochs(mne.EpochsArray(np.zeros((3, 2, 50)), info, verbose="error"), "1")
    td.info["sfreq"] = 100.0  # e.g. decimated by hand after loading
    out = td.to_epochs().info
    assert out["sfreq"] == 100.0 and out["lowpass"] == 50.0
