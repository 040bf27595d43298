"""Stable unCLIP conditioned on decoded CLIP image embeddings.

Stable unCLIP (Stability AI, SD-2.1-unclip) is Stable Diffusion fine-tuned to take a (noised)
CLIP image embedding as an extra class embedding; MindEye2 (Scotti et al., ICML 2024) decodes
such embeddings from fMRI and renders them with an unCLIP model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import StableUnCLIPImg2ImgPipeline

from neurodecode.data.errors import DataError
from neurodecode.reconstruct._diffusers import (
    PipelineGenerator,
    as_tensor,
    check_text,
    check_width,
    text_inputs,
)
from neurodecode.reconstruct.base import Conditioning


class UnCLIPGenerator(PipelineGenerator):
    """``unclip``: images from pooled CLIP image embeddings, starting from noise.

    Uses ``cond.image_embeds`` ``(n, d)`` (``d`` = the model's image-embedding width: 768 for
    ``stable-diffusion-2-1-unclip-small`` (CLIP ViT-L/14), 1024 for the ViT-H model), given to
    the pipeline as ``image_embeds`` so no image encoder runs on them; optional text as for
    ``sd-img2img`` (``text_embeds`` as ``prompt_embeds``, or captions). There is no init, so
    ``strength`` and low-level fields are ignored.

    Parameters
    ----------
    model : str, Path or StableUnCLIPImg2ImgPipeline
        Default ``"stabilityai/stable-diffusion-2-1-unclip-small"``.
    noise_level : int
        Noise added to the image embedding (0 = follow it exactly; higher = more variation).
    size : int, optional
        Output height and width in pixels (multiple of 8); default from the UNet config.
    use_captions : bool
        Prefer decoded captions over decoded text embeddings when both are present.
    **kwargs
        ``allow_download``, ``device``, ``dtype``, ``batch_size``, ``progress``.
    """

    name = "unclip"
    pipeline_class = StableUnCLIPImg2ImgPipeline
    default_model = "stabilityai/stable-diffusion-2-1-unclip-small"

    def __init__(self, model: Any = None, *, noise_level: int = 0, size: int | None = None,
                 use_captions: bool = False, allow_download: bool = False, device: str = "cpu",
                 dtype: str = "float32", batch_size: int = 4, progress: bool = True):
        super().__init__(model, allow_download=allow_download, device=device, dtype=dtype,
                         batch_size=batch_size, progress=progress)
        self.noise_level = noise_level
        self.size = size
        self.use_captions = use_captions

    def _check(self, pipe: Any, cond: Conditioning, steps: int, strength: float) -> None:
        if cond.image_embeds is None:
            raise DataError(
                f"{self.name}: Conditioning.image_embeds is missing; unCLIP is conditioned on "
                "decoded pooled CLIP image embeddings (n, d)."
            )
        check_width(self.name, "image_embeds", np.asarray(cond.image_embeds), 2,
                    pipe.image_normalizer.mean.shape[-1], "(n, d) (pooled, not tokens)")
        check_text(self.name, pipe, cond, self.use_captions)

    def _sample(self, pipe: Any, cond: Conditioning, generators: list[torch.Generator],
                steps: int, guidance: float, strength: float) -> np.ndarray:
        return pipe(
            image_embeds=as_tensor(cond.image_embeds, pipe.unet), height=self.size,
            width=self.size, num_inference_steps=steps, guidance_scale=guidance,
            noise_level=self.noise_level, generator=generators, output_type="np",
            **text_inputs(pipe, cond, self.use_captions),
        ).images
