"""Brain-guided synthesis (BrainDiVE) with the embedded generator and an encoder of the
synthetic-vision world: response rises with the scale, scale 0 is unguided sampling exactly,
the operator's gradient is the loss's gradient (finite differences)."""

import nibabel as nib
import numpy as np
import pytest
import torch

from neurodecode.data.errors import DataError
from neurodecode.encoding.guidance import (
    EmbeddedDiffusion,
    ImageToBrainEncoder,
    fit_image_encoder,
    roi_mask,
)
from neurodecode.reconstruct.embedded import load_codec
from neurodecode.synth import vision


@pytest.fixture(scope="module")
def setup():
    world = vision.make(n_subjects=1, seed=0, n_train=300)
    data = world.subjects["1"]
    codec = load_codec()
    encoder = fit_image_encoder(codec.encode, world.stimuli.images[data.stimulus_ids], data.X)
    # A "circle-selective" ROI: the 50 voxels whose predicted response prefers circles most.
    with torch.no_grad():
        pred = encoder(torch.from_numpy(np.array(world.stimuli.images)).permute(0, 3, 1, 2)
                       / 255.0)
    circle = torch.from_numpy(np.array(world.stimuli.attributes["shape"] == "circle"))
    contrast = (pred[circle].mean(0) - pred[~circle].mean(0)).numpy()
    roi = np.argsort(contrast)[-50:]
    return world, data, codec, encoder, roi


def _response(objective, images):
    with torch.no_grad():
        return objective(torch.as_tensor(images).permute(0, 3, 1, 2)).numpy()


def test_predicted_roi_response_rises_with_the_guidance_scale(setup):
    world, _, codec, encoder, roi = setup
    sampler = EmbeddedDiffusion(world.truth["semantic"], codec=codec)
    objective = encoder.objective(roi)
    means = [_response(objective, sampler.sample(8, steps=20, seed=0, objective=objective,
                                                 scale=s)[0]).mean() for s in (0, 2, 4, 8)]
    assert np.all(np.diff(means) > 0.01), means
    # Guiding down lowers it.
    down = sampler.sample(8, steps=20, seed=0, objective=objective, scale=-4)[0]
    assert _response(objective, down).mean() < means[0] - 0.02


def test_scale_zero_is_unguided_sampling_exactly(setup):
    world, _, codec, encoder, roi = setup
    sampler = EmbeddedDiffusion(world.truth["semantic"], codec=codec)
    plain, z = sampler.sample(4, steps=10, seed=3)
    guided, z0 = sampler.sample(4, steps=10, seed=3, objective=encoder.objective(roi), scale=0)
    np.testing.assert_array_equal(guided, plain)
    np.testing.assert_array_equal(z0, z)
    other, _ = sampler.sample(4, steps=10, seed=4)
    assert np.abs(other - plain).max() > 0.1  # the seed matters


def test_guidance_gradient_matches_finite_differences(setup):
    world, _, _, encoder, roi = setup
    codec = load_codec()  # a float64 copy
    sampler = EmbeddedDiffusion(world.truth["semantic"], codec=codec, dtype=torch.float64)
    enc64 = ImageToBrainEncoder(codec.encode, encoder.linear.weight.T.numpy(),
                                encoder.linear.bias.numpy()).double()
    objective = enc64.objective(roi)
    x = torch.randn(1, sampler.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = 400
    grad = sampler.guidance_gradient(x, t, objective, scale=3.0)[0]
    h = 1e-5
    fd = torch.zeros(sampler.dim, dtype=torch.float64)
    with torch.no_grad():
        for i in range(sampler.dim):
            e = torch.zeros_like(x)
            e[0, i] = h
            fd[i] = (sampler.guidance_loss(x + e, t, objective, 3.0)
                     - sampler.guidance_loss(x - e, t, objective, 3.0)) / (2 * h)
    assert grad.abs().max() > 1e-4
    torch.testing.assert_close(grad, fd, rtol=1e-4, atol=1e-7)


def test_roi_from_a_nifti_atlas(setup, tmp_path):
    _, data, _, _, _ = setup
    info = data.info
    atlas = np.zeros(info["shape"], np.int16)
    atlas[:, info["shape"][1] // 2:] = 2  # label 2: the anterior (semantic) half
    atlas[:, : info["shape"][1] // 2] = 1
    path = tmp_path / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(atlas, info["affine"]), path)
    mask = roi_mask(data, path, label="semantic", labels={"early": 1, "semantic": 2})
    ijk = np.rint((np.c_[info["voxel_coords"], np.ones(len(mask))]
                   @ np.linalg.inv(info["affine"]).T)[:, :3]).astype(int)
    np.testing.assert_array_equal(mask, ijk[:, 1] >= info["shape"][1] // 2)
    with pytest.raises(DataError, match="covers none"):
        roi_mask(data, path, label=7)
    with pytest.raises(DataError, match="not found"):
        roi_mask(data, tmp_path / "nope.nii.gz")
