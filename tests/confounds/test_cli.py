import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from neurodecode.cli import main
from neurodecode.synth import fc_demographics


@pytest.mark.slow
def test_fit_transform_sample(tmp_path):
    world = fc_demographics.make(n_subjects=40, seed=0, n_rois=14)
    fc_demographics.write(world, tmp_path / "data")
    data = ["--data", str(tmp_path / "data"), "--phenotypic",
            str(tmp_path / "data" / "phenotypic.csv"), "--atlas", "synth",
            "--id-column", "participant_id"]
    runner = CliRunner()
    res = runner.invoke(main, ["confounds", "fit", *data, "--continuous", "age",
                               "--categorical", "sex", "--categorical", "site", "--epochs", "2",
                               "--hidden-dim", "16", "--latent-dim", "4", "--quiet",
                               "--out", str(tmp_path / "model")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "model" / "model.safetensors").is_file()
    res = runner.invoke(main, ["confounds", "transform", *data, "--model",
                               str(tmp_path / "model"), "--out", str(tmp_path / "z.csv")])
    assert res.exit_code == 0, res.output
    latents = pd.read_csv(tmp_path / "z.csv")
    assert latents.shape == (40, 5)
    assert list(latents.participant_id) == list(world.subjects["group"].metadata.participant_id)
    res = runner.invoke(main, ["confounds", "sample", "--model", str(tmp_path / "model"),
                               "--n", "7", "--out", str(tmp_path / "syn")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "syn" / "synthetic_edges.npy").shape == (7, 91)
    assert len(pd.read_csv(tmp_path / "syn" / "synthetic_demographics.csv")) == 7
    res = runner.invoke(main, ["confounds", "sample", "--model", str(tmp_path / "model"),
                               "--out", str(tmp_path / "syn2")])
    assert res.exit_code != 0 and "exactly one of --n and --demographics" in res.output
