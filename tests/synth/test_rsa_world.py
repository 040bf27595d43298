"""synthetic-rsa: planted geometry recovered, identification above/at chance, NIfTI round trip."""

import nibabel as nib
import numpy as np
import pytest

from neurodecode.data.errors import DataError
from neurodecode.rsa.compare import compare
from neurodecode.rsa.identify import identification_bootstrap, identify_regions
from neurodecode.rsa.rdm import calc_rdm, calc_rdms
from neurodecode.synth import make, read, rsa_world, write


def test_deterministic_layout_and_truth():
    world = make("synthetic-rsa", n_subjects=3, seed=1)
    again = rsa_world.make(n_subjects=2, seed=1)
    np.testing.assert_array_equal(world.subjects["02"].X, again.subjects["02"].X)
    data = world.subjects["01"]
    p = world.params
    assert data.X.shape == (len(rsa_world.REGIONS) * p["n_runs"] * p["n_conditions"],
                            p["n_voxels"])
    assert set(data.metadata.columns) == {"region", "condition", "run"}
    assert data.modality == "fmri" and data.info["mask"].sum() == p["n_voxels"]
    assert world.truth["chance"] == 0.25
    assert not np.array_equal(make("synthetic-rsa", n_subjects=1, seed=2).subjects["01"].X,
                              make("synthetic-rsa", n_subjects=1, seed=1).subjects["01"].X)


def test_crossnobis_recovers_each_regions_planted_geometry():
    world = rsa_world.make(n_subjects=2, seed=0, noise=0.5, modality="features")
    for region in world.params["regions"]:
        trials = rsa_world.region_trials(world.subjects["01"], region)
        rdm = calc_rdm(trials, "crossnobis", conditions="condition").dissimilarities[0]
        truth = np.array(world.truth["region_rdms"][region])
        assert compare(rdm, truth, "corr")[0, 0] > 0.95
        assert rdm.mean() == pytest.approx(truth.mean(), rel=0.15)  # unbiased scale
    with pytest.raises(DataError, match="no trials of region 'cortex'"):
        rsa_world.region_trials(world.subjects["01"], "cortex")


def _identification(seed=0, **params):
    world = rsa_world.make(seed=seed, modality="features", **params)
    return calc_rdms(world.subjects, "crossnobis", by="region")


def test_identification_is_perfect_at_low_noise_and_at_chance_on_pure_noise():
    clean = _identification(noise=0.5)
    for transform in ("rdm", "geo-topological", "topology-sensitive", "geodesic"):
        assert identify_regions(clean, transform).accuracy == 1.0
    # pure noise: pool 4 worlds of 8 subjects x 4 regions (128 decisions, chance .25)
    hits = [identify_regions(_identification(seed=s, signal=0.0), "rdm").accuracy
            for s in range(4)]
    assert abs(np.mean(hits) - 0.25) < 0.12


def test_topology_sensitive_transform_beats_raw_rdm_under_monotone_warps():
    # strong subject-specific power warps, d ** g with g in [10^-1.5, 10^1.5]
    rdms = _identification(n_subjects=12, warp=1.5, noise=1.0)
    raw = identify_regions(rdms, "rdm").accuracy
    topo = identify_regions(rdms, "topology-sensitive").accuracy
    gt = identify_regions(rdms, "geo-topological").accuracy
    assert topo >= raw + 0.08 and gt >= raw + 0.08
    # without warps both are perfect: the advantage comes from the warps
    assert identify_regions(_identification(n_subjects=12, noise=1.0), "rdm").accuracy == 1.0


def test_write_read_round_trip_through_nifti(tmp_path):
    world = rsa_world.make(n_subjects=2, seed=3, n_conditions=8, n_runs=2, n_voxels=27)
    paths = write("synthetic-rsa", tmp_path, n_subjects=2, seed=3, n_conditions=8, n_runs=2,
                  n_voxels=27)
    img = nib.load(tmp_path / "sub-01" / "sub-01_region-ring_betas.nii.gz")
    assert img.shape == (3, 3, 3, 16)
    assert (tmp_path / "world.json") in paths and (tmp_path / "mask.nii.gz") in paths
    back = read("synthetic-rsa", tmp_path)
    for subject, data in world.subjects.items():
        got = back.subjects[subject]
        np.testing.assert_array_equal(got.X, data.X)
        assert got.metadata.equals(data.metadata)
        np.testing.assert_array_equal(got.stimulus_ids, data.stimulus_ids)
    assert back.truth["region_rdms"] == world.truth["region_rdms"]
    (tmp_path / "sub-02" / "sub-02_region-grid_betas.nii.gz").unlink()
    with pytest.raises(DataError, match="region-grid_betas.nii.gz: not found"):
        read("synthetic-rsa", tmp_path)


def test_identification_bootstrap_pairs_transforms_on_the_same_resamples():
    rdms = _identification(n_subjects=12, warp=1.5, noise=1.0)
    boot = identification_bootstrap(rdms, {"rdm": "rdm", "gt": "geo-topological"},
                                    over="stimuli", n_bootstrap=40, seed=0)
    assert boot["accuracy"].shape == (40, 2)
    assert boot["point"][0] == identify_regions(rdms, "rdm").accuracy
    gain = boot["accuracy"][:, 1] - boot["accuracy"][:, 0]
    assert np.mean(gain > 0) > 0.8  # paired: the same stimulus draws for both transforms
    again = identification_bootstrap(rdms, {"rdm": "rdm"}, over="stimuli", n_bootstrap=40,
                                     seed=0)
    np.testing.assert_array_equal(again["accuracy"][:, 0], boot["accuracy"][:, 0])
    with pytest.raises(DataError, match="'over'"):
        identification_bootstrap(rdms, {"rdm": "rdm"}, over="runs")
