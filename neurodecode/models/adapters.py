"""Subject adapters: map one subject's voxels (its own count) into the shared space.

- ``linear`` — one linear map per subject (MindEye2, Scotti et al. 2024).
- ``mlp`` — Linear, LayerNorm, GELU, dropout, then one residual block (See Through Their
  Minds, Wang et al. 2025).
- ``pool`` — adaptive max-pool of the voxel vector to a common length, a low-rank residual
  adapter with zero-initialised up-projection, then a linear map (MindBridge, Wang et al. 2024).
- ``anat`` — anatomically aware (our design, after NeuroPictor's idea of a common cortical
  space): voxels are pooled onto fixed anchor points of a common space with Gaussian weights
  computed from voxel coordinates (each subject's coordinates centred and scaled), then a
  per-subject gain and bias per anchor; the anchor-to-shared-space map is *shared* by all
  subjects (held by the decoder), so corresponding locations align across brains and a new
  subject has only ``2 * n_anchors`` parameters plus a small low-rank residual to learn.

Every adapter also has a *builder* (its inverse, shared space → voxels) for MindBridge's cycle
and voxel-reconstruction losses, when ``builder=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class AdapterConfig:
    """How each subject enters the shared space.

    ``kind`` is linear | mlp | pool | anat; ``pool_size`` and ``rank`` serve ``pool`` (and
    ``rank`` the low-rank residual of ``anat``); ``n_anchors`` per axis cubed and
    ``anchor_sigma`` (in units of the subject's coordinate s.d.) serve ``anat``.
    """

    kind: str = "mlp"
    dropout: float = 0.5
    pool_size: int = 1024
    rank: int = 32
    anchors_per_axis: int = 6
    anchor_sigma: float = 0.35
    builder: bool = False
    builder_hidden: int = 256


class LinearAdapter(nn.Module):
    def __init__(self, n_in: int, width: int, cfg: AdapterConfig):
        super().__init__()
        self.linear = nn.Linear(n_in, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLPAdapter(nn.Module):
    def __init__(self, n_in: int, width: int, cfg: AdapterConfig):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(n_in, width), nn.LayerNorm(width), nn.GELU(),
                                  nn.Dropout(cfg.dropout))
        self.block = nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.GELU(),
                                   nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return h + self.block(h)


class PoolAdapter(nn.Module):
    def __init__(self, n_in: int, width: int, cfg: AdapterConfig):
        super().__init__()
        self.pool = nn.AdaptiveMaxPool1d(cfg.pool_size)
        self.down = nn.Linear(cfg.pool_size, cfg.rank, bias=False)
        self.up = nn.Linear(cfg.rank, cfg.pool_size, bias=False)
        nn.init.zeros_(self.up.weight)
        self.out = nn.Linear(cfg.pool_size, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pool(x.unsqueeze(1)).squeeze(1)
        return self.out(p + self.up(self.down(p)))


class AnatomicalAdapter(nn.Module):
    """Pool voxels onto common anchors (fixed weights from coordinates) + low-rank residual.

    ``forward`` returns ``(anchor_features (batch, n_anchors), residual (batch, width))``: the
    decoder embeds the anchor features with its shared anchor projection and adds the residual.
    """

    def __init__(self, n_in: int, width: int, cfg: AdapterConfig, coords: np.ndarray):
        super().__init__()
        coords = np.asarray(coords, dtype=np.float32)
        if coords.shape != (n_in, 3):
            raise ValueError(f"anat adapter needs voxel coordinates (n_voxels, 3) = ({n_in}, 3), "
                             f"got {coords.shape}")
        self.register_buffer("pool_weights", anchor_weights(coords, cfg.anchors_per_axis,
                                                            cfg.anchor_sigma))
        n_anchors = cfg.anchors_per_axis**3
        self.gain = nn.Parameter(torch.ones(n_anchors))
        self.bias = nn.Parameter(torch.zeros(n_anchors))
        self.down = nn.Linear(n_in, cfg.rank, bias=False)
        self.up = nn.Linear(cfg.rank, width, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        anchors = x @ self.pool_weights.T
        return anchors * self.gain + self.bias, self.up(self.down(x))


def anchor_weights(coords: np.ndarray, per_axis: int, sigma: float) -> torch.Tensor:
    """Row-normalised Gaussian weights ``(per_axis**3, n_voxels)`` from voxels to anchors.

    Coordinates are centred and scaled per axis (a crude common space); anchors form a regular
    grid spanning ±1.5 s.d. on each axis.
    """
    z = (coords - coords.mean(0)) / (coords.std(0) + 1e-6)
    axis = np.linspace(-1.5, 1.5, per_axis)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    d2 = ((grid[:, None, :] - z[None]) ** 2).sum(-1)
    w = np.exp(-d2 / (2 * sigma**2))
    w /= w.sum(1, keepdims=True) + 1e-12
    return torch.from_numpy(w.astype(np.float32))


class Builder(nn.Module):
    """Inverse of an adapter: shared space → the subject's voxels (MindBridge)."""

    def __init__(self, width: int, n_out: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, n_out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


ADAPTERS = {"linear": LinearAdapter, "mlp": MLPAdapter, "pool": PoolAdapter,
            "anat": AnatomicalAdapter}


def build_adapter(n_in: int, width: int, cfg: AdapterConfig,
                  coords: np.ndarray | None = None) -> nn.Module:
    """A fresh adapter of kind ``cfg.kind`` for a subject with ``n_in`` voxels."""
    if cfg.kind not in ADAPTERS:
        raise ValueError(f"unknown adapter kind {cfg.kind!r}; choose from {sorted(ADAPTERS)}")
    if cfg.kind == "anat":
        if coords is None:
            raise ValueError("the anat adapter needs voxel coordinates (TrialData.info"
                             "['voxel_coords'])")
        return AnatomicalAdapter(n_in, width, cfg, coords)
    return ADAPTERS[cfg.kind](n_in, width, cfg)
