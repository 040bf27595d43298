"""Target-space declaration, extractor lookup by name, and the content-hashed cache."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from neurodecode._files import atomic_path, content_hash, verify_digest, write_digest
from neurodecode.data.containers import StimulusSet
from neurodecode.data.errors import DataError


@dataclass(frozen=True)
class TargetSpace:
    """A named target space with a declared per-stimulus shape.

    ``kind`` is ``"pooled"`` (one vector), ``"tokens"`` (n_tokens x dim), ``"latent"``
    (channels x h x w) or ``"pixels"`` (3 x h x w, values in [0, 1]).
    """

    name: str
    shape: tuple[int, ...]
    kind: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Extractor(Protocol):
    """Maps stimuli to an array ``(n_stimuli, *space.shape)``."""

    space: TargetSpace

    def cache_key(self) -> dict: ...

    def extract(self, stimuli: StimulusSet) -> np.ndarray: ...


def cache_dir() -> Path:
    """Feature cache folder: ``$NEURODECODE_CACHE/features`` or ``~/.cache/neurodecode/features``."""
    root = os.environ.get("NEURODECODE_CACHE") or Path.home() / ".cache" / "neurodecode"
    return Path(root) / "features"


def _stimuli_key(stimuli: StimulusSet) -> str:
    parts: list = [stimuli.ids]
    if stimuli.images is not None:
        parts.append(stimuli.get_images())
    if stimuli.captions is not None:
        parts.append(list(stimuli.captions))
    if stimuli.attributes is not None:
        parts.append(stimuli.attributes.to_numpy().astype(str))
    return content_hash(*parts)


def extract_cached(extractor: Extractor, stimuli: StimulusSet,
                   directory: str | Path | None = None) -> np.ndarray:
    """Extract features once; later calls with the same stimuli and parameters read the cache.

    The cache file is written atomically, so parallel runs never see a partial file.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    key = content_hash(extractor.space.name, extractor.cache_key(), _stimuli_key(stimuli))
    path = directory / f"{extractor.space.name}-{key}.npy"
    if path.exists():
        cached = _read_cached(path, (len(stimuli), *extractor.space.shape))
        if cached is not None:
            return cached
    values = np.asarray(extractor.extract(stimuli), dtype=np.float32)
    expected = (len(stimuli), *extractor.space.shape)
    if values.shape != expected:
        raise DataError(
            f"extractor {extractor.space.name} returned shape {values.shape}, declared {expected}"
        )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, values)
    write_digest(path)
    return values


def _read_cached(path: Path, shape: tuple) -> np.ndarray | None:
    """The cached features at ``path``, or None (with a warning) when the entry is corrupt:
    its size or SHA-256 differs from the recorded digest, it does not parse, or its shape is
    wrong. The caller then rebuilds it."""
    problem = verify_digest(path)
    values = None
    if problem is None or problem == "no valid digest beside it":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            problem = f"unreadable ({err})"
        else:
            if values.shape != shape:
                problem, values = f"shape {values.shape}, expected {shape}", None
    if values is None:
        warnings.warn(f"feature cache entry {path} is corrupt ({problem}); rebuilding it",
                      stacklevel=3)
    return values


def get_extractor(name: str, **kwargs) -> Extractor:
    """An extractor by target-space name.

    ``world-embed``; ``pixels-R`` (R x R pixels, e.g. ``pixels-16``); ``clip-image`` /
    ``clip-image-tokens`` / ``clip-text`` / ``clip-text-tokens`` (``model=`` hub id, path or
    model); ``sd-vae-latent`` (``model=``).
    """
    from neurodecode.features.pretrained import ClipImage, ClipText, SDVAELatent
    from neurodecode.features.simple import Pixels, WorldEmbedding

    if name == "world-embed":
        return WorldEmbedding()
    if name.startswith("pixels-"):
        return Pixels(resolution=int(name.split("-", 1)[1]))
    if name in ("clip-image", "clip-image-tokens"):
        return ClipImage(tokens=name.endswith("tokens"), **kwargs)
    if name in ("clip-text", "clip-text-tokens"):
        return ClipText(tokens=name.endswith("tokens"), **kwargs)
    if name == "sd-vae-latent":
        return SDVAELatent(**kwargs)
    raise DataError(
        f"unknown target space {name!r}; known: world-embed, pixels-R, clip-image, "
        "clip-image-tokens, clip-text, clip-text-tokens, sd-vae-latent"
    )
