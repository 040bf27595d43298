"""Loading pretrained models by hub id or local path, offline unless the user asks.

One function serves every pretrained component (transformers, diffusers): an already-built
object passes through; a hub id or directory is loaded with ``local_files_only=True`` unless
``allow_download=True``, and a missing model raises :class:`ModelNotAvailable` saying how to
get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurodecode.data.errors import DataError


class ModelNotAvailable(DataError, FileNotFoundError):
    """A pretrained model that is neither a local directory nor in the local cache."""


def load_pretrained(cls: type, source: Any, allow_download: bool = False, what: str = "",
                    **kwargs: Any) -> Any:
    """Return ``source`` if it is already a ``cls`` instance, else ``cls.from_pretrained``.

    Parameters
    ----------
    cls : type
        A transformers or diffusers class with ``from_pretrained``.
    source : str, Path or cls instance
        Hub id, local directory, or an already-built object.
    allow_download : bool
        If False (the default everywhere), only local directories and the local Hugging Face
        cache are read; nothing is downloaded.
    what : str
        Who asks (for error messages), e.g. ``"unclip"``.
    **kwargs
        Passed to ``from_pretrained`` (``subfolder``, ``torch_dtype``...).
    """
    if isinstance(source, cls):
        return source
    if not isinstance(source, str | Path):
        raise TypeError(f"{what or cls.__name__}: expected a hub id, a local directory or a "
                        f"{cls.__name__}, found {type(source).__name__}")
    try:
        return cls.from_pretrained(str(source), local_files_only=not allow_download, **kwargs)
    except OSError as err:
        raise not_available(what or cls.__name__, cls.__name__, source, kwargs.get("subfolder"),
                            allow_download) from err


def not_available(what: str, class_name: str, source: Any, subfolder: str | None,
                  allow_download: bool) -> ModelNotAvailable:
    """The error for a model that is neither a local directory nor in the local cache."""
    hint = ("" if allow_download else
            " Downloads are off: fetch it once (e.g. `huggingface-cli download "
            f"{source}`), pass allow_download=True (CLI: --allow-download), or give a local "
            "directory.")
    where = f"'{source}'" + (f" (subfolder {subfolder})" if subfolder else "")
    return ModelNotAvailable(
        f"{what}: cannot load {class_name} from {where}: it is not a local model directory "
        f"and not in the local Hugging Face cache.{hint}"
    )
