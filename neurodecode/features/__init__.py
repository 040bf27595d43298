"""Target spaces: what a decoder predicts from the brain.

A target space has a name and a declared shape (``TargetSpace``); an extractor maps a
:class:`~neurodecode.data.StimulusSet` to an array ``(n_stimuli, *shape)``. Extracted arrays are
cached on disk by a content hash of the stimuli and the extractor's parameters
(:func:`extract_cached`), so each is computed once.

Extractors of pretrained networks (CLIP, SD-VAE) take a hub id or a local path and never
download unless ``allow_download=True``; any already-built model object of the same class can be
passed instead (tests use tiny random ones).
"""

from neurodecode.features.base import TargetSpace, cache_dir, extract_cached, get_extractor
from neurodecode.features.pretrained import ClipImage, ClipText, SDVAELatent
from neurodecode.features.simple import Pixels, WorldEmbedding

__all__ = [
    "ClipImage",
    "ClipText",
    "Pixels",
    "SDVAELatent",
    "TargetSpace",
    "WorldEmbedding",
    "cache_dir",
    "extract_cached",
    "get_extractor",
]
