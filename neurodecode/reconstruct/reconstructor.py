"""Decoder → decoded embeddings → generator → images, with honest best-of-N.

The decoder's heads name their target spaces; :func:`conditioning_from_predictions` routes
each to the :class:`~neurodecode.reconstruct.base.Conditioning` field a generator reads.
When a generator draws several candidates per image, the one kept is the candidate whose
image embedding is most similar (cosine) to the *decoded* embedding. The ground-truth image is
never consulted (selecting by it inflates every metric; ANCHORS.md, pitfalls).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurodecode.reconstruct.base import Conditioning, Generator

# target-space prefix → Conditioning field
ROUTES = {
    "world-embed": "semantic",
    "clip-image": "image_embeds",
    "clip-text": "text_embeds",
    "sd-vae-latent": "init_latents",
    "pixels-": "init_images",
}


def conditioning_from_predictions(preds: dict[str, np.ndarray]) -> Conditioning:
    """Route decoded target spaces to conditioning fields (pixels become (n, H, W, 3))."""
    fields: dict[str, np.ndarray] = {}
    for space, values in preds.items():
        field = next((f for prefix, f in ROUTES.items() if space.startswith(prefix)), None)
        if field is None:
            continue
        if field == "init_images":
            values = np.clip(np.moveaxis(values, 1, -1), 0, 1)
        fields[field] = values
    return Conditioning(**fields)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


@dataclass
class Reconstructor:
    """Turn decoded predictions into images.

    Parameters
    ----------
    generator : Generator
    selector : callable, optional
        images (n, H, W, 3) → embeddings in the space of ``select_space``; needed when
        ``n_samples > 1``.
    select_space : str
        The decoded target space candidates are ranked against (e.g. ``world-embed``).
    """

    generator: Generator
    selector: Callable[[np.ndarray], np.ndarray] | None = None
    select_space: str = "world-embed"
    n_samples: int = 1
    steps: int = 20
    guidance: float = 5.0
    strength: float = 0.5
    seed: int = 0

    def reconstruct(self, preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Images from decoded predictions.

        Returns ``images`` (n, H, W, 3) in [0, 1], ``candidates`` (n, n_samples, H, W, 3),
        ``chosen`` (n,) index of the kept candidate, ``scores`` (n, n_samples) their similarity
        to the decoded embedding (NaN when not ranked) and ``low_level`` (n, h, w, 3) or None.
        """
        cond = conditioning_from_predictions(preds)
        cands = self.generator.generate(cond, n_samples=self.n_samples, steps=self.steps,
                                        guidance=self.guidance, strength=self.strength,
                                        seed=self.seed)
        n, k = cands.shape[:2]
        scores = np.full((n, k), np.nan)
        chosen = np.zeros(n, dtype=int)
        if k > 1:
            if self.selector is None or self.select_space not in preds:
                raise ValueError("best-of-N needs a selector and the decoded "
                                 f"{self.select_space!r} embedding")
            decoded = preds[self.select_space]
            for j in range(k):
                scores[:, j] = _cosine(self.selector(cands[:, j]), decoded)
            chosen = scores.argmax(1)
        return {"images": cands[np.arange(n), chosen], "candidates": cands, "chosen": chosen,
                "scores": scores, "low_level": cond.init_images}
