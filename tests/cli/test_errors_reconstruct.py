"""`neurodecode reconstruct` refuses bad options in one line, before any data is built.

Before issue 14: --n-samples 0 and --n-images 0 failed after training with tracebacks (the
latter blaming the generator), --generator-model /nonexistent for a pretrained backend failed
only after the decoder had trained, and a file-valued or unwritable --out was found only
when the results were written. Every case here failed then (assertion on the message or on
"no data were loaded").
"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from neurodecode.cli import main


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """Any attempt to build the dataset fails the test: errors must come first."""
    from neurodecode.reconstruct import pipeline

    def refuse(*args, **kwargs):
        raise AssertionError("data were loaded before the bad option was refused")

    monkeypatch.setattr(pipeline, "load_dataset", refuse)
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _run(args):
    result = CliRunner().invoke(main, ["reconstruct", "--quiet", *args])
    assert not isinstance(result.exception, AssertionError), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return result.exit_code, lines[0]


@pytest.mark.parametrize("args, message", [
    (["--n-samples", "0"], "Error: --n-samples must be at least 1, got 0"),
    (["--n-images", "0"], "Error: --n-images must be at least 1, got 0"),
    (["--generator", "unclip", "--generator-model", "/nonexistent"],
     "Error: --generator-model /nonexistent: no such file or folder"),
    (["--generator", "sd-img2img"],
     "Error: sd-img2img: cannot load the model from 'CompVis/stable-diffusion-v1-4': it is "
     "not a local model directory and not in the local Hugging Face cache"),
    (["--generator-model", "/nonexistent"],
     "Error: /nonexistent: embedded generator weights not found"),
])
def test_bad_options_fail_before_any_work(no_data, tmp_path, args, message):
    code, line = _run([*args, "--out", str(tmp_path / "out")])
    assert code == 1 and line.startswith(message), line


def test_pretrained_hint_names_only_options_that_exist(no_data, tmp_path):
    _, line = _run(["--generator", "unclip", "--out", str(tmp_path / "out")])
    assert "`neurodecode reconstruct --allow-download`" in line


def test_extractor_hint_does_not_offer_a_flag_train_lacks():
    # Before issue 14 the clip-image error said "(CLI: --allow-download)", an option that
    # `train` (where target spaces are extracted) does not have.
    from neurodecode._hub import not_available

    text = str(not_available("CLIPVisionModelWithProjection", "CLIPVisionModelWithProjection",
                             "openai/clip-vit-large-patch14", None, False))
    assert "--allow-download" not in text
    assert "`allow_download: true` under data.extractors.<space>" in text


def test_out_must_be_a_writable_folder(no_data, tmp_path):
    afile = tmp_path / "results.txt"
    afile.write_text("x")
    code, line = _run(["--out", str(afile / "sub")])
    assert code == 1 and "cannot create this folder" in line and "--out" in line
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, line = _run(["--out", str(locked)])
        assert code == 1 and "not writable" in line
