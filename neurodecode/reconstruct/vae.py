"""The classical low-level reconstruction: decoded VAE latents through the VAE decoder.

No diffusion: the image is what the decoded latent looks like (Takagi & Nishimoto's "z only"
reconstruction; the blurry stage of MindEye and See Through Their Minds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from neurodecode._hub import load_pretrained
from neurodecode.data.errors import DataError
from neurodecode.reconstruct._diffusers import (
    as_tensor,
    resolve_dtype,
    tensor_to_images,
)
from neurodecode.reconstruct.base import Conditioning


class VAEDecoderGenerator(BaseEstimator):
    """``none`` (latents): decode ``cond.init_latents`` with a diffusers ``AutoencoderKL``.

    Deterministic: ``steps``, ``guidance``, ``strength`` and ``seed`` are ignored and the
    ``n_samples`` candidates of a row are the same image.

    Parameters
    ----------
    model : str, Path or AutoencoderKL
        Hub id or local directory of the VAE that produced the latent space, or the built
        model. Default: Stable Diffusion 1.4's VAE (``"CompVis/stable-diffusion-v1-4"``,
        subfolder ``"vae"``), the ``sd-vae-latent`` space.
    subfolder : str or None
        Folder of the VAE inside ``model`` (``None`` for a stand-alone VAE repository).
    allow_download, device, dtype, batch_size, progress
        As for the diffusion backends.
    """

    name = "none"
    default_model = "CompVis/stable-diffusion-v1-4"

    def __init__(self, model: Any = None, *, subfolder: str | None = "vae",
                 allow_download: bool = False, device: str = "cpu", dtype: str = "float32",
                 batch_size: int = 8, progress: bool = True):
        self.model = model
        self.subfolder = subfolder
        self.allow_download = allow_download
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.progress = progress

    @property
    def vae(self) -> AutoencoderKL:
        """The VAE, loaded on first use (offline unless ``allow_download``)."""
        if getattr(self, "vae_", None) is None:
            source = self.default_model if self.model is None else self.model
            kwargs = {} if self.subfolder is None else {"subfolder": self.subfolder}
            vae = load_pretrained(AutoencoderKL, source, self.allow_download, self.name,
                                  torch_dtype=resolve_dtype(self.dtype), **kwargs)
            self.vae_ = vae.to(self.device).eval()
        return self.vae_

    def generate(self, cond: Conditioning, n_samples: int = 1, steps: int = 20,
                 guidance: float = 5.0, strength: float = 0.8, seed: int = 0) -> np.ndarray:
        """Decode the latents.

        Parameters
        ----------
        cond : Conditioning
            ``init_latents`` (n, c, h, w), unscaled as the VAE encoder outputs them.
        n_samples : int
            Copies per row (the decoding is deterministic).
        steps, guidance, strength, seed
            Ignored (no sampling).

        Returns
        -------
        images : ndarray, float32, shape (n, n_samples, f*h, f*w, 3), values in [0, 1]
            ``f`` is the VAE's downsampling factor (8 for SD).
        """
        vae = self.vae
        latents = cond.init_latents
        channels = vae.config.latent_channels
        if latents is None or np.ndim(latents) != 4 or np.shape(latents)[1] != channels:
            found = "nothing" if latents is None else f"shape {np.shape(latents)}"
            raise DataError(
                f"{self.name}: needs Conditioning.init_latents of shape (n, {channels}, h, w) "
                f"for this VAE; found {found}. Decode VAE latents from the brain first (decoded "
                "pixels need no generator)."
            )
        images = []
        starts = range(0, len(latents), self.batch_size)
        with torch.no_grad():
            for start in tqdm(starts, desc=self.name, disable=not self.progress):
                z = as_tensor(latents[start:start + self.batch_size], vae)
                images.append(tensor_to_images(vae.decode(z).sample))
        out = np.concatenate(images)
        return np.repeat(out[:, None], n_samples, axis=1)
