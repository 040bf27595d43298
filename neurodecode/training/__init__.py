"""Training of cross-subject decoders (HF accelerate), checkpoints and new-subject adaptation."""

from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint
from neurodecode.training.experiment import (
    ExperimentConfig,
    PreparedData,
    build_decoder,
    evaluate,
    fit,
    load_config,
    load_dataset,
    predict,
    prepare_data,
)
from neurodecode.training.trainer import LossTerm, TrainConfig, train

__all__ = [
    "ExperimentConfig",
    "LossTerm",
    "PreparedData",
    "TrainConfig",
    "build_decoder",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_config",
    "load_dataset",
    "predict",
    "prepare_data",
    "save_checkpoint",
    "train",
]
