"""Stable Diffusion img2img from decoded latents and text (Takagi & Nishimoto).

Takagi & Nishimoto (2023), "High-resolution image reconstruction with latent diffusion models
from human brain activity", CVPR: the VAE latent decoded from early visual cortex is noised to
``strength`` (0.8) and denoised (50 DDIM steps, CFG 5) under the text embedding decoded from
ventral cortex; their follow-up report adds decoded captions as prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import StableDiffusionImg2ImgPipeline

from neurodecode.data.errors import DataError
from neurodecode.reconstruct._diffusers import (
    PipelineGenerator,
    as_tensor,
    check_text,
    check_width,
    text_inputs,
)
from neurodecode.reconstruct.base import Conditioning


class SDImg2ImgGenerator(PipelineGenerator):
    """``sd-img2img``: Stable Diffusion img2img started from decoded VAE latents.

    Uses ``cond.init_latents`` (unscaled VAE latents, ``(n, 4, h, w)``; the output is
    ``8h x 8w`` pixels for SD) or else ``cond.init_images`` (``(n, H, W, 3)`` in [0, 1], encoded
    by the pipeline's VAE) as the init; ``cond.text_embeds`` ``(n, 77, d)`` as ``prompt_embeds``
    (``d`` = the UNet's cross-attention width, 768 for SD-1.x); ``cond.captions`` as the prompt
    when ``use_captions`` is set or no text embedding was decoded. With neither, the prompt is
    empty.

    Parameters
    ----------
    model : str, Path or StableDiffusionImg2ImgPipeline
        Default ``"CompVis/stable-diffusion-v1-4"`` (the paper's model).
    use_captions : bool
        Prefer decoded captions over decoded text embeddings when both are present.
    **kwargs
        ``allow_download``, ``device``, ``dtype``, ``batch_size``, ``progress``
        (see :class:`~neurodecode.reconstruct._diffusers.PipelineGenerator`).
    """

    name = "sd-img2img"
    pipeline_class = StableDiffusionImg2ImgPipeline
    default_model = "CompVis/stable-diffusion-v1-4"

    def __init__(self, model: Any = None, *, use_captions: bool = False,
                 allow_download: bool = False, device: str = "cpu", dtype: str = "float32",
                 batch_size: int = 4, progress: bool = True):
        super().__init__(model, allow_download=allow_download, device=device, dtype=dtype,
                         batch_size=batch_size, progress=progress)
        self.use_captions = use_captions

    def _check(self, pipe: Any, cond: Conditioning, steps: int, strength: float) -> None:
        if cond.init_latents is not None:
            shape = np.shape(cond.init_latents)
            channels = pipe.vae.config.latent_channels
            if len(shape) != 4 or shape[1] != channels:
                raise DataError(
                    f"{self.name}: Conditioning.init_latents must have shape (n, {channels}, h, w) "
                    f"for this VAE; found {shape}. Decode unscaled latents of the same VAE."
                )
        elif cond.init_images is not None:
            check_width(self.name, "init_images", np.asarray(cond.init_images), 4, 3,
                        "(n, H, W, d)")
        else:
            raise DataError(
                f"{self.name}: img2img needs an init; Conditioning has neither init_latents nor "
                "init_images. Decode VAE latents (or blurry images) first, or use the 'unclip' "
                "generator, which starts from noise."
            )
        if not 0 < strength <= 1 or int(steps * strength) < 1:
            raise ValueError(
                f"{self.name}: strength must be in (0, 1] with int(steps * strength) >= 1 so that "
                f"at least one denoising step runs; found strength={strength}, steps={steps}. "
                "To show the init itself, use the 'none' generator."
            )
        check_text(self.name, pipe, cond, self.use_captions)

    def _sample(self, pipe: Any, cond: Conditioning, generators: list[torch.Generator],
                steps: int, guidance: float, strength: float) -> np.ndarray:
        if cond.init_latents is not None:
            # latents given as ``image`` skip the VAE encoder, so they must be scaled here
            init = as_tensor(cond.init_latents, pipe.unet) * pipe.vae.config.scaling_factor
        else:
            init = as_tensor(np.moveaxis(np.asarray(cond.init_images), -1, 1), pipe.vae)
        return pipe(
            image=init, strength=strength, num_inference_steps=steps, guidance_scale=guidance,
            generator=generators, output_type="np", **text_inputs(pipe, cond, self.use_captions),
        ).images
