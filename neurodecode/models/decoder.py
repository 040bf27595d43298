"""The cross-subject decoder: subject adapters → shared residual-MLP backbone → heads.

Heads map the backbone output to named target spaces:

- ``linear`` — one linear layer to a pooled vector (or flattened target);
- ``lowrank`` — width → rank → flattened tokens: a 257x768 head at width 2048 costs
  2048·r + r·197k parameters instead of 404 M (the dense MindBridge/MindEye head);
- ``tokenwise`` — one shared projection plus a learned query per token, then a per-token
  linear layer (cost independent of the number of tokens);
- ``spatial`` — a small upsampling conv decoder for pixels or VAE latents (low-level branch).

``DecoderConfig.decoder`` chooses what sits between the voxels and the targets:

- ``deep`` — adapters → backbone → heads (above);
- ``ridge`` — one ridge regression per subject and head on standardised voxels, penalty per
  target column chosen by cross-validation inside the training data (:mod:`neurodecode.ridge`;
  Takagi & Nishimoto, CVPR 2023; Ozcelik & VanRullen 2023). A head may read only a region of
  interest (``HeadConfig.roi``: e.g. early visual cortex → pixels/VAE latent, higher visual
  cortex → semantic embedding, Takagi & Nishimoto's recipe);
- ``ridge+deep`` — both, blended per head: ``mix * deep + (1 - mix) * ridge``, with ``mix``
  (a buffer, one per head) chosen on a validation split of the training stimuli after the
  deep part is trained (stacking, Wolpert 1992; Breiman 1996). With ~100 training trials the
  deep part loses to ridge and the blend falls back to ridge (``mix`` near 0); with several
  subjects' data the shared deep decoder wins and the blend keeps it, plus what ridge adds.
  (A residual on top of ridge was tried first: trained on in-sample ridge residuals, which are
  small when voxels outnumber trials, it learned nothing and stayed at ridge.)

Ridge weights are fitted in closed form (:func:`neurodecode.training.trainer.fit_ridge`), not
by gradient descent, and stored as buffers (so checkpoints hold them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from neurodecode.models.adapters import AdapterConfig, Builder, build_adapter

DECODERS = ("deep", "ridge", "ridge+deep")


@dataclass
class HeadConfig:
    """One output: ``target`` names the target space, ``shape`` its per-stimulus shape."""

    target: str
    shape: tuple[int, ...]
    kind: str = "linear"
    rank: int = 64
    channels: int = 64
    roi: str | None = None  # ridge part reads only voxels of this ROI (TrialData.info["rois"])


@dataclass
class DecoderConfig:
    """Everything that defines a decoder's architecture (saved as JSON beside the weights)."""

    n_features: dict[str, int]
    heads: list[HeadConfig]
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    width: int = 512
    depth: int = 2
    dropout: float = 0.15
    decoder: str = "deep"  # deep | ridge | ridge+deep

    def __post_init__(self):
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose from {DECODERS}")

    @property
    def has_ridge(self) -> bool:
        return self.decoder in ("ridge", "ridge+deep")

    @property
    def has_deep(self) -> bool:
        return self.decoder in ("deep", "ridge+deep")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DecoderConfig:
        return cls(
            n_features={str(k): int(v) for k, v in d["n_features"].items()},
            heads=[HeadConfig(**{**h, "shape": tuple(h["shape"])}) for h in d["heads"]],
            adapter=AdapterConfig(**d.get("adapter", {})),
            width=d.get("width", 512),
            depth=d.get("depth", 2),
            dropout=d.get("dropout", 0.15),
            decoder=d.get("decoder", "deep"),
        )


class ResidualMLP(nn.Module):
    """``depth`` blocks of LayerNorm → Linear → GELU → Dropout, each with a skip connection."""

    def __init__(self, width: int, depth: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(),
                          nn.Dropout(dropout))
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = h + block(h)
        return self.norm(h)


class SpatialHead(nn.Module):
    """width → (channels, 4, 4) → upsampling conv blocks → (C, H, W) (H a power-of-2 multiple
    of 4)."""

    def __init__(self, width: int, shape: tuple[int, ...], channels: int):
        super().__init__()
        c_out, h, w = shape
        if h != w or h % 4 or (h // 4) & (h // 4 - 1):
            raise ValueError(f"spatial head needs square outputs of 4·2^k pixels, got {shape}")
        self.channels = channels
        self.fc = nn.Linear(width, channels * 16)
        layers: list[nn.Module] = []
        size = 4
        while size < h:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(8, channels),
                       nn.GELU()]
            size *= 2
        layers.append(nn.Conv2d(channels, c_out, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(-1, self.channels, 4, 4))


class LowRankHead(nn.Module):
    def __init__(self, width: int, shape: tuple[int, ...], rank: int):
        super().__init__()
        self.shape = shape
        self.net = nn.Sequential(nn.Linear(width, rank), nn.Linear(rank, int(np.prod(shape))))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h).view(-1, *self.shape)


class TokenwiseHead(nn.Module):
    def __init__(self, width: int, shape: tuple[int, ...]):
        super().__init__()
        n_tokens, dim = shape
        self.proj = nn.Linear(width, dim)
        self.queries = nn.Parameter(torch.randn(n_tokens, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.proj(h)[:, None, :] + self.queries[None]))


class LinearHead(nn.Module):
    def __init__(self, width: int, shape: tuple[int, ...]):
        super().__init__()
        self.shape = shape
        self.linear = nn.Linear(width, int(np.prod(shape)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).view(-1, *self.shape)


def build_head(width: int, cfg: HeadConfig) -> nn.Module:
    if cfg.kind == "linear":
        return LinearHead(width, cfg.shape)
    if cfg.kind == "lowrank":
        return LowRankHead(width, cfg.shape, cfg.rank)
    if cfg.kind == "tokenwise":
        if len(cfg.shape) != 2:
            raise ValueError(f"tokenwise head {cfg.target} needs (n_tokens, dim), got {cfg.shape}")
        return TokenwiseHead(width, cfg.shape)
    if cfg.kind == "spatial":
        return SpatialHead(width, cfg.shape, cfg.channels)
    raise ValueError(f"unknown head kind {cfg.kind!r} for {cfg.target}; choose linear, lowrank, "
                     "tokenwise or spatial")


class RidgeMap(nn.Module):
    """A fitted linear map from standardised voxels to one head's flattened target.

    ``weight`` (n_targets, n_voxels) and ``bias`` are buffers set by :meth:`set` from a
    :class:`neurodecode.ridge.MultiRidgeCV` fit (columns of voxels outside the head's ROI are
    zero); ``alphas`` the penalty chosen per target; ``fitted`` is 1 once set.
    """

    def __init__(self, n_in: int, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        n_out = int(np.prod(shape))
        self.register_buffer("weight", torch.zeros(n_out, n_in))
        self.register_buffer("bias", torch.zeros(n_out))
        self.register_buffer("alphas", torch.zeros(n_out))
        self.register_buffer("fitted", torch.zeros(()))

    def set(self, weight: np.ndarray, bias: np.ndarray, alphas: np.ndarray) -> None:
        self.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        self.alphas.copy_(torch.as_tensor(alphas, dtype=torch.float32))
        self.fitted.fill_(1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.weight.T + self.bias).view(-1, *self.shape)


class Standardize(nn.Module):
    """Per-voxel (x - mean) / std with statistics from *training* trials only (buffers)."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    def fit(self, X: np.ndarray) -> Standardize:
        X = np.asarray(X, dtype=np.float64)
        std = X.std(0)
        # Scale-free: MEG in tesla (~1e-13) must not meet an absolute epsilon.
        std = np.where(std > 1e-12 * (np.abs(X).max() + 1e-300), std, 1.0)
        self.mean.copy_(torch.from_numpy(X.mean(0)))
        self.std.copy_(torch.from_numpy(std))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class BrainDecoder(nn.Module):
    """Subject adapters + shared backbone + heads.

    ``forward(x, subject)`` takes ``x`` of shape ``(batch, n_features[subject])`` and returns
    ``{"shared": (batch, width), <target>: (batch, *shape), ...}``.
    """

    def __init__(self, cfg: DecoderConfig, coords: dict[str, np.ndarray] | None = None):
        super().__init__()
        self.cfg = cfg
        self.coords = coords or {}
        self.adapters = nn.ModuleDict()
        self.builders = nn.ModuleDict()
        self.scalers = nn.ModuleDict()
        self.ridge = nn.ModuleDict()
        if cfg.adapter.kind == "anat" and cfg.has_deep:
            self.anchor_proj = nn.Linear(cfg.adapter.anchors_per_axis**3, cfg.width)
        for subject, n_in in cfg.n_features.items():
            self.add_subject(subject, n_in, self.coords.get(subject))
        if cfg.has_deep:
            self.backbone = ResidualMLP(cfg.width, cfg.depth, cfg.dropout)
            self.heads = nn.ModuleDict({h.target: build_head(cfg.width, h) for h in cfg.heads})
        else:
            self.backbone = None
            self.heads = nn.ModuleDict()
        # ridge+deep: weight of the deep prediction per head (set on validation data)
        self.register_buffer("mix", torch.full((len(cfg.heads),), 1.0 if cfg.has_deep else 0.0))

    def add_subject(self, subject: str, n_in: int, coords: np.ndarray | None = None) -> None:
        """Create (or replace with a fresh one) the adapter and builder of ``subject``."""
        subject = str(subject)
        a = self.cfg.adapter
        self.scalers[subject] = Standardize(n_in)
        if self.cfg.has_deep:
            self.adapters[subject] = build_adapter(n_in, self.cfg.width, a, coords)
            if a.builder:
                self.builders[subject] = Builder(self.cfg.width, n_in, a.builder_hidden)
        if self.cfg.has_ridge:
            self.ridge[subject] = nn.ModuleDict(
                {h.target.replace(".", "_"): RidgeMap(n_in, h.shape) for h in self.cfg.heads})
        self.cfg.n_features[subject] = int(n_in)
        if coords is not None:
            self.coords[subject] = np.asarray(coords)

    def embed(self, x: torch.Tensor, subject: str, standardized: bool = False) -> torch.Tensor:
        """Subject voxels → shared space ``(batch, width)``.

        ``x`` is raw (standardised here with the subject's training statistics) unless
        ``standardized=True`` (e.g. voxels rebuilt by a builder, which already live in the
        standardised space).
        """
        subject = str(subject)
        if subject not in self.adapters:
            raise KeyError(f"no adapter for subject {subject!r}; known: {list(self.adapters)}")
        z = x if standardized else self.scalers[subject](x)
        out = self.adapters[subject](z)
        if isinstance(out, tuple):  # anatomical adapter: common-space anchors + residual
            anchors, residual = out
            return self.anchor_proj(anchors) + residual
        return out

    def decode(self, shared: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.backbone(shared)
        return {name: head(h) for name, head in self.heads.items()}

    def forward(self, x: torch.Tensor, subject: str,
                cycle_to: str | None = None) -> dict[str, torch.Tensor]:
        """Shared embedding and every head's prediction.

        With builders, also ``"rebuilt"`` (the subject's voxels rebuilt from the shared
        embedding); with ``cycle_to=b``, ``"cycled"`` = embed_b(builder_b(shared)) for the
        cycle loss. Everything goes through ``forward`` so that distributed training
        synchronises every gradient.
        """
        subject = str(subject)
        if subject not in self.scalers:
            raise KeyError(f"no subject {subject!r} in this decoder; known: "
                           f"{list(self.scalers)}")
        out: dict[str, torch.Tensor] = {}
        if self.cfg.has_deep:
            shared = self.embed(x, subject)
            out = {"shared": shared, **self.decode(shared)}
            if subject in self.builders:  # rebuilds the standardised voxels
                out["rebuilt"] = self.builders[subject](shared)
            if cycle_to is not None:
                # builders output standardised voxels: embed them without standardising again
                out["cycled"] = self.embed(self.builders[str(cycle_to)](shared), cycle_to,
                                           standardized=True)
        if self.cfg.has_ridge:
            z = self.scalers[subject](x)
            for i, h in enumerate(self.cfg.heads):
                base = self.ridge[subject][h.target.replace(".", "_")](z)
                if h.target in out:
                    m = self.mix[i]
                    out[h.target] = m * out[h.target] + (1 - m) * base
                else:
                    out[h.target] = base
        return out


def ridge_part(model: BrainDecoder) -> BrainDecoder:
    """The ridge decoder inside a ``ridge+deep`` model (same scalers, same fitted ridge maps):
    exactly the ridge baseline fitted on the same training trials, without refitting."""
    import copy

    if not model.cfg.has_ridge:
        raise ValueError(f"a {model.cfg.decoder!r} decoder has no ridge part")
    cfg = copy.deepcopy(model.cfg)
    cfg.decoder = "ridge"
    out = BrainDecoder(cfg, model.coords or None)
    out.scalers.load_state_dict(model.scalers.state_dict())
    out.ridge.load_state_dict(model.ridge.state_dict())
    return out.eval()


def count_parameters(cfg: DecoderConfig) -> dict[str, int]:
    """Parameter counts per part, computed on the meta device (no memory used)."""
    import copy

    cfg = copy.deepcopy(cfg)
    with torch.device("meta"):
        coords = None
        if cfg.adapter.kind == "anat":
            coords = {s: np.random.default_rng(0).normal(size=(n, 3))
                      for s, n in cfg.n_features.items()}
        model = BrainDecoder(cfg, coords)
    parts = {"adapters": model.adapters, "builders": model.builders,
             "backbone": model.backbone, "heads": model.heads}
    counts = {k: sum(p.numel() for p in m.parameters()) if m is not None else 0
              for k, m in parts.items()}
    counts["ridge"] = sum(b.numel() for n, b in model.ridge.named_buffers()
                          if n.endswith(("weight", "bias")))
    if hasattr(model, "anchor_proj"):
        counts["backbone"] += sum(p.numel() for p in model.anchor_proj.parameters())
    counts["total"] = sum(counts.values())
    return counts
