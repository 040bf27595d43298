"""Splits never put a stimulus in both train and test; subsampling keeps whole stimuli;
a Dataset keeps per-subject feature counts."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.data import (
    DataError,
    Dataset,
    TrialData,
    split_by_stimulus,
    split_from_metadata,
    subsample_trials,
    train_test_split_stimuli,
)


def _repeated(n_stimuli=40, n_vox=3, subject="1", seed=0) -> TrialData:
    """Each stimulus shown 1-3 times, trials shuffled; X[:, 0] encodes the stimulus id."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_stimuli), rng.integers(1, 4, n_stimuli))
    ids = ids[rng.permutation(len(ids))]
    X = np.column_stack([ids, rng.standard_normal((len(ids), n_vox - 1))])
    return TrialData(X=X, subject=subject, modality="fmri", stimulus_ids=ids,
                     metadata=pd.DataFrame({"trial": np.arange(len(ids))}))


def _counts(ids):
    return dict(zip(*np.unique(ids, return_counts=True), strict=True))


def test_train_test_split_stimuli_disjoint_complete_and_seeded():
    d = _repeated()
    train, test = train_test_split_stimuli(d, test_size=0.25, random_state=3)
    assert np.intersect1d(train.stimulus_ids, test.stimulus_ids).size == 0
    assert len(np.unique(test.stimulus_ids)) == 10  # 25% of 40 stimuli
    assert train.n_trials + test.n_trials == d.n_trials
    # every trial went with its own stimulus, and all repetitions of a stimulus went together
    np.testing.assert_array_equal(train.X[:, 0], train.stimulus_ids)
    full = _counts(d.stimulus_ids)
    for part in (train, test):
        assert all(full[k] == v for k, v in _counts(part.stimulus_ids).items())
    again, _ = train_test_split_stimuli(d, test_size=0.25, random_state=3)
    other, _ = train_test_split_stimuli(d, test_size=0.25, random_state=4)
    np.testing.assert_array_equal(again.stimulus_ids, train.stimulus_ids)
    assert not np.array_equal(np.unique(other.stimulus_ids), np.unique(train.stimulus_ids))


@pytest.mark.parametrize("size", [0, 1, 1.5, -0.1])
def test_train_test_split_bad_size(size):
    with pytest.raises(DataError, match="test_size must be in"):
        train_test_split_stimuli(_repeated(), test_size=size)


def test_splits_need_stimulus_ids():
    d = TrialData(X=np.zeros((4, 2)), subject="9", modality="fmri")
    with pytest.raises(DataError, match="subject 9: splitting by stimulus needs stimulus_ids"):
        train_test_split_stimuli(d)
    with pytest.raises(DataError, match="subject 9"):
        split_by_stimulus(d, [1])


def test_split_by_stimulus():
    d = _repeated()
    train, test = split_by_stimulus(d, [3, 7])
    assert set(test.stimulus_ids) == {3, 7}
    assert test.n_trials == sum(_counts(d.stimulus_ids)[k] for k in (3, 7))
    assert not np.isin(train.stimulus_ids, [3, 7]).any()


def test_split_from_metadata():
    d = _repeated()
    is_test = d.stimulus_ids < 8
    d.metadata["split"] = np.where(is_test, "test", "train")
    train, test = split_from_metadata(d)
    assert set(test.stimulus_ids) == set(range(8))
    assert np.intersect1d(train.stimulus_ids, test.stimulus_ids).size == 0
    np.testing.assert_array_equal(test.metadata["trial"], np.flatnonzero(is_test))


def test_split_from_metadata_refuses_leaks_and_bad_values():
    d = _repeated()
    leaking = d.stimulus_ids.copy()
    split = np.where(np.arange(d.n_trials) % 2 == 0, "train", "test")
    d.metadata["split"] = split
    assert np.intersect1d(leaking[split == "train"], leaking[split == "test"]).size
    with pytest.raises(DataError, match="a stimulus appears in both train and test"):
        split_from_metadata(d)
    d.metadata["split"] = "val"
    with pytest.raises(DataError, match=r"'split' holds \['val'\]"):
        split_from_metadata(d)
    with pytest.raises(DataError, match="metadata has no 'fold' column"):
        split_from_metadata(d, column="fold")


def test_subsample_trials_keeps_all_repetitions_of_kept_stimuli():
    d = _repeated(n_stimuli=50)
    s = subsample_trials(d, 0.2, random_state=1)
    kept = np.unique(s.stimulus_ids)
    assert len(kept) == 10
    full = _counts(d.stimulus_ids)
    assert _counts(s.stimulus_ids) == {k: full[k] for k in kept}
    np.testing.assert_array_equal(s.X[:, 0], s.stimulus_ids)
    assert subsample_trials(d, 1.0) is d
    assert len(np.unique(subsample_trials(d, 0.001).stimulus_ids)) == 1  # at least one
    with pytest.raises(DataError, match="fraction must be in"):
        subsample_trials(d, 0)


def test_subsample_without_ids_keeps_trial_order():
    d = TrialData(X=np.arange(20.0)[:, None], subject="1", modality="fmri")
    s = subsample_trials(d, 0.5, random_state=0)
    assert s.n_trials == 10 and np.all(np.diff(s.X[:, 0]) > 0)


def test_dataset_mapping_of_subjects():
    a = _repeated(n_stimuli=30, n_vox=5, subject="1", seed=1)
    b = _repeated(n_stimuli=20, n_vox=8, subject="2", seed=2).select(slice(None))
    b.stimulus_ids = b.stimulus_ids + 10  # stimuli 10..29
    c = Dataset.from_list("mine", [a, b])
    assert list(c) == ["1", "2"] and len(c) == 2
    assert c.n_features == {"1": 5, "2": 8}
    assert c[2] is b and c["1"] is a
    np.testing.assert_array_equal(c.shared_stimuli(), np.arange(10, 30))
    with pytest.raises(DataError, match=r"mine: unknown subject '3'; available: \['1', '2'\]"):
        c["3"]
    with pytest.raises(DataError, match="duplicate subjects"):
        Dataset.from_list("mine", [a, a])
    assert list(c.select_subjects([2])) == ["2"]
    with pytest.raises(DataError, match=r"subjects \['9'\] not found"):
        c.select_subjects(["9"])


def test_dataset_mixed_modalities_and_missing_ids():
    fmri = _repeated()
    eeg = TrialData(X=np.zeros((2, 3, 4)), subject="2", modality="eeg")
    with pytest.raises(DataError, match="mix modalities"):
        _ = Dataset("mixed", {"1": fmri, "2": eeg}).modality
    no_ids = TrialData(X=np.zeros((2, 3)), subject="2", modality="fmri")
    with pytest.raises(DataError, match="needs stimulus_ids"):
        Dataset("x", {"1": fmri, "2": no_ids}).shared_stimuli()
