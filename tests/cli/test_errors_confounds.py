"""`confounds` refuses bad counts in one line (issue 14)."""

from __future__ import annotations

from click.testing import CliRunner

from neurodecode.cli import main


def test_confounds_sample_refuses_a_negative_count(tmp_path):
    # Before issue 14: `confounds sample --n -3` ended in a numpy traceback.
    (tmp_path / "model").mkdir()
    result = CliRunner().invoke(main, ["confounds", "sample", "--model", str(tmp_path / "model"),
                                       "--n", "-3", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Invalid value for '--n'" in result.output
    assert "Traceback" not in result.output


def test_out_is_checked_before_any_work(tmp_path):
    # Before issue 14 an --out below a file failed only when the results were written.
    (tmp_path / "blocker").write_text("a file")
    bad = str(tmp_path / "blocker" / "out")
    for args in (["confounds", "fit", "--data", str(tmp_path), "--out", bad],
                 ["rsa", "rdm", str(tmp_path / "blocker"), "--out", bad]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "Invalid value for '--out'" in result.output
        assert "blocker is a file, not a folder" in result.output


def test_missing_demographics_hint_names_the_cli_options():
    # Before issue 14 the CLI said "(continuous=/categorical=)", Python keywords.
    import numpy as np
    import pytest

    from neurodecode.confounds.demovae import DemoVAE
    from neurodecode.errors import DataError

    with pytest.raises(DataError, match="--continuous/--categorical on the command line"):
        DemoVAE(n_epochs=1).fit(np.zeros((4, 6)))
