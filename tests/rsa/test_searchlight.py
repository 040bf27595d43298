"""Searchlight: nilearn's sphere geometry, per-sphere RDMs equal calc_rdm, planted region found."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.data.fmri import fmri_info
from neurodecode.rsa.rdm import calc_rdm, noise_precision
from neurodecode.rsa.searchlight import (
    searchlight,
    searchlight_rdms,
    sphere_neighbours,
)
from neurodecode.synth.rsa_world import region_geometry


def _trials(mask, affine, X, cond, run):
    meta = pd.DataFrame({"condition": cond, "run": run})
    return TrialData(X, subject="1", modality="fmri", metadata=meta,
                     info=fmri_info(mask, affine))


def _anisotropic(seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((7, 8, 6)) > 0.3
    affine = np.diag([2.0, 2.5, 3.0, 1.0])
    affine[:3, 3] = [-5, 3, 1]
    return mask, affine, rng


def test_spheres_are_nilearns_spheres():
    spheres = pytest.importorskip("nilearn.maskers.nifti_spheres_masker")
    apply_mask_and_get_affinity = getattr(  # private name before nilearn 0.11
        spheres, "apply_mask_and_get_affinity", None
    ) or getattr(spheres, "_apply_mask_and_get_affinity", None)
    if apply_mask_and_get_affinity is None:
        pytest.skip("this nilearn has no apply_mask_and_get_affinity")
    mask, affine, _ = _anisotropic()
    neighbours = sphere_neighbours(mask, affine, 5.0)
    centres_mm = nib.affines.apply_affine(affine, np.argwhere(mask))
    _, adjacency = apply_mask_and_get_affinity(
        centres_mm.tolist(), None, 5.0, True, mask_img=nib.Nifti1Image(mask.astype("u1"), affine)
    )
    adjacency = adjacency.tocsr()
    for i in range(int(mask.sum())):
        assert set(adjacency[i].indices) == set(neighbours[i][neighbours[i] >= 0])


@pytest.mark.parametrize("method", ["euclidean", "correlation", "crossnobis"])
def test_sphere_rdms_equal_calc_rdm_on_the_sphere(method):
    mask, affine, rng = _anisotropic(1)
    cond = np.tile(np.arange(6), 3)
    run = np.repeat(np.arange(3), 6)
    X = rng.standard_normal((18, int(mask.sum())))
    data = _trials(mask, affine, X, cond, run)
    centres = np.arange(0, int(mask.sum()), 5)
    rdms = searchlight_rdms(data, centres, 5.0, method)
    neighbours = sphere_neighbours(mask, affine, 5.0, centres)
    precision = noise_precision(data, method="diag")
    for row, nb in enumerate(neighbours):
        idx = nb[nb >= 0]
        kw = {"noise": precision[idx]} if method == "crossnobis" else {}
        ref = calc_rdm(X[:, idx], method, conditions=cond, runs=run, **kw).dissimilarities[0]
        np.testing.assert_allclose(rdms.dissimilarities[row], ref, atol=1e-10)


def _planted_volume(signal, seed=0):
    """A 14^3 box (2 mm) where the voxels within 6 mm of (4, 4, 4) carry a ring geometry."""
    rng = np.random.default_rng(seed)
    shape = (14, 14, 14)
    mask = np.ones(shape, bool)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    ijk = np.argwhere(mask)
    inside = np.linalg.norm(ijk - 4, axis=1) * 2 <= 6
    n_cond, n_runs = 12, 4
    points = region_geometry("ring", n_cond)
    patterns = np.zeros((n_cond, len(ijk)))
    patterns[:, inside] = points @ rng.standard_normal((2, inside.sum())) * signal
    cond = np.tile(np.arange(n_cond), n_runs)
    run = np.repeat(np.arange(n_runs), n_cond)
    X = patterns[cond] + rng.standard_normal((len(cond), len(ijk)))
    model = pdist(points) ** 2
    return _trials(mask, affine, X, cond, run), inside, model


@pytest.mark.parametrize("method", ["correlation", "crossnobis"])
def test_planted_region_lights_up_and_pure_noise_does_not(method):
    data, inside, model = _planted_volume(signal=1.5)
    maps = searchlight(data, {"ring": model}, radius=4.0, method=method,
                       comparison="spearman", min_voxels=5, chunk_size=700, progress=False)
    values = maps["ring"].get_fdata()[data.info["mask"]]
    assert values[inside].mean() > 0.5
    assert abs(np.nanmean(values[~inside])) < 0.1
    top = np.argsort(np.nan_to_num(values, nan=-1))[-20:]
    assert inside[top].mean() > 0.9
    assert maps["n_voxels"].get_fdata().max() == 33  # voxels within 4 mm on a 2 mm grid
    noise, _, _ = _planted_volume(signal=0.0, seed=1)
    null = searchlight(noise, {"ring": model}, radius=4.0, method=method, progress=False)
    assert abs(np.nanmean(null["ring"].get_fdata())) < 0.05


def test_searchlight_errors():
    data, _, model = _planted_volume(signal=1.0)
    with pytest.raises(DataError, match="models must be"):
        searchlight(data, {"bad": model[:-1]}, progress=False)
    with pytest.raises(DataError, match="unknown searchlight method"):
        searchlight(data, {"ring": model}, method="mahalanobis", progress=False)
    unbalanced = data.select(np.arange(data.n_trials - 1))
    with pytest.raises(DataError, match="balanced"):
        searchlight(unbalanced, {"ring": model}, method="crossnobis", progress=False)
