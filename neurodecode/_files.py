"""Safe file writing and content hashing shared by every writer and cache.

Every file neurodecode writes goes to a temporary name in the destination folder and is
renamed into place (``os.replace`` is atomic on POSIX), so an interrupted or failing write
never leaves a half-written file, and parallel writers never corrupt each other. Files get the
mode an ordinary ``open()`` would give them (``0o666`` minus the umask), so results in a shared
folder stay readable by the group.

Cache entries carry a digest sidecar (``<name>.sha256``: size and SHA-256 of the content), so a
truncated or altered entry is detected (:func:`verify_digest`) and rebuilt instead of failing
every later run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """The mode ``open(path, "w")`` would create a file with: ``0o666`` minus the umask."""
    try:  # Linux exposes the umask without changing it
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


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
        if tmp_path.is_file():
            # mkstemp creates 0600; give the file the mode open() would (umask honoured).
            os.chmod(tmp_path, file_mode())
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


# --------------------------------------------------------------------------- output folders
def check_writable_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Make sure ``path`` is (or can become) a writable folder, before any work starts.

    Raises :class:`~neurodecode.errors.DataError` naming ``option`` when ``path`` is an
    existing file, lies under a file, or cannot be created or written.
    """
    from neurodecode.errors import DataError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{option} {path}: is a file, expected a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((p for p in path.parents if p.exists()), None)
        why = (f"{blocker} is a file, not a folder" if blocker is not None and
               not blocker.is_dir() else err.strerror)
        raise DataError(f"{option} {path}: cannot create this folder ({why}); "
                        "choose a folder you can write to") from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
    except OSError as err:
        raise DataError(f"{option} {path}: folder is not writable ({err.strerror}); "
                        "choose a folder you can write to") from err
    os.close(fd)
    os.unlink(probe)
    return path


def check_writable_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Like :func:`check_writable_dir` for an output *file*: its folder must be writable and
    ``path`` must not be a folder."""
    from neurodecode.errors import DataError

    path = Path(path)
    if path.is_dir():
        raise DataError(f"{option} {path}: is a folder, expected a file name")
    check_writable_dir(path.parent, option)
    return path


# --------------------------------------------------------------------------- cache digests
def digest_path(path: str | os.PathLike) -> Path:
    """The sidecar holding ``path``'s size and SHA-256."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_digest(path: str | os.PathLike) -> Path:
    """Record ``path``'s size and SHA-256 in its sidecar (write it after the content)."""
    path = Path(path)
    return write_json(digest_path(path), {"size": path.stat().st_size,
                                          "sha256": file_sha256(path)})


def verify_digest(path: str | os.PathLike) -> str | None:
    """``None`` if ``path`` matches its recorded digest, else why not (a short reason).

    A missing sidecar counts as unverifiable (entries written before digests existed, or an
    interrupted write: the sidecar is written last).
    """
    path = Path(path)
    if not path.is_file():
        return "missing"
    try:
        recorded = json.loads(digest_path(path).read_text())
        size, sha = int(recorded["size"]), str(recorded["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return "no valid digest beside it"
    actual = path.stat().st_size
    if actual != size:
        return f"{actual} bytes, {size} recorded (truncated or altered)"
    if file_sha256(path) != sha:
        return "content differs from its recorded SHA-256 (altered)"
    return None
