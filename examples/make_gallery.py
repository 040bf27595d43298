"""Execute the example notebooks and save each one's last figure for the README gallery.

Usage: ``python examples/make_gallery.py [NOTEBOOK ...]`` → ``examples/figures/<name>.png``
(at most 640 px wide). Notebooks stay stripped in git: the executed copies are not written.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

EXAMPLES = Path(__file__).resolve().parent
FIGURES = EXAMPLES / "figures"
MAX_WIDTH = 640


def last_figure(path: Path) -> Image.Image | None:
    """The last PNG a notebook displays when executed from top to bottom."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600,
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    pngs = [o["data"]["image/png"] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    return Image.open(io.BytesIO(base64.b64decode(pngs[-1]))) if pngs else None


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(EXAMPLES.parent))
    from neurodecode._files import atomic_path

    paths = [Path(a) for a in argv] or sorted(EXAMPLES.glob("*.ipynb"))
    FIGURES.mkdir(exist_ok=True)
    for path in paths:
        image = last_figure(path)
        if image is None:
            print(f"{path.name}: no figure")
            continue
        if image.width > MAX_WIDTH:
            image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)),
                                 Image.LANCZOS)
        out = FIGURES / f"{path.stem}.png"
        with atomic_path(out) as tmp:
            image.convert("RGB").save(tmp, format="PNG", optimize=True)
        print(f"{path.name} -> {out.relative_to(EXAMPLES.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
