"""Data cards: one YAML file per dataset (real or synthetic) saying what it is and how to use it.

A card records the facts a user needs before touching a dataset: modality, subjects, sessions,
channels or voxels, sampling rate, events, licence, citation, how to obtain it (an official
fetcher or a URL), where it is cached, the neurodecode function that loads it, and known
pitfalls. ``loader`` is real code: :func:`neurodecode.datasets.open_dataset` imports the
function it names (:func:`resolve_loader`) and calls it for every subject, but only if the name
is on its allow-list (``neurodecode.datasets.OPENERS``). Cards live in the repository's
``data_cards/`` folder (editable installs) or inside the installed package as
``neurodecode/_data_cards`` (wheels). They are read with ``yaml.safe_load`` only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from numbers import Number
from pathlib import Path
from typing import Any

from neurodecode.errors import DataError

#: Required keys and the types their values may take.
REQUIRED: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "modality": (str,),
    "subjects": (int, str),
    "sessions": (int, str),
    "channels_or_voxels": (int, str),
    "sampling_rate": (Number, str),
    "events": (str,),
    "licence": (str,),
    "citation": (str,),
    "how_to_obtain": (str,),
    "cache_location": (str,),
    "loader": (str,),
    "pitfalls": (list,),
}
#: Optional keys a card may add.
OPTIONAL: dict[str, tuple[type, ...]] = {
    "description": (str,),
    "synthetic": (bool,),
    "world": (str,),
    "format": (str,),
    "uncertain": (list,),
}


def cards_dir() -> Path:
    """The folder holding the cards: ``data_cards/`` of a source checkout, else the copy
    installed as ``neurodecode/_data_cards``."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "data_cards", package / "_data_cards"):
        if candidate.is_dir():
            return candidate
    raise DataError(
        f"no data cards found (looked in {package.parent / 'data_cards'} and "
        f"{package / '_data_cards'}); reinstall neurodecode"
    )


def validate_card(card: Any, source: str | Path = "card") -> dict:
    """Check ``card`` against the schema and return it.

    Raises
    ------
    DataError
        Naming ``source``, the missing, unknown or mistyped keys, and an empty pitfall list.
    """
    if not isinstance(card, dict):
        raise DataError(f"{source}: a data card must be a YAML mapping, got {type(card).__name__}")
    problems = [f"missing key {key!r}" for key in REQUIRED if key not in card]
    problems += [
        f"unknown key {key!r} (allowed: {sorted(REQUIRED) + sorted(OPTIONAL)})"
        for key in card
        if key not in REQUIRED and key not in OPTIONAL
    ]
    for key, value in card.items():
        types = REQUIRED.get(key) or OPTIONAL.get(key)
        if types is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            problems.append(f"{key!r} must be {names}, got {type(value).__name__} {value!r}")
        elif isinstance(value, str) and not value.strip():
            problems.append(f"{key!r} is empty")
    for key in ("pitfalls", "uncertain"):
        items = card.get(key)
        if isinstance(items, list) and not all(isinstance(i, str) and i.strip() for i in items):
            problems.append(f"{key!r} must be a list of non-empty strings")
    if isinstance(card.get("pitfalls"), list) and not card["pitfalls"]:
        problems.append("'pitfalls' must name at least one known pitfall")
    if problems:
        raise DataError(f"{source}: invalid data card: " + "; ".join(problems))
    return card


def read_card(path: str | Path) -> dict:
    """Read and validate one card file."""
    import yaml

    path = Path(path)
    try:
        card = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise DataError(f"{path}: not valid YAML: {err}") from err
    return validate_card(card, path)


def list_cards(directory: str | Path | None = None) -> list[dict]:
    """Every card, validated, sorted by name (case-insensitive)."""
    folder = cards_dir() if directory is None else Path(directory)
    cards = [read_card(p) for p in sorted(folder.glob("*.yaml"))]
    return sorted(cards, key=lambda c: c["name"].lower())


def get_card(name: str, directory: str | Path | None = None) -> dict:
    """The card called ``name`` (case-insensitive; the file stem also works).

    Raises
    ------
    DataError
        For an unknown name, listing the known ones.
    """
    folder = cards_dir() if directory is None else Path(directory)
    wanted = name.lower()
    for path in sorted(folder.glob("*.yaml")):
        card = read_card(path)
        if wanted in (card["name"].lower(), path.stem.lower()):
            return card
    known = [c["name"] for c in list_cards(folder)]
    raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(known)}")


def resolve_loader(card: dict) -> Callable:
    """Import the function named by the card's ``loader`` (``package.module.function``)."""
    module_name, _, attr = card["loader"].rpartition(".")
    if not module_name.startswith("neurodecode"):
        raise DataError(
            f"card {card['name']!r}: loader {card['loader']!r} must be a neurodecode function"
        )
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise DataError(
            f"card {card['name']!r}: loader {card['loader']!r} not found: {err}"
        ) from err
    if not callable(function):
        raise DataError(f"card {card['name']!r}: loader {card['loader']!r} is not callable")
    return function
