"""Network ablation on synthetic-vision with planted networks: ranks in the planted order."""

import nibabel as nib
import numpy as np
import pytest

from neurodecode.data.errors import DataError
from neurodecode.data.splits import split_from_metadata
from neurodecode.encoding.ablation import ablate_networks, network_masks, planted_networks
from neurodecode.ridge import MultiRidgeCV
from neurodecode.synth import vision


@pytest.fixture(scope="module")
def world():
    return planted_networks(vision.make(n_subjects=1, seed=0, n_train=300), seed=0)


def _test_means(test, semantic):
    ids = np.unique(test.stimulus_ids)
    X = np.stack([test.X[test.stimulus_ids == i].mean(0) for i in ids])
    return X, semantic[ids]


@pytest.mark.slow  # 4 s unloaded, up to 25 s on the shared 2-core machine (SVDs of 600x1572)
def test_ablation_ranks_networks_in_the_planted_order(world, tmp_path):
    data = world.subjects["1"]
    semantic = world.truth["semantic"]
    train, test = split_from_metadata(data)
    decoder = MultiRidgeCV(cv=3).fit(train.X, semantic[train.stimulus_ids])
    atlas = tmp_path / "networks.nii.gz"
    nib.save(nib.Nifti1Image(world.truth["network_atlas"], data.info["affine"]), atlas)
    masks = network_masks(data, atlas, world.truth["network_labels"])
    np.testing.assert_array_equal(masks["visual"], world.truth["networks"]["1"] == "visual")
    X, targets = _test_means(test, semantic)
    table = ablate_networks(decoder, X, targets, masks)
    assert list(table.index) == world.truth["network_order"]
    assert table.attrs["full"] > 0.5
    assert abs(table.loc["somatomotor", "contribution"]) < 0.01  # carries nothing
    assert table.loc["visual", "contribution"] > 2 * table.loc["frontoparietal",
                                                               "contribution"] > 0
    # Shuffled brain data: nothing to lose.
    rng = np.random.default_rng(0)
    shuffled = ablate_networks(decoder, X[rng.permutation(len(X))], targets, masks)
    assert abs(shuffled.attrs["full"]) < 0.1
    assert shuffled["contribution"].abs().max() < 0.1


def test_per_voxel_labels_and_bad_masks(world):
    data = world.subjects["1"]
    masks = network_masks(data, world.truth["networks"]["1"])
    assert set(masks) == set(world.truth["network_labels"])
    with pytest.raises(DataError, match="do not match"):
        network_masks(data, np.zeros(3))
    with pytest.raises(DataError, match="mask"):
        ablate_networks(MultiRidgeCV(), data.X[:5], np.zeros((5, 2)), {"x": np.ones(3, bool)})
