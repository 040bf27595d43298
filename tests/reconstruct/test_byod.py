"""The README's bring-your-own-data path: arrays of trials x voxels + images → reconstructions,
with no pretrained generator."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.data import StimulusSet, TrialData
from neurodecode.metrics import pixcorr_scores
from neurodecode.reconstruct.pixels import PixelGenerator
from neurodecode.reconstruct.reconstructor import Reconstructor
from neurodecode.training import ExperimentConfig, build_decoder, predict, prepare_data, train

pytestmark = pytest.mark.slow


def test_arrays_to_reconstructions(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    n_images, n_voxels = 160, 300
    # Images: smooth random colour fields; voxels: a fixed random linear code of their pixels.
    coarse = rng.random((n_images, 4, 4, 3))
    images = (np.kron(coarse, np.ones((1, 8, 8, 1))) * 255).astype(np.uint8)
    code = rng.normal(size=(4 * 4 * 3, n_voxels))
    image_index = np.repeat(np.arange(n_images), 2)
    betas = coarse.reshape(n_images, -1)[image_index] @ code
    betas += rng.normal(scale=betas.std(), size=betas.shape)
    trial_table = pd.DataFrame({"split": np.where(image_index < 130, "train", "test")})

    stimuli = StimulusSet(ids=np.arange(n_images), images=images)
    data = {"1": TrialData(X=betas, subject="1", modality="fmri", stimulus_ids=image_index,
                           metadata=trial_table)}
    cfg = ExperimentConfig.from_dict({
        "name": "mine", "data": {},
        "targets": [{"space": "pixels-16", "head": "spatial"}],
        "model": {"width": 128, "depth": 1, "adapter": {"kind": "mlp", "dropout": 0.2}},
        "train": {"epochs": 40, "batch_size": 32, "lr": 0.003,
                  "losses": [{"name": "mse", "head": "pixels-16"}]}})
    prepared = prepare_data(data, stimuli, ["pixels-16"])
    model = build_decoder(cfg, prepared, ["1"])
    train(model, prepared.batches(["1"]), cfg.train, quiet=True)
    test = prepared.test["1"]
    preds = predict(model, test.X, "1")
    out = Reconstructor(PixelGenerator(size=32)).reconstruct(preds)["images"]
    assert out.shape == (30, 32, 32, 3)
    seen = stimuli.get_images(test.stimulus_ids)
    r = pixcorr_scores(seen, out)
    wrong = pixcorr_scores(seen, out[::-1])
    assert r.mean() > 0.4 and r.mean() > wrong.mean() + 0.3
