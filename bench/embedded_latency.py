"""Latency per image of the generators that need no pretrained weights (CPU): the embedded
codec (1 and 4 candidates, with best-of-N ranking) and ``none`` on pixels.

Writes bench/results/embedded_latency.json (median of repeats, seconds per image). The
diffusion backends are measured by bench/reconstruction_latency.py.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from neurodecode.reconstruct.base import Conditioning
from neurodecode.reconstruct.embedded import EmbeddedGenerator
from neurodecode.reconstruct.pixels import PixelGenerator
from neurodecode.reconstruct.reconstructor import Reconstructor

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def per_image(run, n_images: int, repeats: int = 7) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / n_images


def main() -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    gen = EmbeddedGenerator()
    rows = []
    for n_images in (1, 100):
        preds = {"world-embed": rng.normal(size=(n_images, 20)).astype(np.float32),
                 "pixels-16": rng.random((n_images, 3, 16, 16)).astype(np.float32)}
        for n_samples in (1, 4):
            recon = Reconstructor(gen, selector=gen.encode_images, n_samples=n_samples)
            rows.append({"backend": "embedded", "n_images": n_images, "n_samples": n_samples,
                         "size": 32, "seconds_per_image":
                         per_image(lambda r=recon, p=preds: r.reconstruct(p), n_images)})
        pixels = Reconstructor(PixelGenerator(size=32))
        rows.append({"backend": "none (pixels)", "n_images": n_images, "n_samples": 1,
                     "size": 32, "seconds_per_image":
                     per_image(lambda r=pixels, p=preds: r.reconstruct(p), n_images)})
    cond = Conditioning(semantic=rng.normal(size=(1, 20)).astype(np.float32))
    rows.append({"backend": "embedded (generator only)", "n_images": 1, "n_samples": 1,
                 "size": 32, "seconds_per_image": per_image(lambda: gen.generate(cond), 1)})
    out = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "statistic": "median of 7 repeats",
           "results": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embedded_latency.json").write_text(json.dumps(out, indent=2) + "\n")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
