"""Tampered or truncated checkpoints give one-line errors naming the file (issue 14).

Before issue 14: a truncated model.safetensors raised safetensors' SafetensorError, a
damaged config.json a JSONDecodeError and one without its ``decoder`` entry a KeyError, each
as a traceback. Every test here failed then.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from neurodecode.errors import DataError
from neurodecode.models.decoder import BrainDecoder, DecoderConfig, HeadConfig
from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    cfg = DecoderConfig(n_features={"1": 12}, heads=[HeadConfig("world-embed", (8,))],
                        width=16, depth=1)
    return save_checkpoint(BrainDecoder(cfg), tmp_path / "ckpt")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bad_json(path):
    path.write_text(path.read_text()[:-20])


def _no_decoder(path):
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({"experiment": meta.get("experiment")}))


def _bad_header(path):
    data = bytearray(path.read_bytes())
    data[8:40] = b"{" * 32  # the JSON header of the safetensors file
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, damage, message", [
    ("model.safetensors", _truncate, r"model.safetensors: unreadable safetensors file "
                                     r"\(SafetensorError"),
    ("model.safetensors", _bad_header, r"model.safetensors: unreadable safetensors file"),
    ("config.json", _bad_json, r"config.json: not a valid neurodecode checkpoint config "
                               r"\(JSONDecodeError"),
    ("config.json", _no_decoder, r"config.json: not a valid neurodecode checkpoint config "
                                 r"\(KeyError: 'decoder'\)"),
])
def test_damaged_checkpoint_is_a_data_error(checkpoint, name, damage, message):
    assert load_checkpoint(checkpoint)[0] is not None
    damage(checkpoint / name)
    with pytest.raises(DataError, match=message):
        load_checkpoint(checkpoint)


def test_cli_prints_one_line_for_a_damaged_checkpoint(checkpoint, tmp_path):
    from neurodecode.cli import main

    _truncate(checkpoint / "model.safetensors")
    result = CliRunner().invoke(main, ["reconstruct", "--checkpoint", str(checkpoint),
                                       "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and "model.safetensors: unreadable" in lines[-1]
