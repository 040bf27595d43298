"""Safe file writing and content hashing shared by every writer and cache.

Every file neurodecode writes goes to a temporary name in the destination folder and is
renamed into place (``os.replace`` is atomic on POSIX), so an interrupted or failing write
never leaves a half-written file, and parallel writers never corrupt each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps the destination's suffix so that libraries which infer the format
    from the extension (MNE, nibabel, matplotlib) write the right format. On error the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep compound suffixes such as ".nii.gz" and MNE's "_raw.fif" / "-epo.fif" naming.
    name = path.name
    stem, dot, rest = name.partition(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.tmp-", suffix=f"{dot}{rest}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy scalars and arrays are converted)."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable hex digest of arrays, strings, numbers and JSON-able containers.

    Arrays are hashed by dtype, shape and bytes, so equal contents give equal keys across
    processes and machines; dict keys are sorted.
    """
    h = hashlib.sha256()
    for part in parts:
        _update(h, part)
    return h.hexdigest()[:length]


def _update(h: Any, obj: Any) -> None:
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        h.update(f"nd:{arr.dtype.str}:{arr.shape}:".encode())
        h.update(arr.tobytes())
    elif isinstance(obj, dict):
        h.update(b"{")
        for key in sorted(obj, key=str):
            _update(h, str(key))
            _update(h, obj[key])
        h.update(b"}")
    elif isinstance(obj, list | tuple):
        h.update(b"[")
        for item in obj:
            _update(h, item)
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
