"""Motion decoding on synthetic-motion: the flow is what the frames show; decoded flow beats
zero- and mean-flow baselines; shuffled brain data falls to the mean-flow baseline."""

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from neurodecode.data.errors import DataError
from neurodecode.encoding.motion import (
    angular_error,
    endpoint_error,
    motion_decoding,
)
from neurodecode.synth import motion


@pytest.fixture(scope="module")
def world():
    return motion.make(seed=0, n_train=250, n_test=40, size=16, flow_size=4)


def test_flow_is_the_motion_between_frames(world):
    """Frame 1 sampled at p + flow(p) gives back frame 0 at p (away from the borders)."""
    frames, flows = world.truth["frames"], world.truth["flow_full"].astype(float)
    yy, xx = np.mgrid[0:16, 0:16]
    inner = (slice(4, 12), slice(4, 12))
    for clip in range(5):
        back = map_coordinates(frames[clip, 1].astype(float),
                               [yy + flows[clip, ..., 1], xx + flows[clip, ..., 0]], order=3)
        assert np.abs(back - frames[clip, 0])[inner].mean() < 0.1 * np.abs(
            frames[clip, 1] - frames[clip, 0])[inner].mean()


def test_error_measures_by_hand():
    true = np.zeros((1, 1, 2, 2))
    true[0, 0, 0] = [3.0, 4.0]
    pred = np.zeros_like(true)
    np.testing.assert_allclose(endpoint_error(true, pred), [2.5])  # (5 + 0) / 2
    # (3, 4, 1) vs (0, 0, 1): cos = 1 / sqrt(26)
    np.testing.assert_allclose(angular_error(true, pred),
                               [np.degrees(np.arccos(1 / np.sqrt(26))) / 2])
    with pytest.raises(DataError, match="share a shape"):
        endpoint_error(true, pred[..., :1])


def test_decoded_flow_beats_both_baselines_and_shuffled_falls_to_them(world):
    real = motion_decoding(world, model="ridge")
    best_baseline = min(real["epe[zero]"], real["epe[mean]"])
    assert real["epe[decoded]"] < 0.5 * best_baseline
    assert real["angular[decoded]"] < 0.5 * min(real["angular[zero]"], real["angular[mean]"])
    shuffled = motion_decoding(world, model="ridge", shuffle=True)
    assert shuffled["epe[decoded]"] > 0.95 * shuffled["epe[mean]"]


def test_world_round_trips_through_files(tmp_path):
    small = motion.make(seed=1, n_train=20, n_test=5, size=16, flow_size=4)
    motion.write(small, tmp_path)
    back = motion.read(tmp_path)
    np.testing.assert_allclose(back.subjects["1"].X, small.subjects["1"].X, atol=2e-3)
    np.testing.assert_array_equal(back.subjects["1"].stimulus_ids, small.subjects["1"].stimulus_ids)
    np.testing.assert_array_equal(back.truth["flow"], small.truth["flow"])
    np.testing.assert_array_equal(back.subjects["1"].info["rois"]["motion"],
                                  small.subjects["1"].info["rois"]["motion"])


def test_video_features_predict_motion_voxels_image_features_static_ones(world):
    from neurodecode.encoding.motion import video_vs_image_encoding

    table = video_vs_image_encoding(world)
    motion_vox, static_vox = table[table["roi"] == "motion"], table[table["roi"] == "static"]
    assert motion_vox["video>image"].mean() > 0.8 and motion_vox["image>video"].mean() < 0.05
    assert static_vox["image>video"].mean() > 0.8 and static_vox["video>image"].mean() < 0.05
