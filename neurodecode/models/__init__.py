"""Decoders that share one backbone across subjects (see :mod:`.adapters`, :mod:`.decoder`)."""

from neurodecode.models.adapters import ADAPTERS, AdapterConfig, build_adapter
from neurodecode.models.decoder import (
    BrainDecoder,
    DecoderConfig,
    HeadConfig,
    count_parameters,
)

__all__ = [
    "ADAPTERS",
    "AdapterConfig",
    "BrainDecoder",
    "DecoderConfig",
    "HeadConfig",
    "build_adapter",
    "count_parameters",
]
