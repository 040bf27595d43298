"""New-subject adaptation of a trained cross-subject decoder.

Policies (each starts the new subject with a *fresh* adapter; what is re-initialised, trained
and frozen is returned and logged, never implied):

- ``adapter_only`` — train the new adapter (and builder), freeze everything else
  (See Through Their Minds).
- ``reset_tune`` — MindBridge's reset-tuning: fresh adapter and builder, everything else
  frozen; each step also draws a source-subject batch whose shared embedding is cycled through
  the new subject's builder and adapter (cycle loss as augmentation).
- ``full`` — fresh adapter, fine-tune every weight (MindEye2).
"""

from __future__ import annotations

import copy
import logging

from neurodecode.data.errors import DataError
from neurodecode.models.decoder import BrainDecoder
from neurodecode.training.experiment import PreparedData
from neurodecode.training.trainer import LossTerm, TrainConfig, train

log = logging.getLogger(__name__)
POLICIES = ("adapter_only", "reset_tune", "full")


def adapt(model: BrainDecoder, prepared: PreparedData, subject: str, policy: str,
          cfg: TrainConfig, fraction: float = 1.0, source_subjects: list[str] | None = None,
          seed: int = 0, quiet: bool = False) -> tuple[BrainDecoder, dict]:
    """Adapt a copy of ``model`` to ``subject`` using ``fraction`` of its training stimuli.

    Returns the adapted model and a report ``{"policy", "reinitialised", "trainable",
    "frozen", "n_train_trials", "logs"}`` (parameter-name lists).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown adaptation policy {policy!r}; choose from {POLICIES}")
    subject = str(subject)
    if subject not in prepared.train:
        raise DataError(f"subjects ['{subject}'] not in the data; available: "
                        f"{list(prepared.train)} (add it to the config's data.subjects)")
    model = copy.deepcopy(model)
    data = prepared.train[subject]
    if policy == "reset_tune" and not model.cfg.adapter.builder:
        raise ValueError("reset_tune cycles source embeddings through the new subject's "
                         "builder: use a decoder trained with builders (model.adapter."
                         "builder: true, as in pipelines/recon/mindbridge.yaml)")
    model.add_subject(subject, data.n_features, data.info.get("voxel_coords"))
    model.scalers[subject].fit(data.X)
    fresh = [f"adapters.{subject}.", f"builders.{subject}.", f"scalers.{subject}."]
    reinitialised = [n for n, _ in model.named_parameters() if n.startswith(tuple(fresh))]
    trainable_prefixes = None if policy == "full" else fresh[:2]
    batches = prepared.batches([subject], fraction=fraction, seed=seed)
    pair = None
    if policy == "reset_tune":
        sources = source_subjects or [s for s in prepared.train if s != subject
                                      and s in model.adapters]
        pair = {s: b for s, b in prepared.batches(sources, seed=seed).items()}
        cfg = copy.deepcopy(cfg)
        cfg.losses = [*cfg.losses, LossTerm("voxel", weight=1.0)]
    logs = train(model, batches, cfg, trainable=trainable_prefixes, pair_with=pair, quiet=quiet)
    names = [n for n, _ in model.named_parameters()]
    trainable = [n for n in names if trainable_prefixes is None
                 or n.startswith(tuple(trainable_prefixes))]
    report = {"policy": policy, "subject": subject, "reinitialised": reinitialised,
              "trainable": trainable, "frozen": [n for n in names if n not in trainable],
              "n_train_trials": int(len(batches[subject].X)), "logs": logs}
    log.info("adapt %s to subject %s: re-initialised %d tensors, trained %d, froze %d",
             policy, subject, len(reinitialised), len(trainable), len(report["frozen"]))
    return model, report
