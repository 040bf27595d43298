"""`neurodecode data list|show` and `neurodecode synth`: tables, cards, clear errors."""

import yaml
from click.testing import CliRunner

from neurodecode.cli import main
from neurodecode.data.cards import list_cards
from neurodecode.synth import WORLDS


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_data_list_prints_one_row_per_card():
    result = _run("data", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["NAME", "MODALITY", "SUBJECTS"]
    cards = list_cards()
    assert len(lines) == 1 + len(cards)
    for card, line in zip(cards, lines[1:], strict=True):
        assert line.startswith(card["name"])
        assert card["loader"] in line


def test_data_show_prints_the_card_as_yaml():
    result = _run("data", "show", "synthetic-emotion-eeg")
    assert result.exit_code == 0, result.output
    card = yaml.safe_load(result.output)
    assert card["name"] == "synthetic-emotion-eeg"
    assert card["sampling_rate"] == 128
    assert card["loader"] == "neurodecode.synth.emotion_eeg.read"
    # Names are case-insensitive.
    assert yaml.safe_load(_run("data", "show", "SYNTHETIC-EMOTION-EEG").output) == card


def test_data_show_unknown_name_lists_known_names():
    result = _run("data", "show", "no-such-dataset")
    assert result.exit_code == 2
    assert "no-such-dataset" in result.output
    assert "synthetic-emotion-eeg" in result.output


def test_synth_unknown_world_lists_worlds_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = _run("synth", "synthetic-nothing", "--out", str(out))
    assert result.exit_code == 2
    for name in WORLDS:
        assert name in result.output
    assert not out.exists()


def test_synth_rejects_zero_subjects(tmp_path):
    result = _run("synth", "synthetic-emotion-eeg", "--out", str(tmp_path), "--subjects", "0")
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_synth_same_seed_same_files(tmp_path):
    for folder in ("a", "b"):
        result = _run(
            "synth",
            "synthetic-emotion-eeg",
            "--out",
            str(tmp_path / folder),
            "--subjects",
            "1",
            "--seed",
            "7",
            "--quiet",
        )
        assert result.exit_code == 0, result.output
        assert result.output == ""
    assert (tmp_path / "a" / "ratings.tsv").read_text() == (
        tmp_path / "b" / "ratings.tsv"
    ).read_text()
    edf = "sub-1/sub-1_task-films_eeg.edf"
    # EDF headers hold the recording date; the samples after the header must agree.
    a, b = ((tmp_path / f / edf).read_bytes() for f in ("a", "b"))
    assert len(a) == len(b) and a[256 * 16 :] == b[256 * 16 :]
