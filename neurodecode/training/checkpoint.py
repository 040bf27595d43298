"""Checkpoints: weights in safetensors, architecture and training config in JSON.

Loading is strict: every tensor of the file must match the model built from the JSON config
and vice versa (no silent partial loads). Trainer state for resuming (optimizer, scheduler)
is saved with ``torch.save`` and read back with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from neurodecode._files import atomic_path, write_json
from neurodecode.data.errors import DataError
from neurodecode.models.decoder import BrainDecoder, DecoderConfig

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TRAINER_STATE = "trainer_state.pt"


def save_checkpoint(model: BrainDecoder, directory: str | Path, extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` (weights + voxel coordinates) and ``config.json``."""
    directory = Path(directory)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for subject, coords in model.coords.items():
        tensors[f"coords.{subject}"] = torch.as_tensor(np.asarray(coords, dtype=np.float32))
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / CONFIG, {"decoder": model.cfg.to_dict(), **(extra or {})})
    return directory


def load_checkpoint(directory: str | Path) -> tuple[BrainDecoder, dict]:
    """Rebuild the decoder from ``config.json`` and load ``model.safetensors`` strictly."""
    directory = Path(directory)
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).exists():
            raise DataError(f"{directory / name}: not found; {directory} is not a neurodecode "
                            "checkpoint (expected model.safetensors and config.json)")
    try:  # a damaged or hand-edited checkpoint is bad input, not a bug: say which file
        meta = json.loads((directory / CONFIG).read_text())
        cfg = DecoderConfig.from_dict(meta["decoder"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{directory / CONFIG}: not a valid neurodecode checkpoint config "
                        f"({type(err).__name__}: {err}); restore it or retrain") from err
    try:
        tensors = load_file(str(directory / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"{directory / WEIGHTS}: unreadable safetensors file "
                        f"({type(err).__name__}: {err}); it is truncated or damaged: restore "
                        "it or retrain") from err
    coords = {k.split(".", 1)[1]: tensors.pop(k).numpy() for k in list(tensors)
              if k.startswith("coords.")}
    try:
        model = BrainDecoder(cfg, coords or None)
        if "mix" not in tensors and cfg.decoder == "deep":  # saved before ridge+deep existed
            tensors["mix"] = model.mix.clone()
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{directory / WEIGHTS} does not match its config.json: {err}") from err
    return model.eval(), meta


def save_trainer_state(directory: str | Path, epoch: int, optimizer, scheduler) -> Path:
    path = Path(directory) / TRAINER_STATE
    with atomic_path(path) as tmp:
        torch.save({"epoch": epoch, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, tmp)
    return path


def load_trainer_state(directory: str | Path) -> dict | None:
    path = Path(directory) / TRAINER_STATE
    if not path.exists():
        return None
    return torch.load(path, weights_only=True)
