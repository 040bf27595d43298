"""``neurodecode encode``: lists the four studies; runs them end to end on small worlds."""

import json

from click.testing import CliRunner

from neurodecode.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_encode_help_lists_the_four_studies():
    result = _run("encode", "--help")
    assert result.exit_code == 0, result.output
    for study in ("seeg", "synthesize", "ablate", "motion"):
        assert study in result.output
    assert "encode" in _run("--help").output


def test_seeg_writes_sites_map_and_summary(tmp_path):
    result = _run("encode", "seeg", "--subject", "1", "--n-boot", "1000", "--out",
                  str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())["subjects"]["1"]
    assert summary["recall"] >= 0.8 and summary["false_discovery"] <= 0.05
    assert (tmp_path / "sub-1_site_map.png").stat().st_size > 1000
    assert (tmp_path / "sub-1_sites.csv").exists()


def test_bad_input_gets_a_message(tmp_path):
    result = _run("encode", "synthesize", "--roi", "shape=circle", "--scales", "a,b",
                  "--out", str(tmp_path))
    assert result.exit_code != 0 and "--scales" in result.output
    result = _run("encode", "seeg", "--subject", "9", "--out", str(tmp_path))
    assert result.exit_code != 0 and "--subject 9" in result.output
