"""A content-addressed store of benchmark results: one small JSON file per job.

Files are named by the job's content hash and written atomically (temporary file, then
rename), so several processes may fill the same store at once, an interrupted run leaves only
complete entries, and a repeated run finds every entry and computes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from neurodecode._files import write_json


class ResultStore:
    """Result rows keyed by job hash under ``root``.

    Parameters
    ----------
    root : path
        Folder of the store (created on first write), e.g. ``OUT/store``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the rows of ``key`` live (two-level fan-out keeps folders small)."""
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[dict[str, Any]] | None:
        """The stored rows of ``key``, or None if it was never completed."""
        try:
            return json.loads(self.path(key).read_text())["rows"]
        except FileNotFoundError:
            return None

    def put(self, key: str, rows: list[dict[str, Any]]) -> Path:
        """Store ``rows`` under ``key`` atomically."""
        return write_json(self.path(key), {"key": key, "rows": rows})

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()
