"""Pixel-level reconstruction metrics: PixCorr and SSIM, plus the shared image preprocessing.

Definitions follow the NSD reconstruction papers (Ozcelik & VanRullen 2023; Scotti et al.,
MindEye 2023 and MindEye2 2024): images are floats in [0, 1], resized with bilinear
interpolation so that their shorter side is 425 px, then

- PixCorr: Pearson r between the flattened RGB pixels of each reconstruction and its own
  ground truth, averaged over images;
- SSIM: images converted to grey with the ITU-R BT.709 luma weights used by
  ``skimage.color.rgb2gray`` (0.2125 R + 0.7154 G + 0.0721 B), then the Gaussian-weighted SSIM
  of Wang et al. (2004): σ = 1.5 (11-tap window), population covariance, data range 1,
  K1 = 0.01, K2 = 0.03, averaged over the image minus a 5-pixel border. This equals
  ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1.0)``.

Resizing is ``torch.nn.functional.interpolate(mode="bilinear", antialias=True,
align_corners=False)`` (what ``torchvision.transforms.Resize`` does on tensors), recorded as
:data:`INTERPOLATION` in every protocol. Optionally both image sets are first resized to a
common square size (``pre_resize=256`` reproduces MindEye2's evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from neurodecode.data.errors import DataError
from neurodecode.metrics.identification import rowwise_correlation

INTERPOLATION = "bilinear, antialias=True, align_corners=False (torch.nn.functional.interpolate)"
GREY_WEIGHTS = (0.2125, 0.7154, 0.0721)
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
PIXEL_SIZE = 425


def as_images(images: np.ndarray | torch.Tensor, name: str = "images") -> np.ndarray:
    """Validate an image stack and return it as float32 in [0, 1].

    Parameters
    ----------
    images : array, shape (n, H, W, 3)
        uint8 (0-255) or float (0-1) RGB images.
    name : str
        What to call the array in error messages (e.g. ``"ground truth"``).

    Returns
    -------
    ndarray, shape (n, H, W, 3), float32 in [0, 1]
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(
            f"{name}: expected RGB images of shape (n, H, W, 3), found shape {images.shape}; "
            "stack the images along a first axis with channels last"
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"{name}: expected uint8 or float images, found dtype {images.dtype}")
    lo, hi = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -1e-6 or hi > 1 + 1e-6:
        raise DataError(
            f"{name}: float images must lie in [0, 1], found values in [{lo:.4g}, {hi:.4g}]; "
            "divide uint8-range images by 255 or clip them"
        )
    return images.astype(np.float32, copy=False)


def check_pair(gt: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ground-truth and reconstructed stacks (same number of images)."""
    gt, rec = as_images(gt, "ground truth"), as_images(rec, "reconstructions")
    if len(gt) != len(rec):
        raise DataError(
            f"expected one reconstruction per ground-truth image, found {len(gt)} ground-truth "
            f"images and {len(rec)} reconstructions"
        )
    if len(gt) < 2:
        raise DataError(f"metrics need at least 2 images, found {len(gt)}")
    return gt, rec


def resize_images(images: np.ndarray, size: int, pre_resize: int | None = None) -> torch.Tensor:
    """Resize images so that their shorter side is ``size`` pixels.

    Parameters
    ----------
    images : ndarray, shape (n, H, W, 3), float in [0, 1]
    size : int
        Target length of the shorter side, in pixels (``torchvision.transforms.Resize(size)``).
    pre_resize : int or None
        If given, first resize to ``pre_resize × pre_resize`` (the "both images resized to
        256×256" step some papers apply before every metric).

    Returns
    -------
    Tensor, shape (n, 3, h, w), float32, channels first.
    """
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    if pre_resize is not None:
        x = _interpolate(x, (pre_resize, pre_resize))
    h, w = x.shape[-2:]
    # as torchvision: the longer side is int(size * long / short) (exact for square images)
    return _interpolate(x, (size, int(size * w / h)) if h <= w else (int(size * h / w), size))


def _interpolate(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return F.interpolate(x, size=shape, mode="bilinear", antialias=True, align_corners=False)


def resized_pairs(
    gt: np.ndarray, rec: np.ndarray, size: int, pre_resize: int | None, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield batches of resized (ground truth, reconstruction) tensors, (b, 3, h, w) each."""
    for start in range(0, len(gt), batch_size):
        g = resize_images(gt[start : start + batch_size], size, pre_resize)
        r = resize_images(rec[start : start + batch_size], size, pre_resize)
        if g.shape != r.shape:
            raise DataError(
                f"after resizing, ground truth has shape {tuple(g.shape[1:])} but "
                f"reconstructions have {tuple(r.shape[1:])}; images of different aspect "
                "ratios cannot be compared pixel-wise: pass pre_resize=256 to square both"
            )
        yield g, r


def rgb_to_grey(x: torch.Tensor) -> torch.Tensor:
    """Grey levels ``0.2125 R + 0.7154 G + 0.0721 B`` (as skimage.color.rgb2gray).

    Parameters
    ----------
    x : Tensor, shape (n, 3, h, w)

    Returns
    -------
    Tensor, shape (n, h, w)
    """
    return torch.einsum("nchw,c->nhw", x, torch.tensor(GREY_WEIGHTS, dtype=x.dtype))


def pixcorr_scores(
    gt: np.ndarray,
    rec: np.ndarray,
    *,
    size: int = PIXEL_SIZE,
    pre_resize: int | None = None,
    batch_size: int = 8,
) -> np.ndarray:
    """Per-image PixCorr: Pearson r of flattened RGB pixels after resizing.

    Parameters
    ----------
    gt, rec : array, shape (n, H, W, 3)
        Ground-truth and reconstructed images (uint8 or float in [0, 1]); sizes may differ.
    size : int
        Shorter side after resizing, pixels (425 in the published protocol).
    pre_resize : int or None
        Optional common square size applied first (e.g. 256).
    batch_size : int
        Images processed at a time (bounds memory; a few images at 425 px stay in cache,
        which is faster than one large array).

    Returns
    -------
    ndarray, shape (n,)
        r(GT_i, rec_i); the metric is their mean. A constant image gives r = 0.
    """
    gt, rec = check_pair(gt, rec)
    out = [
        rowwise_correlation(g.numpy(), r.numpy())
        for g, r in resized_pairs(gt, rec, size, pre_resize, batch_size)
    ]
    return np.concatenate(out)


def ssim_grey(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gaussian-weighted SSIM between matching grey images (Wang et al. 2004).

    σ = 1.5 with an 11-pixel window (truncate 3.5), population covariance, data range 1,
    mean over the image minus a 5-pixel border: equal to scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1.0)``, computed for a whole stack at once.

    Parameters
    ----------
    a, b : ndarray, shape (n, h, w), values in [0, 1]

    Returns
    -------
    ndarray, shape (n,)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    if min(a.shape[1:]) < 2 * radius + 1:
        raise DataError(f"SSIM needs images of at least 11×11 pixels, found {a.shape[1:]}")

    def blur(x: np.ndarray) -> np.ndarray:
        out = ndimage.gaussian_filter(
            x, sigma=(0, SSIM_SIGMA, SSIM_SIGMA), truncate=SSIM_TRUNCATE, mode="reflect"
        )
        return out[:, radius:-radius, radius:-radius]

    c1, c2 = 0.01**2, 0.03**2
    ua, ub = blur(a), blur(b)
    va = blur(a * a) - ua * ua
    vb = blur(b * b) - ub * ub
    vab = blur(a * b) - ua * ub
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua**2 + ub**2 + c1) * (va + vb + c2))
    return s.mean(axis=(1, 2))


def ssim_scores(
    gt: np.ndarray,
    rec: np.ndarray,
    *,
    size: int = PIXEL_SIZE,
    pre_resize: int | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """Per-image SSIM after resizing and conversion to grey (see module docstring).

    Parameters
    ----------
    gt, rec : array, shape (n, H, W, 3)
    size, pre_resize, batch_size
        As in :func:`pixcorr_scores`.

    Returns
    -------
    ndarray, shape (n,)
    """
    gt, rec = check_pair(gt, rec)
    out = [
        ssim_grey(rgb_to_grey(g).numpy(), rgb_to_grey(r).numpy())
        for g, r in resized_pairs(gt, rec, size, pre_resize, batch_size)
    ]
    return np.concatenate(out)
