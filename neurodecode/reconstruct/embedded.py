"""The embedded generator: a small image codec for the synthetic-vision world.

It plays, for the synthetic world, the role a pretrained diffusion model and CLIP play for
natural images, and ships with the package (``weights/embedded-generator.safetensors``) so
the main job runs offline:

- an *encoder* maps an image (3x32x32) to the world's semantic embedding (``world-embed``);
  it ranks best-of-N candidates by their similarity to the *decoded* embedding and serves as
  an offline feature network for the metrics;
- a *generator* maps a semantic embedding, plus an optional low-level image (3x16x16, the
  decoded blurry reconstruction), to an image. ``strength`` in [0, 1] blends the generation
  without the low-level hint (weight ``strength``) with the one guided by it.

Reproduce the shipped weights with ``neurodecode train-generator`` (see :func:`train_codec`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from neurodecode._files import atomic_path, write_json
from neurodecode.data.errors import DataError
from neurodecode.reconstruct.base import Conditioning

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "embedded-generator.safetensors"


@dataclass
class CodecConfig:
    embed_dim: int = 20
    image_size: int = 32
    low_size: int = 16
    channels: int = 32


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(8, c_out), nn.SiLU())


class WorldCodec(nn.Module):
    """Encoder (image → embedding) and generator (embedding [+ low-level] → image)."""

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.encoder = nn.Sequential(
            _block(3, c, 2), _block(c, 2 * c, 2), _block(2 * c, 4 * c, 2), nn.Flatten(),
            nn.Linear(4 * c * 16, 256), nn.SiLU(), nn.Linear(256, cfg.embed_dim),
        )
        self.sem = nn.Sequential(nn.Linear(cfg.embed_dim, 256), nn.SiLU(),
                                 nn.Linear(256, 4 * c * 16))
        self.low16 = _block(6, c)           # low-level image, availability flag, x/y coordinates
        self.low8 = _block(c, 2 * c, 2)
        self.low4 = _block(2 * c, 4 * c, 2)
        self.up8 = _block(4 * c + 2 * c, 2 * c)
        self.up16 = _block(2 * c + c, c)
        self.up32 = _block(c + 2, c)
        self.out = nn.Conv2d(c, 3, 3, 1, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(n, 3, 32, 32)`` in [0, 1] → embeddings ``(n, embed_dim)``."""
        return self.encoder(images * 2 - 1)

    def generate(self, semantic: torch.Tensor, low: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings ``(n, d)`` [+ low-level ``(n, 3, 16, 16)`` in [0, 1]] → images in [0, 1]."""
        n = len(semantic)
        size = self.cfg.low_size
        if low is None:
            low_in = semantic.new_zeros(n, 4, size, size)
        else:
            low_in = torch.cat([low * 2 - 1, semantic.new_ones(n, 1, size, size)], 1)
        l16 = self.low16(torch.cat([low_in, _coords(n, size, semantic)], 1))
        l8 = self.low8(l16)
        h = self.low4(l8) + self.sem(semantic).view(n, -1, 4, 4)
        h = self.up8(torch.cat([F.interpolate(h, scale_factor=2.0), l8], 1))
        h = self.up16(torch.cat([F.interpolate(h, scale_factor=2.0), l16], 1))
        h = F.interpolate(h, scale_factor=2.0)
        h = self.up32(torch.cat([h, _coords(n, h.shape[-1], h)], 1))
        return torch.sigmoid(self.out(h))


def _coords(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """x and y coordinate channels in [-1, 1], ``(n, 2, size, size)`` (CoordConv, Liu et al.
    2018: lets convolutions place a shape at a position given as numbers)."""
    axis = torch.linspace(-1, 1, size, dtype=like.dtype)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx, yy]).expand(n, 2, size, size)


def save_codec(codec: WorldCodec, path: str | Path, meta: dict) -> Path:
    """Weights as float16 safetensors + ``.json`` (config and how they were trained)."""
    path = Path(path)
    tensors = {k: v.detach().half().contiguous() for k, v in codec.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    write_json(path.with_suffix(".json"), {"config": asdict(codec.cfg), **meta})
    return path


def load_codec(path: str | Path = DEFAULT_WEIGHTS) -> WorldCodec:
    """Load a codec strictly (every tensor must match the config)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        raise DataError(f"{path}: embedded generator weights not found (expected the "
                        ".safetensors file and its .json); run `neurodecode train-generator`")
    codec = WorldCodec(CodecConfig(**json.loads(meta_path.read_text())["config"]))
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    try:
        codec.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(f"{path} does not match its config: {err}") from err
    return codec.eval()


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 3, 1, 2)


def train_codec(seed: int = 0, n_images: int = 12000, epochs: int = 10, batch_size: int = 128,
                lr: float = 3e-3, quiet: bool = False) -> tuple[WorldCodec, dict]:
    """Train the codec on freshly rendered synthetic-vision images.

    Images come from stimulus seed ``10_000 + seed``, so the codec never sees the images of a
    world built with a small seed. The generator learns from noisy embeddings (σ ~ U(0, 0.25))
    and from a low-level hint (the 16x16 image plus noise) and without it, in every batch.
    """
    from neurodecode.features.simple import resize_images
    from neurodecode.synth.vision import EMBED_DIM, make_stimuli

    torch.manual_seed(seed)
    start = time.time()
    stimuli, semantic = make_stimuli(n_images, seed=10_000 + seed)
    images = _to_tensor(stimuli.images)
    low = torch.from_numpy(resize_images(stimuli.images, 16))
    sem = torch.from_numpy(semantic)
    codec = WorldCodec(CodecConfig(embed_dim=EMBED_DIM, image_size=images.shape[-1]))
    opt = torch.optim.AdamW(codec.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (n_images // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(total=steps, disable=quiet, desc="train-generator", unit="step")
    codec.train()
    for _ in range(epochs):
        order = torch.randperm(n_images, generator=gen)
        for i in range(n_images // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x, s, lo = images[idx], sem[idx], low[idx]
            noisy = s + torch.rand(len(s), 1, generator=gen) * 0.25 * torch.randn(
                s.shape, generator=gen)
            hint = lo + 0.1 * torch.randn(lo.shape, generator=gen)
            out_hint = codec.generate(noisy, hint.clamp(0, 1))
            out_free = codec.generate(noisy)
            loss_gen = F.l1_loss(out_hint, x) + F.l1_loss(out_free, x)
            loss_enc = F.mse_loss(codec.encode(x), s)
            loss = loss_gen + loss_enc
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(gen=f"{loss_gen.item():.3f}", enc=f"{loss_enc.item():.3f}")
    bar.close()
    codec.eval()
    meta = {"seed": seed, "n_images": n_images, "epochs": epochs, "batch_size": batch_size,
            "lr": lr, "train_seconds": round(time.time() - start, 1),
            "torch": torch.__version__, "command":
            f"neurodecode train-generator --seed {seed} --n-images {n_images} --epochs {epochs}"}
    return codec, meta


class EmbeddedGenerator:
    """:class:`~neurodecode.reconstruct.base.Generator` over the shipped :class:`WorldCodec`.

    Uses ``cond.semantic`` (required) and ``cond.init_images`` (optional low-level hint).
    Candidates ``k > 0`` perturb the semantic embedding with Gaussian noise of s.d.
    ``sample_noise`` (seeded by ``seed + k``); candidate 0 is the embedding itself.
    """

    name = "embedded"

    def __init__(self, weights: str | Path | WorldCodec = DEFAULT_WEIGHTS,
                 sample_noise: float = 0.3):
        self.codec = weights if isinstance(weights, WorldCodec) else load_codec(weights)
        self.sample_noise = sample_noise

    @torch.no_grad()
    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Images (n, H, W, 3), uint8 or [0, 1] → world embeddings (n, d)."""
        x = _to_tensor(images)
        size = self.codec.cfg.image_size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        return self.codec.encode(x).numpy()

    @torch.no_grad()
    def generate(self, cond: Conditioning, n_samples: int = 1, steps: int = 20,
                 guidance: float = 5.0, strength: float = 0.5, seed: int = 0) -> np.ndarray:
        if cond.semantic is None:
            raise DataError("the embedded generator needs decoded world embeddings "
                            "(Conditioning.semantic, target space 'world-embed')")
        sem = torch.as_tensor(np.asarray(cond.semantic), dtype=torch.float32)
        low = None
        if cond.init_images is not None:
            low = _to_tensor(cond.init_images)
            size = self.codec.cfg.low_size
            if low.shape[-1] != size:
                low = F.interpolate(low, size=(size, size), mode="bilinear", antialias=True)
            low = low.clamp(0, 1)
        out = []
        for k in range(n_samples):
            s = sem
            if k > 0:
                g = torch.Generator().manual_seed(seed + k)
                s = sem + self.sample_noise * torch.randn(sem.shape, generator=g)
            free = self.codec.generate(s)
            image = free if low is None else (
                strength * free + (1 - strength) * self.codec.generate(s, low))
            out.append(image.permute(0, 2, 3, 1).numpy())
        return np.stack(out, axis=1)
