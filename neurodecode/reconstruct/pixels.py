"""``none`` for pixel targets: the decoded low-level image itself, upsampled (the classical
reconstruction; no generator, no pretrained weights)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodecode.data.errors import DataError
from neurodecode.reconstruct.base import Conditioning


class PixelGenerator:
    """Returns ``cond.init_images`` resized to ``size`` (bilinear); deterministic."""

    name = "none"

    def __init__(self, size: int = 32):
        self.size = size

    def generate(self, cond: Conditioning, n_samples: int = 1, steps: int = 20,
                 guidance: float = 5.0, strength: float = 0.8, seed: int = 0) -> np.ndarray:
        if cond.init_images is None:
            raise DataError("generator 'none' on pixels needs decoded low-level images "
                            "(a pixels-R target space)")
        x = torch.as_tensor(np.asarray(cond.init_images), dtype=torch.float32).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        images = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
        return np.repeat(images[:, None], n_samples, axis=1)
