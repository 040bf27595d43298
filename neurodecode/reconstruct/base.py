"""The one interface every image generator implements.

A generator turns decoded brain representations into images. The high-level part
(CLIP image embeddings or tokens, text embeddings) sets *what* is in the image; the optional
low-level part (decoded VAE latents or a blurry image) sets *where and how it looks*, used as
the starting point of an img2img process with a ``strength`` in [0, 1] (0 keeps the init,
1 ignores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Conditioning:
    """Decoded representations for ``n`` images (every field optional, all share ``n``).

    Attributes
    ----------
    image_embeds : array (n, d) or (n, n_tokens, d)
        Pooled or token-level image embeddings (e.g. CLIP ViT-L/14: 768 or 257x768).
    text_embeds : array (n, n_tokens, d) or (n, d)
        Text-encoder hidden states used as ``prompt_embeds`` (e.g. 77x768).
    semantic : array (n, d)
        An embedding in a world-specific space (the synthetic world's semantic space).
    init_latents : array (n, c, h, w)
        Decoded VAE latents (unscaled, as the VAE encoder outputs them).
    init_images : array (n, H, W, 3), float in [0, 1]
        Decoded low-level images (e.g. blurry reconstructions).
    captions : list of str
        Decoded captions, used as prompts where a backend accepts text.
    """

    image_embeds: np.ndarray | None = None
    text_embeds: np.ndarray | None = None
    semantic: np.ndarray | None = None
    init_latents: np.ndarray | None = None
    init_images: np.ndarray | None = None
    captions: list[str] | None = None

    def __len__(self) -> int:
        for value in (self.image_embeds, self.text_embeds, self.semantic, self.init_latents,
                      self.init_images, self.captions):
            if value is not None:
                return len(value)
        return 0

    def select(self, index: np.ndarray | list[int]) -> Conditioning:
        """The conditioning of images at ``index``."""
        idx = np.asarray(index, dtype=int)
        return Conditioning(
            **{
                name: (None if value is None else
                       [value[i] for i in idx] if isinstance(value, list) else value[idx])
                for name, value in vars(self).items()
            }
        )


@runtime_checkable
class Generator(Protocol):
    """Turns a :class:`Conditioning` into images.

    ``generate`` returns float images in [0, 1] of shape ``(n, n_samples, H, W, 3)``: ``n_samples``
    candidates per conditioning row, drawn with seeds ``seed, seed + 1, ...`` so that a run is
    reproducible. Choosing among candidates is the reconstructor's job (by the *decoded*
    embedding, never by the ground truth).
    """

    name: str

    def generate(
        self,
        cond: Conditioning,
        n_samples: int = 1,
        steps: int = 20,
        guidance: float = 5.0,
        strength: float = 0.8,
        seed: int = 0,
    ) -> np.ndarray: ...
