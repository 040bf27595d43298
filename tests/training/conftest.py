"""A small synthetic-vision experiment shared by the training tests."""

import pytest

from neurodecode.training.experiment import ExperimentConfig

SMALL = {
    "name": "test-small",
    "data": {"dataset": "synthetic-vision", "subjects": [1, 2, 3],
             "params": {"seed": 0, "n_subjects": 3, "n_train": 160, "n_test": 40,
                        "noise": 3.0}},
    "targets": [{"space": "world-embed", "head": "linear"}],
    "model": {"width": 64, "depth": 1, "dropout": 0.1, "adapter": {"kind": "linear"}},
    "train": {"epochs": 6, "batch_size": 32, "lr": 3e-3, "seed": 0,
              "losses": [{"name": "mse", "head": "world-embed"},
                         {"name": "softclip", "head": "world-embed", "temperature": 0.1}]},
}


@pytest.fixture
def small_config(tmp_path, monkeypatch) -> ExperimentConfig:
    monkeypatch.setenv("NEURODECODE_CACHE", str(tmp_path / "cache"))
    import copy

    return ExperimentConfig.from_dict(copy.deepcopy(SMALL))


@pytest.fixture
def small_config_dict() -> dict:
    import copy

    return copy.deepcopy(SMALL)


def takagi_nishimoto_two_way(cfg) -> float:
    """Train ``cfg`` (pipelines/recon/takagi-nishimoto.yaml, subject 1), check that each ridge
    head reads only its ROI (pixels: early, semantic: higher), return the test two-way
    identification of the semantic head."""
    from neurodecode.metrics.identification import two_way_identification
    from neurodecode.training.experiment import (
        build_decoder,
        load_dataset,
        predict,
        prepare_data,
    )
    from neurodecode.training.trainer import train

    subjects, stimuli = load_dataset(cfg.data)
    prepared = prepare_data(subjects, stimuli, ["world-embed", "pixels-16"])
    model = build_decoder(cfg, prepared, ["1"])
    train(model, prepared.batches(["1"]), cfg.train, quiet=True)
    rois = prepared.train["1"].info["rois"]
    pixels = model.ridge["1"]["pixels-16"].weight.numpy()
    semantic = model.ridge["1"]["world-embed"].weight.numpy()
    assert not pixels[:, rois["higher"]].any() and pixels[:, rois["early"]].any()
    assert not semantic[:, rois["early"]].any() and semantic[:, rois["higher"]].any()
    test = prepared.test["1"]
    pred = predict(model, test.X, "1")["world-embed"]
    return two_way_identification(prepared.target_rows(test)["world-embed"], pred)
