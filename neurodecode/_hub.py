"""Loading pretrained models by hub id or local path, offline unless the user asks.

One function serves every pretrained component (transformers, diffusers): an already-built
object passes through; a hub id or directory is loaded with ``local_files_only=True`` unless
``allow_download=True``, and a missing model raises :class:`ModelNotAvailable` saying how to
get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurodecode.errors import DataError

# Names pretrained generator backends give as ``what`` (their ``name``); they are the ones
# `neurodecode reconstruct --allow-download` reaches.
GENERATOR_NAMES = frozenset({"unclip", "sd-img2img", "versatile", "none", "braindive",
                             "--generator-model"})


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
    # The hint names only ways that exist where the user is: generators take
    # `reconstruct --allow-download`; feature extractors (target spaces such as clip-image)
    # read their options from the experiment config, and `train` has no such flag.
    generator = what in GENERATOR_NAMES
    where = ("`neurodecode reconstruct --allow-download`" if generator else
             "`allow_download: true` under data.extractors.<space> of the experiment config")
    hint = ("" if allow_download else
            " Downloads are off: fetch it once (e.g. `huggingface-cli download "
            f"{source}`) or give a local directory; or allow downloads ({where}; Python: "
            "allow_download=True).")
    where = f"'{source}'" + (f" (subfolder {subfolder})" if subfolder else "")
    return ModelNotAvailable(
        f"{what}: cannot load {class_name} from {where}: it is not a local model directory "
        f"and not in the local Hugging Face cache.{hint}"
    )


def looks_like_path(source: str | Path) -> bool:
    """True for strings that name a file system location rather than a hub id
    (``org/name`` or ``name``): absolute, home- or dot-relative, or with more than one ``/``."""
    text = str(source)
    return (isinstance(source, Path) or text.startswith(("/", ".", "~")) or text.count("/") > 1
            or "\\" in text)


def check_available(source: Any, allow_download: bool = False, what: str = "",
                    option: str = "--generator-model") -> None:
    """Fail early (before any long work) when ``source`` cannot be loaded later.

    A path must exist; a hub id must be in the local Hugging Face cache unless downloads are
    allowed. Objects (already-built models) pass.
    """
    if not isinstance(source, str | Path):
        return
    path = Path(source).expanduser()
    if path.exists():
        return
    if looks_like_path(source):
        raise ModelNotAvailable(f"{option} {source}: no such file or folder; give a local model "
                                "folder or a Hugging Face hub id (org/name)")
    if allow_download:
        return
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(str(source), local_files_only=True)
    except Exception as err:  # LocalEntryNotFoundError, HFValidationError (bad id)
        raise not_available(what or option, "the model", source, None, False) from err
