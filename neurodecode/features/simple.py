"""Target spaces that need no pretrained network: pixels and the synthetic world's embedding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neurodecode.data.containers import StimulusSet
from neurodecode.data.errors import DataError
from neurodecode.features.base import TargetSpace


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 or [0, 1] float ``(n, H, W, 3)`` → float32 ``(n, 3, size, size)`` in [0, 1].

    Bilinear with antialiasing (``torch.nn.functional.interpolate``), so downsampling
    averages rather than aliases.
    """
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x.permute(0, 3, 1, 2)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    return x.clamp(0, 1).numpy()


@dataclass
class Pixels:
    """Images at ``resolution`` x ``resolution``: the classical low-level target."""

    resolution: int = 16

    @property
    def space(self) -> TargetSpace:
        return TargetSpace(f"pixels-{self.resolution}", (3, self.resolution, self.resolution),
                           "pixels")

    def cache_key(self) -> dict:
        return {"resolution": self.resolution}

    def extract(self, stimuli: StimulusSet) -> np.ndarray:
        return resize_images(stimuli.get_images(), self.resolution)


@dataclass
class WorldEmbedding:
    """The synthetic-vision world's semantic embedding, computed from stimulus attributes."""

    @property
    def space(self) -> TargetSpace:
        from neurodecode.synth.vision import EMBED_DIM

        return TargetSpace("world-embed", (EMBED_DIM,), "pooled")

    def cache_key(self) -> dict:
        return {}

    def extract(self, stimuli: StimulusSet) -> np.ndarray:
        from neurodecode.synth.vision import embed

        if stimuli.attributes is None or "shape" not in stimuli.attributes:
            raise DataError("world-embed needs synthetic-vision stimuli (attributes table)")
        return embed(stimuli.attributes)
