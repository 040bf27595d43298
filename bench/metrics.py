"""Speed of the vectorised reconstruction metrics against per-image reference loops.

Reference implementations are the usual per-image loops of the NSD evaluation scripts:
``skimage.color.rgb2gray`` then ``skimage.metrics.structural_similarity`` per image
(Gaussian σ 1.5, population covariance, data range 1), ``np.corrcoef`` per image for PixCorr, and a per-reconstruction
loop for two-way identification. Both sides get the same resized inputs; the numbers must agree.

Run: ``python bench/metrics.py`` → ``bench/results/metrics.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import skimage
import torch
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from neurodecode._files import write_json
from neurodecode.metrics.identification import two_way_identification
from neurodecode.metrics.images import pixcorr_scores, resize_images, ssim_scores

RESULT = Path(__file__).parent / "results" / "metrics.json"
N_IMAGES, SOURCE_SIZE, SIZE, REPEATS = 64, 256, 425, 3
N_FEATURES, FEATURE_DIM = 300, 4096


def median_time(fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def ssim_loop(g: np.ndarray, r: np.ndarray) -> np.ndarray:
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    out = []
    for a, b in zip(g, r, strict=True):
        a, b = rgb2gray(a).astype(np.float64), rgb2gray(b).astype(np.float64)
        out.append(structural_similarity(a, b, **kw))
    return np.array(out)


def pixcorr_loop(g: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.array([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(g, r, strict=True)])


def two_way_loop(true: np.ndarray, pred: np.ndarray) -> float:
    n = len(true)
    wins = []
    for j in range(n):
        r = np.array([np.corrcoef(true[i], pred[j])[0, 1] for i in range(n)])
        wins.append((np.delete(r, j) < r[j]).mean())
    return float(np.mean(wins))


def compare(name: str, ours, reference, unit: str, count: int) -> dict:
    t_ours, v_ours = median_time(ours)
    t_ref, v_ref = median_time(reference)
    return {
        "metric": name,
        "n": count,
        f"ours_s_per_{unit}": t_ours / count,
        f"reference_s_per_{unit}": t_ref / count,
        "speedup_vs_reference": round(t_ref / t_ours, 2),
        "max_abs_difference": float(np.max(np.abs(np.asarray(v_ours) - np.asarray(v_ref)))),
    }


def main() -> None:
    rng = np.random.default_rng(0)
    gt = rng.random((N_IMAGES, SOURCE_SIZE, SOURCE_SIZE, 3), dtype=np.float32)
    rec = np.clip(gt + 0.3 * rng.standard_normal(gt.shape, dtype=np.float32), 0, 1)
    # inputs already at 425 px, so both sides time the metric itself, not the resize
    g = resize_images(gt, SIZE).permute(0, 2, 3, 1).numpy()
    r = resize_images(rec, SIZE).permute(0, 2, 3, 1).numpy()
    true = rng.standard_normal((N_FEATURES, FEATURE_DIM))
    pred = true + 2 * rng.standard_normal(true.shape)
    rows = [
        compare("SSIM", lambda: ssim_scores(g, r), lambda: ssim_loop(g, r), "image", N_IMAGES),
        compare(
            "PixCorr", lambda: pixcorr_scores(g, r), lambda: pixcorr_loop(g, r), "image", N_IMAGES
        ),
        compare(
            "two-way identification",
            lambda: two_way_identification(true, pred),
            lambda: two_way_loop(true, pred),
            "item",
            N_FEATURES,
        ),
    ]
    result = {
        "benchmark": "metrics",
        "description": (
            f"medians of {REPEATS} repeats; SSIM/PixCorr on {N_IMAGES} images resized "
            f"{SOURCE_SIZE}->{SIZE} px (inputs already at 425 px); two-way identification on "
            f"{N_FEATURES} items x {FEATURE_DIM} features; reference = per-image loops"
        ),
        "rows": rows,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "skimage": skimage.__version__,
            "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0],
        },
    }
    write_json(RESULT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
