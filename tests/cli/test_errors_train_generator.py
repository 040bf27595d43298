"""`train-generator` writes to a user folder unless told to replace the shipped weights.

Before issue 14, `neurodecode train-generator` without --out wrote over
neurodecode/reconstruct/weights/embedded-generator.safetensors (inside the checkout for an
editable install), and a bad --out was found only after training. These tests failed then.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from neurodecode.cli import main


@pytest.fixture
def fake_training(monkeypatch):
    """Record where the weights would go; no training."""
    from neurodecode.reconstruct import embedded

    calls = {"trained": 0, "saved": []}

    def train_codec(**kwargs):
        calls["trained"] += 1
        return object(), {"train_seconds": 0}

    def save_codec(codec, path, meta):
        calls["saved"].append(Path(path))
        return Path(path)

    monkeypatch.setattr(embedded, "train_codec", train_codec)
    monkeypatch.setattr(embedded, "save_codec", save_codec)
    return calls


def test_default_output_is_not_the_shipped_weights(tmp_path, monkeypatch, fake_training):
    from neurodecode.reconstruct.embedded import DEFAULT_WEIGHTS

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train-generator", "--quiet"])
    assert result.exit_code == 0, result.output
    (saved,) = fake_training["saved"]
    assert saved.resolve() == tmp_path / "neurodecode-out" / "embedded-generator.safetensors"
    assert saved.resolve() != Path(DEFAULT_WEIGHTS).resolve()
    result = CliRunner().invoke(main, ["train-generator", "--quiet", "--replace-shipped"])
    assert result.exit_code == 0, result.output
    assert fake_training["saved"][-1] == Path(DEFAULT_WEIGHTS)


@pytest.mark.parametrize("make_out, message", [
    (lambda p: p / "folder.safetensors", "is a directory"),
    (lambda p: p / "blocker" / "w.safetensors", "blocker: is a file, expected a folder"),
    (lambda p: p / "weights.pt", "expected a .safetensors file name"),
])
def test_bad_out_is_refused_before_training(tmp_path, fake_training, make_out, message):
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = CliRunner().invoke(main, ["train-generator", "--quiet", "--out",
                                       str(make_out(tmp_path))])
    assert result.exit_code != 0 and message in result.output, result.output
    assert fake_training["trained"] == 0


def test_zero_images_or_epochs_refused(fake_training):
    for option in ("--n-images", "--epochs"):
        result = CliRunner().invoke(main, ["train-generator", option, "0"])
        assert result.exit_code == 2 and option in result.output
    assert fake_training["trained"] == 0

