"""fMRI loaders: planted single-trial betas recovered end to end from simulated BOLD runs,
exact beta-series round trips, train-only standardisation, and bad input."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nibabel.affines import apply_affine

from neurodecode.data import DataError, TrialData
from neurodecode.data import fmri as fmri_mod
from neurodecode.data.fmri import (
    SessionStandardizer,
    fmri_info,
    load_beta_series,
    load_fmri_runs,
    write_beta_series,
    write_bold_runs,
)

T_R = 1.5


def _planted(n_trials=40, seed=0, y=False) -> TrialData:
    rng = np.random.default_rng(seed)
    mask = np.zeros((6, 6, 5), bool)
    mask[1:5, 1:5, 1:4] = True
    affine = np.diag([2.0, 2.0, 2.5, 1.0])
    affine[:3, 3] = [-6.0, -6.0, -5.0]
    return TrialData(
        X=rng.normal(0, 1, (n_trials, int(mask.sum()))).astype(np.float32),
        subject="01",
        modality="fmri",
        stimulus_ids=rng.permutation(1000)[:n_trials],
        y=np.where(np.arange(n_trials) % 2, "face", "house") if y else None,
        info=fmri_info(mask, affine),
    )


@pytest.fixture(scope="module")
def planted() -> TrialData:
    return _planted(y=True)


@pytest.fixture(scope="module")
def runs(planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("bold")
    return write_bold_runs(planted, out, t_r=T_R, n_runs=2, noise_std=0.3, confound_std=2.0)


def _corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("method", ["lss", "glm"])
def test_planted_betas_recovered_end_to_end(planted, runs, method):
    data = load_fmri_runs(
        [str(p) for p in runs.bold],
        runs.events,
        runs.mask,
        "01",
        T_R,
        method=method,
        confounds=runs.confounds,
    )
    assert data.modality == "fmri" and data.X.shape == planted.X.shape
    r = _corr(data.X, planted.X)
    assert r > 0.75, r
    # Units are percent signal change: the fitted slope is close to 1.
    slope = np.polyfit(planted.X.ravel(), data.X.ravel(), 1)[0]
    assert 0.85 < slope < 1.15
    # Each trial's pattern is closest to its own planted pattern (chance: 1 in 40).
    n = planted.n_trials
    cross = np.corrcoef(data.X, planted.X)[:n, n:]
    assert np.mean(cross.argmax(axis=1) == np.arange(n)) > 0.9
    np.testing.assert_array_equal(data.stimulus_ids, planted.stimulus_ids)
    np.testing.assert_array_equal(data.y, planted.y)
    assert list(data.metadata.columns[:4]) == ["run", "trial", "onset", "duration"]
    assert data.metadata["run"].tolist() == [1] * 20 + [2] * 20
    assert data.metadata["trial"].tolist() == list(range(1, 21)) * 2
    mask = planted.info["mask"]
    np.testing.assert_array_equal(data.info["mask"], mask)
    np.testing.assert_allclose(
        data.info["voxel_coords"], apply_affine(planted.info["affine"], np.argwhere(mask))
    )
    assert data.info["shape"] == (6, 6, 5)


def test_confounds_are_regressed(planted, runs):
    kwargs = dict(mask_img=runs.mask, subject="01", t_r=T_R, sessions=[3, 4])
    without = load_fmri_runs(runs.bold, runs.events, **kwargs)
    with_conf = load_fmri_runs(runs.bold, runs.events, confounds=runs.confounds, **kwargs)
    assert _corr(with_conf.X, planted.X) > _corr(without.X, planted.X) + 0.3
    assert with_conf.metadata["session"].tolist() == [3] * 20 + [4] * 20


def test_vectorised_lss_equals_one_glm_per_trial():
    rng = np.random.default_rng(1)
    n_scans, n_trials = 80, 6
    trials = rng.normal(size=(n_scans, n_trials))
    nuisance = np.column_stack([np.ones(n_scans), np.linspace(-1, 1, n_scans)])
    Y = rng.normal(size=(n_scans, 5))
    expected = np.empty((n_trials, 5))
    for i in range(n_trials):
        others = trials.sum(axis=1) - trials[:, i]
        design = np.column_stack([trials[:, i], others, nuisance])
        expected[i] = np.linalg.lstsq(design, Y, rcond=None)[0][0]
    np.testing.assert_allclose(fmri_mod._lss(Y, trials, nuisance), expected, atol=1e-10)


def test_trial_type_only_events_and_in_memory_images(planted, runs):
    events = [pd.read_csv(p, sep="\t").drop(columns="stimulus_id") for p in runs.events]
    imgs = [nib.load(p) for p in runs.bold]
    data = load_fmri_runs(imgs, events, nib.load(runs.mask), "01", T_R, confounds=runs.confounds)
    np.testing.assert_array_equal(data.stimulus_ids, planted.y)
    np.testing.assert_array_equal(data.y, planted.y)


# ---------------------------------------------------------------------------- beta series
def test_beta_series_round_trip_is_exact(tmp_path):
    data = _planted(12, seed=3, y=True)
    data.metadata = pd.DataFrame(dict(session=[1] * 6 + [2] * 6, split=["train", "test"] * 6))
    paths = write_beta_series(data, tmp_path / "betas.nii.gz", mask_path=tmp_path / "mask.nii")
    assert [p.name for p in paths] == ["betas.nii.gz", "betas.tsv", "mask.nii"]
    assert nib.load(paths[0]).shape == (6, 6, 5, 12)
    back = load_beta_series(paths[0], paths[2], subject="01")
    np.testing.assert_array_equal(back.X, data.X)
    np.testing.assert_array_equal(back.stimulus_ids, data.stimulus_ids)
    np.testing.assert_array_equal(back.y, data.y)
    pd.testing.assert_frame_equal(back.metadata, data.metadata)
    np.testing.assert_allclose(back.info["affine"], data.info["affine"])
    via_container = TrialData.from_nifti(paths[0], paths[2], subject="01")
    np.testing.assert_array_equal(via_container.X, data.X)


def test_beta_series_without_table(tmp_path):
    data = _planted(4)
    data.stimulus_ids = None
    paths = write_beta_series(data, tmp_path / "b.nii")
    assert paths == [tmp_path / "b.nii"]
    back = load_beta_series(
        paths[0], nib.Nifti1Image(data.info["mask"].astype("u1"), data.info["affine"]), "01"
    )
    assert back.stimulus_ids is None and back.metadata.shape == (4, 0)


def test_failed_writer_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fmri_mod, "write_table", fail)
    with pytest.raises(OSError):
        write_beta_series(_planted(5), tmp_path / "b.nii.gz", mask_path=tmp_path / "m.nii.gz")
    with pytest.raises(OSError):
        write_bold_runs(_planted(6), tmp_path / "runs")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------------------- standardisation
def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 2, (12, 3))
    sessions = np.repeat([1, 2], 6)
    train = np.arange(12) % 3 != 0
    scaler = SessionStandardizer().fit(X[train], sessions=sessions[train])
    Z = scaler.transform(X, sessions=sessions)
    for s in (1, 2):
        ref = X[train & (sessions == s)]
        rows = sessions == s
        np.testing.assert_allclose(Z[rows], (X[rows] - ref.mean(0)) / ref.std(0), rtol=1e-5)
    # Test trials never influence the statistics.
    X_changed = X.copy()
    X_changed[~train] += 100.0
    np.testing.assert_allclose(
        SessionStandardizer().fit(X_changed[train], sessions=sessions[train]).means_,
        scaler.means_,
    )
    # A session unseen in training gets the pooled training statistics.
    pooled = (X[:2] - X[train].mean(0)) / X[train].std(0)
    np.testing.assert_allclose(scaler.transform(X[:2], sessions=[9, 9]), pooled, rtol=1e-5)
    glob = SessionStandardizer(by="global").fit(X[train])
    np.testing.assert_allclose(
        glob.transform(X), (X - X[train].mean(0)) / X[train].std(0), rtol=1e-5
    )
    assert scaler.get_params() == {"by": "session", "statistics": "training", "eps": 1e-8}


def test_standardizer_on_trialdata():
    data = _planted(10)
    data.metadata = pd.DataFrame(dict(session=[1] * 5 + [2] * 5))
    out = SessionStandardizer().fit_transform(data)
    assert isinstance(out, TrialData) and out.X.dtype == np.float32
    np.testing.assert_allclose(out.X[:5].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.X[5:].std(0), 1, atol=1e-4)
    data.metadata = pd.DataFrame(index=range(10))
    with pytest.raises(DataError, match="session"):
        SessionStandardizer().fit(data)


def test_standardizer_own_statistics_per_run_are_label_free():
    rng = np.random.default_rng(1)
    X = rng.normal(5, 2, (12, 3))
    runs = np.repeat([1, 2, 3], 4)
    X[runs == 3] = X[runs == 3] * 4 + 50  # a held-out run with its own offset and gain
    own = SessionStandardizer(by="run", statistics="own").fit(X[runs < 3], sessions=runs[runs < 3])
    Z = own.transform(X[runs == 3], sessions=runs[runs == 3])
    ref = X[runs == 3]
    np.testing.assert_allclose(Z, (ref - ref.mean(0)) / ref.std(0), rtol=1e-5)
    # training statistics leave the held-out run far from zero mean: the two rules differ
    train = SessionStandardizer(by="global").fit(X[runs < 3])
    assert np.abs(train.transform(ref).mean()) > 10
    # by run from TrialData metadata; other runs never change a run's values
    data = TrialData(X=X, subject="1", modality="fmri",
                     metadata=pd.DataFrame({"run": runs}))
    out = SessionStandardizer(by="run", statistics="own").fit_transform(data)
    changed = data.X.copy()
    changed[runs == 1] += 1000
    again = SessionStandardizer(by="run", statistics="own").fit_transform(
        TrialData(X=changed, subject="1", modality="fmri", metadata=data.metadata))
    np.testing.assert_allclose(again.X[runs != 1], out.X[runs != 1], rtol=1e-5)
    with pytest.raises(ValueError, match="statistics must be"):
        SessionStandardizer(statistics="test").fit(X, sessions=runs)


def test_mask_computed_with_nilearn_when_none_given(planted, runs):
    from nilearn.masking import compute_multi_epi_mask

    data = load_fmri_runs([str(p) for p in runs.bold], runs.events, None, "01", T_R,
                          confounds=runs.confounds, mask_options={"opening": False})
    ref = compute_multi_epi_mask([str(p) for p in runs.bold], threshold=0.5, opening=False)
    np.testing.assert_array_equal(data.info["mask"], np.asarray(ref.dataobj) > 0)
    # the simulated brain (non-zero voxels) is exactly the planted mask, so betas are too
    np.testing.assert_array_equal(data.info["mask"], planted.info["mask"])
    assert data.info["mask_source"] == "nilearn compute_multi_epi_mask"
    assert _corr(data.X, planted.X) > 0.75


def test_beta_series_background_mask(tmp_path):
    data = _planted(6)
    data.X = data.X + 3.0  # non-zero everywhere inside, zero outside
    write_beta_series(data, tmp_path / "b.nii.gz", mask_path=tmp_path / "m.nii.gz")
    back = load_beta_series(tmp_path / "b.nii.gz", None, "01")
    np.testing.assert_array_equal(back.info["mask"], data.info["mask"])
    np.testing.assert_allclose(back.X, data.X, rtol=1e-6)


# ---------------------------------------------------------------------------- bad input
def test_bad_bold_inputs(runs, tmp_path):
    bold = nib.load(runs.bold[0])
    events = runs.events[0]
    with pytest.raises(DataError, match="missing_bold.nii.gz: BOLD run file not found"):
        load_fmri_runs(tmp_path / "missing_bold.nii.gz", events, runs.mask, "01", T_R)
    vol3 = tmp_path / "three_d.nii.gz"
    nib.save(nib.Nifti1Image(bold.get_fdata()[..., 0], bold.affine), vol3)
    with pytest.raises(DataError, match="three_d.nii.gz: BOLD run must be 4-D"):
        load_fmri_runs(vol3, events, runs.mask, "01", T_R)
    data = bold.get_fdata(dtype=np.float32)
    data[2, 2, 2, 5] = np.nan
    nan_path = tmp_path / "nan_bold.nii.gz"
    nib.save(nib.Nifti1Image(data, bold.affine), nan_path)
    with pytest.raises(DataError, match=r"nan_bold.nii.gz: 1 NaN/inf values inside the mask"):
        load_fmri_runs(nan_path, events, runs.mask, "01", T_R)
    mask = nib.load(runs.mask)
    shifted = tmp_path / "shifted_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(mask.dataobj), mask.affine + np.eye(4) * 0.5), shifted)
    with pytest.raises(DataError, match="affine differs from the mask .*shifted_mask"):
        load_fmri_runs(runs.bold[0], events, shifted, "01", T_R)
    small = tmp_path / "small_mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((5, 6, 5), np.uint8), mask.affine), small)
    with pytest.raises(DataError, match=r"volume shape \(6, 6, 5\) differs from the mask"):
        load_fmri_runs(runs.bold[0], events, small, "01", T_R)
    with pytest.raises(DataError, match="2 BOLD runs but 1 events"):
        load_fmri_runs(runs.bold, events, runs.mask, "01", T_R)
    with pytest.raises(DataError, match="method"):
        load_fmri_runs(runs.bold[0], events, runs.mask, "01", T_R, method="fir")


def test_bad_events_and_confounds(runs, tmp_path):
    table = pd.read_csv(runs.events[0], sep="\t")
    n_scans = nib.load(runs.bold[0]).shape[3]
    late = table.copy()
    late.loc[3, "onset"] = n_scans * T_R + 10
    late_path = tmp_path / "late_events.tsv"
    late.to_csv(late_path, sep="\t", index=False)
    with pytest.raises(DataError, match=r"late_events.tsv: 1 event\(s\) fall outside the run"):
        load_fmri_runs(runs.bold[0], late_path, runs.mask, "01", T_R)
    no_onset = tmp_path / "no_onset_events.tsv"
    table.drop(columns="onset").to_csv(no_onset, sep="\t", index=False)
    with pytest.raises(
        DataError, match=r"no_onset_events.tsv: events lack column\(s\) \['onset'\]"
    ):
        load_fmri_runs(runs.bold[0], no_onset, runs.mask, "01", T_R)
    with pytest.raises(DataError, match="'stimulus_id' or 'trial_type'"):
        load_fmri_runs(runs.bold[0], table[["onset", "duration"]], runs.mask, "01", T_R)
    short = tmp_path / "short_confounds.tsv"
    pd.read_csv(runs.confounds[0], sep="\t").iloc[:-2].to_csv(short, sep="\t", index=False)
    with pytest.raises(DataError, match=f"short_confounds.tsv: {n_scans - 2} confound rows"):
        load_fmri_runs(runs.bold[0], table, runs.mask, "01", T_R, confounds=short)


def test_bad_beta_series(tmp_path):
    data = _planted(5)
    img, table, mask = write_beta_series(data, tmp_path / "b.nii.gz", mask_path=tmp_path / "m.nii")
    with pytest.raises(DataError, match="trials.tsv: 3 trial rows for 5 volumes"):
        pd.read_csv(table, sep="\t").iloc[:3].to_csv(tmp_path / "trials.tsv", sep="\t")
        load_beta_series(img, mask, "01", trials=tmp_path / "trials.tsv")
    with pytest.raises(DataError, match="nope.nii: mask file not found"):
        load_beta_series(img, tmp_path / "nope.nii", "01")
