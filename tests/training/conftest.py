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
