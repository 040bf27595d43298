"""THINGS-MEG loader on a small BIDS tree written in the dataset's layout (sub-BIGMEG<n>,
zero-padded sessions, task-main runs, events.tsv with the image number in ``value`` and the
optical-sensor onsets in ``sample``), FIF instead of CTF .ds (MNE-BIDS reads both)."""

import mne
import numpy as np
import pandas as pd
import pytest

from neurodecode.data.bids import write_bids
from neurodecode.data.errors import DataError
from neurodecode.data.things_meg import load_things_meg, load_things_meg_subjects
from neurodecode.synth.meg_vision import meg_info

SFREQ = 120.0
# run -> list of (image number or None for catch, trial_type)
RUNS = {
    "01": [(11, "exp"), (12, "exp"), (901, "test"), (None, "catch"), (13, "exp"), (902, "test")],
    "02": [(14, "exp"), (902, "test"), (15, "exp"), (None, "catch"), (901, "test"), (16, "exp")],
}


def _write_tree(root, label="BIGMEG1", session="01", kinds=True):
    full = meg_info(SFREQ)
    info = mne.pick_info(full, list(range(12)))  # 12 CTF axial gradiometers
    for run, trials in RUNS.items():
        n = int(SFREQ * (2 + 1.5 * len(trials)))
        data = 1e-15 * np.random.default_rng(int(run)).standard_normal((12, n))
        samples = (SFREQ * (1 + 1.5 * np.arange(len(trials)))).astype(int)
        for s, (image, _) in zip(samples, trials, strict=True):
            # a response 50 ms after onset on the first sensor, sized by the image number
            data[0, s + 6] += 1e-13 * (image or 0)
        raw = mne.io.RawArray(data, info, verbose="error")
        raw.info["line_freq"] = 60.0
        codes = {"exp": 1, "test": 2, "catch": 3}
        events = np.column_stack([samples, np.zeros_like(samples),
                                  [codes[k] for _, k in trials]])
        written = write_bids(raw, root, label, "main", session=session, run=run,
                             events=events, event_id=codes, overwrite=True)
        table_path = written.parent / written.name.replace("_meg.fif", "_events.tsv")
        table = pd.read_csv(table_path, sep="\t")
        table["value"] = [("n/a" if image is None else image) for image, _ in trials]
        if not kinds:
            table = table.drop(columns="trial_type")
        table.to_csv(table_path, sep="\t", index=False)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _write_tree(tmp_path_factory.mktemp("things"))


def test_epochs_carry_image_numbers_splits_and_onsets(tree):
    d = load_things_meg(tree, "1", resample=None)
    shown = [t for run in RUNS.values() for t in run if t[0] is not None]
    assert d.X.shape == (len(shown), 12, int(0.7 * SFREQ) + 1)
    np.testing.assert_array_equal(d.stimulus_ids, [image for image, _ in shown])
    assert d.metadata["split"].tolist() == ["test" if k == "test" else "train" for _, k in shown]
    assert d.metadata["run"].tolist() == ["01"] * 5 + ["02"] * 5
    # the planted response sits 50 ms after onset (sample 12+6 of a -0.1 s epoch)
    at = int(0.1 * SFREQ) + 6
    np.testing.assert_allclose(d.X[:, 0, at] / 1e-13, d.stimulus_ids, atol=0.05)
    assert (d.metadata.loc[d.stimulus_ids == 902, "repetition"] == [0, 1]).all()
    assert d.modality == "meg" and d.info["ch_names"][0].startswith("MLC")


def test_catch_trials_kept_on_request_and_repeats_define_test_without_trial_type(tmp_path):
    root = _write_tree(tmp_path, kinds=False)
    d = load_things_meg(root, "BIGMEG1", resample=None, keep_catch=True)
    assert (d.metadata["split"] == "catch").sum() == 2
    assert (d.stimulus_ids[d.metadata["split"] == "catch"] == -1).all()
    test = set(d.stimulus_ids[d.metadata["split"] == "test"])
    assert test == {901, 902}  # the images shown twice


def test_all_subjects_and_clear_errors(tree):
    both = load_things_meg_subjects(tree, resample=60.0)
    assert list(both) == ["1"] and both["1"].info["sfreq"] == 60.0
    with pytest.raises(DataError, match="sub-BIGMEG7"):
        load_things_meg(tree, "7")
    with pytest.raises(DataError, match="no task-rest"):
        load_things_meg(tree, "1", task="rest")


def test_through_the_front_door(tree):
    from neurodecode.datasets import open_dataset

    dataset = open_dataset("THINGS-MEG", path=tree, resample=None)
    assert list(dataset.subjects) == ["1"]
    assert dataset.subjects["1"].n_trials == 10
    with pytest.raises(DataError, match="not downloaded"):
        open_dataset("THINGS-MEG")
