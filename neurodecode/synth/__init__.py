"""Synthetic worlds with planted, known ground truth.

Each world is a module with three functions:

- ``make(n_subjects=None, seed=0, **params) -> SyntheticWorld`` builds it in memory,
  deterministically from ``seed``;
- ``write(world, out_dir) -> list[Path]`` writes it in the real file formats that the
  loaders of :mod:`neurodecode.data` read (plus ``world.json``), every file atomically;
- ``read(out_dir) -> SyntheticWorld`` reads it back through those loaders.

Use them by name::

    world = neurodecode.synth.make("synthetic-vision", n_subjects=4, seed=0)
    paths = neurodecode.synth.write("synthetic-mi", "out/mi")
    same = neurodecode.synth.read("synthetic-mi", "out/mi")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from neurodecode.data.dataset import Dataset
from neurodecode.data.errors import DataError

WORLDS: dict[str, str] = {
    "synthetic-vision": "neurodecode.synth.vision",
    "synthetic-meg-vision": "neurodecode.synth.meg_vision",
    "synthetic-mi": "neurodecode.synth.motor_imagery",
    "synthetic-seeg-movie": "neurodecode.synth.seeg_movie",
    "synthetic-fc-demographics": "neurodecode.synth.fc_demographics",
    "synthetic-emotion-eeg": "neurodecode.synth.emotion_eeg",
    "synthetic-rsa": "neurodecode.synth.rsa_world",
    "synthetic-motion": "neurodecode.synth.motion",
}


#: A synthetic world is a :class:`~neurodecode.data.Dataset` (the type every dataset opens as):
#: ``name``, ``subjects``, ``stimuli``, ``truth`` (the planted ground truth) and ``params``
#: (everything needed to rebuild it with :func:`make`). The old name stays for the worlds.
SyntheticWorld = Dataset


def world_module(name: str) -> ModuleType:
    """The module implementing world ``name``; unknown names list the known ones."""
    if name not in WORLDS:
        raise DataError(f"unknown synthetic world {name!r}; known worlds: {sorted(WORLDS)}")
    return importlib.import_module(WORLDS[name])


def make(name: str, n_subjects: int | None = None, seed: int = 0, **params) -> SyntheticWorld:
    """Build world ``name`` in memory (deterministic in ``seed``)."""
    return world_module(name).make(n_subjects=n_subjects, seed=seed, **params)


def write(name: str, out_dir: str | Path, n_subjects: int | None = None, seed: int = 0,
          **params) -> list[Path]:
    """Build world ``name`` and write it to ``out_dir`` in real formats; return the files."""
    module = world_module(name)
    return module.write(module.make(n_subjects=n_subjects, seed=seed, **params), Path(out_dir))


def read(name: str, directory: str | Path) -> SyntheticWorld:
    """Read a world written by :func:`write` back through the data loaders."""
    return world_module(name).read(Path(directory))


__all__ = ["WORLDS", "SyntheticWorld", "make", "read", "world_module", "write"]
