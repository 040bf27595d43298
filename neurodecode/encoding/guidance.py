"""Brain-guided synthesis (BrainDiVE) with an image → brain encoder, for any ROI.

Luo, Henderson, Wehbe & Tarr (NeurIPS 2023), "Brain Diffusion for Visual Exploration": an
image-to-voxel encoder (a frozen image embedding, L2-normalised, then one linear layer per
subject) steers a diffusion sampler. At each step the clean sample is predicted from ``x_t``
(``x̂₀ = (x_t - √(1-ᾱ_t) ε̂) / √ᾱ_t``), decoded to an image and encoded to voxels; the loss is
``-scale × mean predicted ROI response`` and the noise prediction becomes
``ε̃ = ε̂ + √(1-ᾱ_t) ∇_{x_t} loss`` (i.e. ``ε̂ − √(1-ᾱ_t) ∇ (scale·response)``). The operator is
:class:`neurodecode.reconstruct.brain_guided.BrainGuidance` (UNet hooks for diffusers pipelines);
this module supplies what it acts on:

- :class:`ImageToBrainEncoder`: frozen embedding → L2 norm → linear voxel layer, fitted with the
  shared ridge (:class:`neurodecode.ridge.MultiRidgeCV`) and differentiable in the image;
- :func:`roi_mask`: an ROI as a NIfTI mask or atlas label (any grid: voxels are looked up by
  their millimetre coordinates), a boolean array or voxel indices;
- :class:`EmbeddedDiffusion`: a small latent diffusion model for the synthetic-vision world, so
  guidance runs offline: the latent is the world's semantic embedding with a Gaussian prior
  fitted to the world's stimuli (its noise prediction is the exact posterior mean of ε, no
  training), DDIM steps from diffusers, and the embedded generator as the decoder. Real
  pipelines use :class:`~neurodecode.reconstruct.brain_guided.BrainGuidedGenerator` with the
  same objective.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.reconstruct.brain_guided import BrainGuidance


# ----------------------------------------------------------------------------- encoder
class ImageToBrainEncoder(nn.Module):
    """Images ``(b, 3, H, W)`` in [0, 1] → predicted voxel responses ``(b, n_voxels)``.

    Parameters
    ----------
    embed : nn.Module or callable
        Frozen image embedding, differentiable (e.g. CLIP's image tower; the embedded codec's
        encoder for the synthetic world).
    weight : array, shape (d, n_voxels)
    bias : array, shape (n_voxels,)
        The linear layer on the L2-normalised embedding.
    """

    def __init__(self, embed: Callable[[torch.Tensor], torch.Tensor], weight: np.ndarray,
                 bias: np.ndarray):
        super().__init__()
        self.embed = embed
        self.linear = nn.Linear(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(np.asarray(weight).T))
            self.linear.bias.copy_(torch.as_tensor(np.asarray(bias)))
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        z = self.embed(images)
        z = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return self.linear(z)

    def objective(self, roi: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
        """``images → mean predicted response over the ROI voxels`` ``(b,)``."""
        idx = torch.as_tensor(np.flatnonzero(np.asarray(roi, bool)) if np.asarray(roi).dtype
                              == bool else np.asarray(roi, int))
        if idx.numel() == 0:
            raise DataError("the ROI holds no voxel of this encoder")
        return lambda images: self(images)[:, idx].mean(1)


def fit_image_encoder(embed: nn.Module, images: np.ndarray, responses: np.ndarray, *,
                      alphas=None, cv: int = 5, batch_size: int = 256) -> ImageToBrainEncoder:
    """Fit the linear voxel layer (ridge, alpha per voxel by blocked CV) on embedded images.

    Parameters
    ----------
    embed : nn.Module
        Frozen image embedding taking ``(b, 3, H, W)`` in [0, 1].
    images : array, shape (n, H, W, 3)
        uint8 or [0, 1] images, one per row of ``responses``.
    responses : array, shape (n, n_voxels)
    """
    from neurodecode.ridge import ALPHAS, MultiRidgeCV

    x = torch.as_tensor(np.asarray(images))
    x = (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()).permute(0, 3, 1, 2)
    if len(x) != len(responses):
        raise DataError(f"{len(x)} images but {len(responses)} response rows")
    with torch.no_grad():
        z = torch.cat([embed(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    z = (z / z.norm(dim=-1, keepdim=True).clamp_min(1e-8)).double().numpy()
    ridge = MultiRidgeCV(alphas=ALPHAS if alphas is None else alphas, cv=cv,
                         standardize=False).fit(z, np.asarray(responses, np.float64))
    return ImageToBrainEncoder(embed, ridge.coef_.astype(np.float32),
                               ridge.intercept_.astype(np.float32))


# ----------------------------------------------------------------------------- ROIs
def roi_mask(data: TrialData, roi, label: int | str | None = None,
             labels: dict | None = None) -> np.ndarray:
    """Which of ``data``'s voxels belong to an ROI: boolean ``(n_voxels,)``.

    ``roi`` is a boolean array or voxel indices, or a NIfTI file (a mask, or an atlas with
    ``label`` picking one region by value, or by name through ``labels`` {name: value}).
    Voxels are looked up by their millimetre coordinates (``data.info["voxel_coords"]``), so
    the image may be on any grid that covers them.
    """
    n_vox = data.X.shape[1]
    if isinstance(roi, str | os.PathLike):
        import nibabel as nib

        path = Path(roi)
        if not path.is_file():
            raise DataError(f"{path}: ROI image not found (a NIfTI mask or atlas)")
        coords = data.info.get("voxel_coords")
        if coords is None:
            raise DataError(f"subject {data.subject}: no voxel coordinates in info to place "
                            f"the ROI image {path} on")
        img = nib.load(str(path))
        values = np.asanyarray(img.dataobj)
        ijk = np.rint(np.c_[coords, np.ones(len(coords))] @ np.linalg.inv(img.affine).T)[:, :3]
        ijk = ijk.astype(int)
        inside = np.all((ijk >= 0) & (ijk < np.array(values.shape[:3])), axis=1)
        found = np.zeros(n_vox)
        found[inside] = values[tuple(ijk[inside].T)]
        if label is None:
            mask = found > 0
        else:
            value = labels[label] if labels is not None and label in labels else label
            mask = found == float(value)
        if not mask.any():
            raise DataError(f"{path}: the ROI{'' if label is None else f' {label!r}'} covers "
                            f"none of subject {data.subject}'s voxels")
        return mask
    arr = np.asarray(roi)
    if arr.dtype == bool:
        if arr.shape != (n_vox,):
            raise DataError(f"ROI mask has shape {arr.shape}; subject {data.subject} has "
                            f"{n_vox} voxels")
        return arr
    mask = np.zeros(n_vox, bool)
    mask[arr.astype(int)] = True
    return mask


# ----------------------------------------------------------------------------- sampler
class _GaussianEps(nn.Module):
    """Exact noise prediction for a Gaussian data distribution ``x0 ~ N(mu, Sigma)``.

    With ``x_t = √ᾱ x0 + √(1-ᾱ) ε``, ``E[ε | x_t] = √(1-ᾱ) (ᾱ Σ + (1-ᾱ) I)⁻¹ (x_t − √ᾱ μ)``.
    Called as a diffusers UNet, ``unet(x_t, t)``, returning a tuple.
    """

    def __init__(self, mu: torch.Tensor, cov: torch.Tensor, alphas_cumprod: torch.Tensor):
        super().__init__()
        self.register_buffer("mu", mu)
        evals, evecs = torch.linalg.eigh(cov)
        self.register_buffer("evals", evals.clamp_min(0))
        self.register_buffer("evecs", evecs)
        self.register_buffer("alphas_cumprod", alphas_cumprod.to(mu.dtype))

    def forward(self, x: torch.Tensor, t) -> tuple[torch.Tensor]:
        a = self.alphas_cumprod[torch.as_tensor(t).long()]
        centred = (x - a.sqrt() * self.mu) @ self.evecs
        eps = (1 - a).sqrt() * centred / (a * self.evals + (1 - a))
        return (eps @ self.evecs.T,)


class _Decoder(nn.Module):
    """The embedded generator as a diffusers-style VAE: ``decode(z).sample`` in [-1, 1]."""

    def __init__(self, codec):
        super().__init__()
        self.codec = codec
        self.config = SimpleNamespace(scaling_factor=1.0)

    def decode(self, z: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(sample=self.codec.generate(z) * 2 - 1)


class EmbeddedDiffusion:
    """DDIM sampling in the synthetic world's embedding space, decoded by the embedded generator.

    It has the parts :class:`~neurodecode.reconstruct.brain_guided.BrainGuidance` hooks into
    (``unet``, ``vae``, ``scheduler``), so guidance runs exactly as on Stable Diffusion.

    Parameters
    ----------
    embeddings : array, shape (n, d)
        Samples of the latent distribution (the world's semantic embeddings); its mean and
        covariance (plus ``ridge`` × I) define the prior.
    codec : WorldCodec, optional
        Decoder (default: the shipped embedded generator).
    dtype : torch.dtype
        float64 for gradient checks.
    """

    def __init__(self, embeddings: np.ndarray, codec=None, ridge: float = 1e-3,
                 dtype: torch.dtype = torch.float32):
        from diffusers import DDIMScheduler

        from neurodecode.reconstruct.embedded import load_codec

        e = torch.as_tensor(np.asarray(embeddings), dtype=dtype)
        if e.ndim != 2 or len(e) < 2:
            raise DataError(f"embeddings must be (n >= 2, d), got {tuple(e.shape)}")
        self.scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear",
                                       clip_sample=False, set_alpha_to_one=False)
        cov = torch.cov(e.T) + ridge * torch.eye(e.shape[1], dtype=dtype)
        self.unet = _GaussianEps(e.mean(0), cov, self.scheduler.alphas_cumprod)
        codec = load_codec() if codec is None else codec
        self.vae = _Decoder(codec.to(dtype))
        self.dim = e.shape[1]
        self.dtype = dtype

    @property
    def codec(self):
        return self.vae.codec

    def sample(self, n: int, *, steps: int = 50, seed: int = 0, objective=None,
               scale: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` samples: images ``(n, 32, 32, 3)`` in [0, 1] and latents ``(n, d)``.

        With ``objective`` the BrainDiVE operator guides every step with ``scale`` (0 gives the
        unguided samples exactly: same seed, same numbers). DDIM with η = 0, so the seed fixes
        the starting noise and everything after it.
        """
        g = torch.Generator().manual_seed(seed)
        x = torch.randn((n, self.dim), generator=g, dtype=self.dtype)
        x = x * self.scheduler.init_noise_sigma
        self.scheduler.set_timesteps(steps)
        handles = [] if objective is None else BrainGuidance(self, objective, scale).attach()
        try:
            with torch.no_grad():
                for t in self.scheduler.timesteps:
                    (eps,) = self.unet(x, t)
                    x = self.scheduler.step(eps, t, x).prev_sample
                images = self.codec.generate(x)
        finally:
            for handle in handles:
                handle.remove()
        return images.permute(0, 2, 3, 1).numpy(), x.numpy()

    def guidance_gradient(self, x: torch.Tensor, t: int, objective, scale: float
                          ) -> torch.Tensor:
        """``∇_{x_t} loss`` as the BrainDiVE operator applies it: ``(ε̃ − ε̂) / √(1-ᾱ_t)``."""
        (plain,) = self.unet(x, t)
        handles = BrainGuidance(self, objective, scale).attach()
        try:
            (guided,) = self.unet(x, t)
        finally:
            for handle in handles:
                handle.remove()
        sigma = (1 - self.scheduler.alphas_cumprod[t]).sqrt().to(x.dtype)
        return (guided - plain) / sigma

    def guidance_loss(self, x: torch.Tensor, t: int, objective, scale: float) -> torch.Tensor:
        """The loss the operator differentiates: ``-scale × Σ objective(decode(x̂₀(x_t)))``."""
        (eps,) = self.unet(x, t)
        a = self.scheduler.alphas_cumprod[t].to(x.dtype)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        images = (self.vae.decode(x0).sample / 2 + 0.5).clamp(0, 1)
        return -scale * objective(images).sum()
