"""WorldProbe: a feature network for scoring synthetic-vision reconstructions that is
independent of the embedded generator.

The embedded codec's encoder ranks best-of-N candidates against the decoded embedding; a
metric computed with that same encoder is not independent of the selection (the kept
candidate is, by construction, the one that encoder likes best). The probe plays the role
AlexNet/Inception/CLIP play for natural images (ANCHORS.md, section 1): a separately trained
network, with another architecture (plain strided convolutions, batch-free, global average
pooling), trained from another seed on other images (stimulus seed ``20_000 + seed``; the codec
uses ``10_000 + seed``), shipped as ``weights/world-probe.safetensors`` with a JSON record of
how it was made. Reproduce with :func:`train_probe`.

Its layers give two metrics: ``WorldProbe(early)`` (the first convolution block: colour and
position) and ``WorldProbe(semantic)`` (its predicted world embedding: shape, colour, texture,
background, position, size).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from neurodecode._files import atomic_path, write_json
from neurodecode.errors import DataError

WEIGHTS = Path(__file__).parent / "weights" / "world-probe.safetensors"
IMAGE_SIZE = 32


class WorldProbe(nn.Module):
    """Image ``(n, 3, 32, 32)`` in [0, 1] → world embedding ``(n, embed_dim)``."""

    def __init__(self, embed_dim: int = 20, channels: int = 24):
        super().__init__()
        c = channels
        self.early = nn.Sequential(nn.Conv2d(3, c, 5, 1, 2), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
                                 nn.Conv2d(2 * c, 2 * c, 3, 2, 1), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * c * 64, 128), nn.ReLU(),
                                  nn.Linear(128, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mid(self.early(x)))


def _images(images: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 3, 1, 2)


def train_probe(seed: int = 0, n_images: int = 6000, epochs: int = 6, batch_size: int = 128,
                lr: float = 2e-3) -> tuple[WorldProbe, dict]:
    """Train a probe on freshly rendered world images (stimulus seed ``20_000 + seed``)."""
    from neurodecode.synth.vision import EMBED_DIM, make_stimuli

    torch.manual_seed(seed)
    start = time.time()
    stimuli, semantic = make_stimuli(n_images, seed=20_000 + seed, image_size=IMAGE_SIZE)
    x, y = _images(stimuli.images), torch.from_numpy(semantic)
    probe = WorldProbe(EMBED_DIM)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (n_images // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    probe.train()
    for _ in range(epochs):
        order = torch.randperm(n_images, generator=gen)
        for i in range(n_images // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = F.mse_loss(probe(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    probe.eval()
    meta = {"seed": seed, "n_images": n_images, "epochs": epochs, "batch_size": batch_size,
            "lr": lr, "stimulus_seed": 20_000 + seed, "final_loss": round(float(loss.detach()), 4),
            "train_seconds": round(time.time() - start, 1), "torch": torch.__version__,
            "function": f"neurodecode.metrics.world_probe.train_probe(seed={seed}, "
                        f"n_images={n_images}, epochs={epochs})"}
    return probe, meta


def save_probe(probe: WorldProbe, path: str | Path = WEIGHTS, meta: dict | None = None) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file({k: v.detach().half().contiguous() for k, v in probe.state_dict().items()},
                  str(tmp))
    write_json(path.with_suffix(".json"), {"embed_dim": probe.head[-1].out_features,
                                           "channels": probe.early[0].out_channels,
                                           **(meta or {})})
    return path


def load_probe(path: str | Path = WEIGHTS) -> WorldProbe:
    path = Path(path)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise DataError(f"{path}: WorldProbe weights (and their .json) not found")
    meta = json.loads(path.with_suffix(".json").read_text())
    probe = WorldProbe(meta["embed_dim"], meta["channels"])
    probe.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()}, strict=True)
    return probe.eval()


def probe_networks(path: str | Path = WEIGHTS) -> list:
    """``WorldProbe(early)`` and ``WorldProbe(semantic)`` feature networks (two-way
    identification), for synthetic-vision reconstructions."""
    from neurodecode.metrics.features import FeatureNetwork

    probe = load_probe(path)
    common = dict(input_size=IMAGE_SIZE, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                  model_id=f"neurodecode WorldProbe ({Path(path).name}; independent of the "
                           "embedded generator)")
    return [FeatureNetwork("WorldProbe(early)", probe, layer="early", **common),
            FeatureNetwork("WorldProbe(semantic)", probe, **common)]
