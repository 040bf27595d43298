"""What the diffusers-based generators share: offline loading, seeding, batching, image output.

Every backend that wraps a diffusers pipeline subclasses :class:`PipelineGenerator` and writes
only ``_check`` (what the conditioning must hold) and ``_sample`` (one pipeline call).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from neurodecode._hub import load_pretrained
from neurodecode.data.errors import DataError
from neurodecode.reconstruct.base import Conditioning


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"float16"`` / ``"bfloat16"`` or a torch dtype → torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype '{dtype}'; use float32, float16 or bfloat16")
    return value


def as_tensor(array: np.ndarray, like: torch.nn.Module) -> torch.Tensor:
    """``array`` as a tensor on the device and in the dtype of module ``like``."""
    return torch.as_tensor(np.asarray(array)).to(device=like.device, dtype=like.dtype)


def check_width(what: str, field: str, array: np.ndarray, ndim: int, width: int,
                layout: str) -> None:
    """Raise :class:`DataError` unless ``array`` has ``ndim`` axes and last axis ``width``."""
    if array.ndim != ndim or array.shape[-1] != width:
        raise DataError(
            f"{what}: Conditioning.{field} must have shape {layout} with d={width} for this "
            f"model; found {tuple(array.shape)}. Decode into the target space the model was "
            "trained on (see neurodecode.features)."
        )


def tensor_to_images(images: torch.Tensor) -> np.ndarray:
    """VAE output in [-1, 1], shape (b, 3, H, W) → float32 images in [0, 1], (b, H, W, 3)."""
    out = (images.float() / 2 + 0.5).clamp(0, 1)
    return out.permute(0, 2, 3, 1).cpu().numpy()


class PipelineGenerator(BaseEstimator):
    """Base of generators that wrap a diffusers pipeline (see :class:`~.base.Generator`).

    Candidate ``s`` of every conditioning row is drawn with seed ``seed + s`` (one
    ``torch.Generator`` per image), so an image does not depend on the batch it was made in:
    rows with equal conditioning give equal images, and different conditioning seen through
    the same noise shows what the conditioning changes.

    Parameters
    ----------
    model : str, Path or pipeline object
        Hub id or local directory (loaded with ``from_pretrained``), or a built pipeline of
        :attr:`pipeline_class` (e.g. from your own components).
    allow_download : bool
        Allow ``from_pretrained`` to download from the Hugging Face hub. Off by default.
    device : str
        Torch device to run on.
    dtype : str
        Weights dtype when loading (``"float32"``; ``"float16"`` on GPUs).
    batch_size : int
        Images denoised together (memory vs speed).
    progress : bool
        Show a progress bar over batches.
    """

    name: ClassVar[str]
    pipeline_class: ClassVar[type]
    default_model: ClassVar[str]

    def __init__(self, model: Any = None, *, allow_download: bool = False, device: str = "cpu",
                 dtype: str = "float32", batch_size: int = 4, progress: bool = True):
        self.model = model
        self.allow_download = allow_download
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.progress = progress

    @property
    def pipeline(self) -> Any:
        """The diffusers pipeline, loaded on first use (offline unless ``allow_download``)."""
        if getattr(self, "pipeline_", None) is None:
            pipe = self._load(self.default_model if self.model is None else self.model)
            pipe.set_progress_bar_config(disable=True)
            self.pipeline_ = pipe.to(self.device)
        return self.pipeline_

    def _load(self, source: Any) -> Any:
        """The pipeline from a hub id, a local directory or a pipeline object."""
        return load_pretrained(self.pipeline_class, source, self.allow_download, self.name,
                               torch_dtype=resolve_dtype(self.dtype))

    def generate(self, cond: Conditioning, n_samples: int = 1, steps: int = 20,
                 guidance: float = 5.0, strength: float = 0.8, seed: int = 0) -> np.ndarray:
        """Images for every conditioning row.

        Parameters
        ----------
        cond : Conditioning
            ``n`` rows of decoded representations (which fields are used: see the class).
        n_samples : int
            Candidates per row, drawn with seeds ``seed, seed + 1, ...``.
        steps : int
            Denoising steps of the scheduler (img2img runs ``int(steps * strength)`` of them).
        guidance : float
            Classifier-free guidance scale; <= 1 turns guidance off.
        strength : float
            Img2img strength in (0, 1] where the backend uses an init; ignored otherwise.
        seed : int
            Seed of the first candidate.

        Returns
        -------
        images : ndarray, float32, shape (n, n_samples, H, W, 3), values in [0, 1]
        """
        n = len(cond)
        if n == 0:
            raise DataError(f"{self.name}: the conditioning is empty; nothing to generate")
        if n_samples < 1 or steps < 1:
            raise ValueError(f"{self.name}: n_samples and steps must be >= 1, "
                             f"found {n_samples} and {steps}")
        pipe = self.pipeline
        self._check(pipe, cond, steps, strength)
        jobs = [(row, sample) for row in range(n) for sample in range(n_samples)]
        batches = [jobs[i:i + self.batch_size] for i in range(0, len(jobs), self.batch_size)]
        images = []
        for batch in tqdm(batches, desc=self.name, disable=not self.progress):
            generators = [torch.Generator(self.device).manual_seed(seed + s) for _, s in batch]
            part = cond.select([row for row, _ in batch])
            images.append(self._sample(pipe, part, generators, steps, guidance, strength))
        out = np.concatenate(images).astype(np.float32, copy=False)
        return np.clip(out, 0.0, 1.0).reshape(n, n_samples, *out.shape[1:])

    def _check(self, pipe: Any, cond: Conditioning, steps: int, strength: float) -> None:
        """Raise :class:`DataError` if ``cond`` lacks what this backend needs."""
        raise NotImplementedError

    def _sample(self, pipe: Any, cond: Conditioning, generators: list[torch.Generator],
                steps: int, guidance: float, strength: float) -> np.ndarray:
        """One pipeline call: ``len(generators)`` images (b, H, W, 3) in [0, 1]."""
        raise NotImplementedError


def text_inputs(pipe: Any, cond: Conditioning, use_captions: bool) -> dict[str, Any]:
    """Text conditioning for a Stable Diffusion pipeline call.

    Decoded text tokens go in as ``prompt_embeds``; decoded captions as ``prompt`` when
    ``use_captions`` is set or no text tokens were decoded; otherwise the empty prompt.
    """
    if cond.captions is not None and (use_captions or cond.text_embeds is None):
        return {"prompt": list(cond.captions)}
    if cond.text_embeds is not None:
        return {"prompt_embeds": as_tensor(cond.text_embeds, pipe.unet)}
    return {"prompt": [""] * len(cond)}


def check_text(what: str, pipe: Any, cond: Conditioning, use_captions: bool) -> None:
    """Raise :class:`DataError` if the text tokens do not fit the pipeline's UNet."""
    if cond.text_embeds is not None and not (use_captions and cond.captions is not None):
        check_width(what, "text_embeds", np.asarray(cond.text_embeds), 3,
                    pipe.unet.config.cross_attention_dim, "(n, n_tokens, d)")
