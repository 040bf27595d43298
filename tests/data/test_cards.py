"""Data cards: every card passes the schema, every synthetic world has one, loaders import."""

import inspect

import pytest
import yaml

from neurodecode.data.cards import (
    REQUIRED,
    cards_dir,
    get_card,
    list_cards,
    read_card,
    resolve_loader,
    validate_card,
)
from neurodecode.data.errors import DataError
from neurodecode.synth import WORLDS

REAL_DATASETS = {
    "NSD",
    "THINGS-MEG",
    "BNCI2014_001",
    "PhysionetMI",
    "DREAMER",
    "Brain Treebank",
    "ABIDE (PCP)",
    "BOLD Moments",
}
CARDS = list_cards()


def test_cards_found_in_the_checkout():
    assert cards_dir().name in ("data_cards", "_data_cards")
    assert len(CARDS) == len(list(cards_dir().glob("*.yaml")))


@pytest.mark.parametrize("card", CARDS, ids=[c["name"] for c in CARDS])
def test_card_has_every_required_key_and_a_pitfall(card):
    assert set(REQUIRED) <= set(card)
    assert card["pitfalls"] and all(len(p) > 20 for p in card["pitfalls"])


@pytest.mark.parametrize("card", CARDS, ids=[c["name"] for c in CARDS])
def test_card_loader_is_a_real_neurodecode_function(card):
    loader = resolve_loader(card)
    assert inspect.isfunction(loader)
    assert loader.__module__.startswith("neurodecode.")


def test_every_synthetic_world_and_real_dataset_has_a_card():
    names = {c["name"] for c in CARDS}
    assert set(WORLDS) <= names
    assert REAL_DATASETS <= names
    for name in WORLDS:
        card = get_card(name)
        assert card["synthetic"] is True and card["world"] == name
        assert card["loader"] == f"{WORLDS[name]}.read"


def test_names_are_unique_and_found_case_insensitively():
    names = [c["name"].lower() for c in CARDS]
    assert len(names) == len(set(names))
    assert get_card("things-meg")["name"] == "THINGS-MEG"
    assert get_card("bnci2014-001")["name"] == "BNCI2014_001"  # the file stem works too


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'nope'.*NSD"):
        get_card("nope")


def _valid():
    return yaml.safe_load((cards_dir() / "nsd.yaml").read_text())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.pop("licence"), "missing key 'licence'"),
        (lambda c: c.update(licnece="CC0"), "unknown key 'licnece'"),
        (lambda c: c.update(pitfalls=[]), "at least one known pitfall"),
        (lambda c: c.update(pitfalls="none"), "'pitfalls' must be list"),
        (lambda c: c.update(subjects=[8]), "'subjects' must be int or str"),
        (lambda c: c.update(synthetic="yes"), "'synthetic' must be bool"),
        (lambda c: c.update(citation="  "), "'citation' is empty"),
    ],
)
def test_schema_violations_are_named(edit, message):
    card = _valid()
    edit(card)
    with pytest.raises(DataError, match=message):
        validate_card(card, "nsd.yaml")


def test_bad_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(DataError, match="bad.yaml: not valid YAML"):
        read_card(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(DataError, match="must be a YAML mapping"):
        read_card(bad)


def test_loader_outside_neurodecode_is_refused():
    card = dict(_valid(), loader="os.system")
    with pytest.raises(DataError, match="must be a neurodecode function"):
        resolve_loader(card)
    card["loader"] = "neurodecode.data.nsd.no_such_function"
    with pytest.raises(DataError, match="not found"):
        resolve_loader(card)
