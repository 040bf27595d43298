"""PixCorr and SSIM against hand computations and scikit-image."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from neurodecode.data.errors import DataError
from neurodecode.metrics.images import (
    as_images,
    pixcorr_scores,
    resize_images,
    rgb_to_grey,
    ssim_scores,
)


def smooth_images(n, h, w, seed):
    """Random images with spatial structure (so SSIM is neither ~0 nor ~1)."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.random((n, 3, 6, 6), dtype=np.float32))
    fine = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    noise = torch.from_numpy(rng.random((n, 3, h, w), dtype=np.float32))
    return (0.8 * fine + 0.2 * noise).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def test_uint8_is_scaled_and_bad_input_is_refused():
    img = np.full((2, 4, 4, 3), 255, dtype=np.uint8)
    assert as_images(img).max() == 1.0 and as_images(img).dtype == np.float32
    with pytest.raises(DataError, match=r"\(n, H, W, 3\)"):
        as_images(np.zeros((2, 3, 4, 4)))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        as_images(np.full((2, 4, 4, 3), 255.0))
    with pytest.raises(DataError, match="one reconstruction per"):
        pixcorr_scores(np.zeros((3, 8, 8, 3)), np.zeros((2, 8, 8, 3)), size=8)


def test_resize_takes_shorter_side_and_optional_square_pre_resize():
    img = smooth_images(2, 10, 20, seed=0)
    assert resize_images(img, 5).shape == (2, 3, 5, 10)
    assert resize_images(img, 5, pre_resize=8).shape == (2, 3, 5, 5)
    assert resize_images(smooth_images(1, 425, 425, seed=0), 64).shape == (1, 3, 64, 64)
    # same size: untouched
    np.testing.assert_array_equal(resize_images(img, 10).permute(0, 2, 3, 1).numpy(), img)
    # downsampling is bilinear with antialiasing (torchvision.transforms.Resize on tensors)
    expected = F.interpolate(
        torch.from_numpy(img).permute(0, 3, 1, 2), (5, 10), mode="bilinear", antialias=True
    )
    torch.testing.assert_close(resize_images(img, 5), expected)


def test_pixcorr_equals_pearson_r_of_flattened_rgb():
    gt, rec = smooth_images(4, 16, 16, seed=1), smooth_images(4, 16, 16, seed=2)
    expected = [np.corrcoef(g.ravel(), r.ravel())[0, 1] for g, r in zip(gt, rec, strict=True)]
    np.testing.assert_allclose(pixcorr_scores(gt, rec, size=16), expected, rtol=1e-5)
    np.testing.assert_allclose(pixcorr_scores(gt, gt, size=16), 1.0, rtol=1e-6)
    np.testing.assert_allclose(pixcorr_scores(gt, 1 - gt, size=16), -1.0, rtol=1e-6)


def test_grey_conversion_matches_skimage():
    img = smooth_images(2, 12, 12, seed=3)
    grey = rgb_to_grey(torch.from_numpy(img).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(grey, rgb2gray(img), rtol=1e-6)


@pytest.mark.parametrize("pre_resize", [None, 256])
def test_ssim_equals_scikit_image_at_the_published_size(pre_resize):
    gt = smooth_images(3, 425, 425, seed=4)  # NSD stimuli are 425 px
    rec = smooth_images(3, 64, 64, seed=5)  # reconstructions of another size
    rec[0] = resize_images(gt[:1], 64).permute(0, 2, 3, 1).numpy()[0]  # resembles its stimulus
    scores = ssim_scores(gt, rec, pre_resize=pre_resize)
    # scikit-image filters float32 input in float32; the suite works in float64
    g = rgb_to_grey(resize_images(gt, 425, pre_resize)).double().numpy()
    r = rgb_to_grey(resize_images(rec, 425, pre_resize)).double().numpy()
    expected = [
        structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
        )
        for a, b in zip(g, r, strict=True)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)
    assert scores[0] > scores[1:].max()  # the resembling pair scores highest
    np.testing.assert_allclose(ssim_scores(gt, gt), 1.0, rtol=1e-9)
