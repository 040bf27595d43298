"""From a config to a trained, evaluated decoder: the API behind ``neurodecode train``.

An experiment config (YAML in ``pipelines/recon/``) has four sections::

    name: synthetic-default
    data:    {dataset: synthetic-vision, subjects: [1, 2, 3, 4], params: {seed: 0}}
             (sensor worlds such as synthetic-meg-vision enter as time-binned vectors,
             ``bin_s`` seconds wide; see TrialData.to_vectors)
    targets: [{space: world-embed, head: linear}, {space: pixels-16, head: spatial}]
    model:   {width: 512, depth: 2, dropout: 0.15, adapter: {kind: mlp}}
    train:   {epochs: 30, batch_size: 64, lr: 1e-3, losses: [{name: mse, head: world-embed}]}

Voxel standardisation statistics come from each subject's training trials only; test trials
of the shared test set are averaged over repetitions (the NSD protocol).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neurodecode._files import atomic_path, write_json
from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.data.errors import DataError
from neurodecode.data.splits import split_from_metadata, subsample_trials
from neurodecode.features.base import extract_cached, get_extractor
from neurodecode.models.adapters import AdapterConfig
from neurodecode.models.decoder import BrainDecoder, DecoderConfig, HeadConfig
from neurodecode.training.trainer import SubjectBatches, TrainConfig, train

SECTIONS = ("name", "data", "targets", "model", "train", "full_scale")


@dataclass
class ExperimentConfig:
    name: str
    data: dict
    targets: list[dict]
    model: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    full_scale: dict | None = None  # the published architecture, for parameter counts only

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>", lines: dict | None = None,
                  plain: set | None = None) -> ExperimentConfig:
        """Build from a mapping, validated first (types, ranges, known keys, loss and head
        names; :func:`neurodecode.config.validate_experiment`; ``lines`` and ``plain`` come
        from :func:`neurodecode.config.read_yaml` so errors carry file:line)."""
        from neurodecode.config import validate_experiment

        d = validate_experiment(d, source, lines, plain)
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise DataError(f"{source}: unknown sections {sorted(unknown)}; expected {SECTIONS}")
        for key in ("name", "data", "targets"):
            if key not in d:
                raise DataError(f"{source}: missing section {key!r}")
        try:
            return cls(name=d["name"], data=dict(d["data"]), targets=list(d["targets"]),
                       model=dict(d.get("model") or {}),
                       train=TrainConfig.from_dict(d.get("train") or {}),
                       full_scale=d.get("full_scale"))
        except TypeError as err:
            raise DataError(f"{source}: {err}") from err

    def full_scale_decoder(self):
        """The :class:`DecoderConfig` of the published architecture (``full_scale``)."""
        if not self.full_scale:
            raise DataError(f"experiment {self.name!r} has no full_scale section")
        fs = dict(self.full_scale)
        return DecoderConfig.from_dict({"n_features": fs["n_features"], "heads": fs["heads"],
                                        "adapter": fs.get("adapter", {}),
                                        "width": fs.get("width", 512),
                                        "depth": fs.get("depth", 2)})

    def to_dict(self) -> dict:
        return {"name": self.name, "data": self.data, "targets": self.targets,
                "model": self.model, "train": self.train.to_dict(),
                "full_scale": self.full_scale}


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML with ``yaml.safe_load`` and validate it before any data is
    loaded; errors name the file and line."""
    from neurodecode.config import read_yaml

    path = Path(path)
    raw, lines, plain = read_yaml(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping with sections {SECTIONS}")
    return ExperimentConfig.from_dict(raw, source=str(path), lines=lines, plain=plain)


@dataclass
class PreparedData:
    """Everything a decoder trains and is tested on.

    ``targets[space]`` has one row per stimulus in ``stimuli`` order; ``train[s]`` holds single
    trials, ``test[s]`` the shared test set averaged over repetitions.
    """

    stimuli: StimulusSet
    targets: dict[str, np.ndarray]
    train: dict[str, TrialData]
    test: dict[str, TrialData]

    def target_rows(self, data: TrialData) -> dict[str, np.ndarray]:
        pos = self.stimuli.index_of(data.stimulus_ids)
        return {k: v[pos] for k, v in self.targets.items()}

    def batches(self, subjects: list[str], fraction: float = 1.0,
                seed: int = 0) -> dict[str, SubjectBatches]:
        """Training arrays; ``fraction`` < 1 keeps that share of each subject's stimuli."""
        out = {}
        for s in subjects:
            d = subsample_trials(self.train[s], fraction, random_state=seed)
            out[s] = SubjectBatches(np.asarray(d.X, dtype=np.float32), self.target_rows(d),
                                    stimulus_ids=np.asarray(d.stimulus_ids),
                                    rois=d.info.get("rois"))
        return out


def prepare_data(subjects: dict[str, TrialData], stimuli: StimulusSet, spaces: list[str],
                 extractor_options: dict | None = None,
                 cache: str | Path | None = None) -> PreparedData:
    """Split trials (metadata ``split`` column, or all-train), average test repetitions and
    extract every target space once (cached)."""
    options = extractor_options or {}
    targets = {s: extract_cached(get_extractor(s, **options.get(s, {})), stimuli, cache)
               for s in spaces}
    train_sets, test_sets = {}, {}
    for name, data in subjects.items():
        if "split" in data.metadata:
            tr, te = split_from_metadata(data)
        else:
            tr, te = data, data.select(np.zeros(data.n_trials, bool))
        train_sets[name] = tr
        test_sets[name] = te.average_repetitions() if te.n_trials else te
    return PreparedData(stimuli, targets, train_sets, test_sets)


def load_dataset(data_cfg: dict):
    """``(subjects, stimuli)`` for a data section, opened through the one front door
    :func:`neurodecode.datasets.open_dataset`: a card name (a synthetic world such as
    ``synthetic-vision``, or a real dataset with ``params: {path: ...}``) or a folder (a world
    written by ``neurodecode synth``, NSD's layout, the bring-your-own format)."""
    from neurodecode.datasets import open_dataset

    name = data_cfg.get("dataset", "synthetic-vision")
    params = dict(data_cfg.get("params") or {})
    wanted = data_cfg.get("subjects")
    dataset = open_dataset(name, subjects=[str(s) for s in wanted] if wanted else None,
                           **params)
    if dataset.stimuli is None:
        raise DataError(f"{name}: has no stimuli (images); decoders are trained towards "
                        "features of the images shown (add stimuli/ to the folder)")
    bin_s = float(data_cfg.get("bin_s", 0.025))
    return {s: d.to_vectors(bin_s) if d.is_timeseries else d
            for s, d in dataset.subjects.items()}, dataset.stimuli


def build_decoder(cfg: ExperimentConfig, prepared: PreparedData,
                  subjects: list[str]) -> BrainDecoder:
    """A fresh decoder for ``subjects`` with voxel scalers fit on their training trials."""
    model_cfg = dict(cfg.model)
    heads = [HeadConfig(target=t["space"], shape=tuple(prepared.targets[t["space"]].shape[1:]),
                        kind=t.get("head", "linear"), rank=t.get("rank", 64),
                        channels=t.get("channels", 64), roi=t.get("roi"))
             for t in cfg.targets]
    dcfg = DecoderConfig(
        n_features={s: prepared.train[s].n_features for s in subjects}, heads=heads,
        adapter=AdapterConfig(**model_cfg.pop("adapter", {})), **model_cfg,
    )
    coords = {s: prepared.train[s].info.get("voxel_coords") for s in subjects}
    torch.manual_seed(cfg.train.seed)
    model = BrainDecoder(dcfg, coords if dcfg.adapter.kind == "anat" else None)
    for s in subjects:
        model.scalers[s].fit(prepared.train[s].X)
    return model


@torch.no_grad()
def predict(model: BrainDecoder, X: np.ndarray, subject: str,
            batch_size: int = 256) -> dict[str, np.ndarray]:
    """Predictions of every head for trials ``X`` (n, n_voxels) of ``subject``."""
    model.eval()
    outs: dict[str, list] = {}
    X = np.asarray(X, dtype=np.float32)
    for start in range(0, len(X), batch_size):
        out = model(torch.from_numpy(X[start:start + batch_size]), subject)
        for k, v in out.items():
            outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def evaluate(model: BrainDecoder, prepared: PreparedData, subject: str, space: str,
             set_size: int | None = None, seed: int = 0) -> dict:
    """Retrieval (top-1/5, both directions) and two-way identification on the test set."""
    from neurodecode.metrics.identification import retrieval_topk, two_way_identification

    test = prepared.test[subject]
    pred = predict(model, test.X, subject)[space]
    true = prepared.target_rows(test)[space]
    n = len(true)
    out = retrieval_topk(pred.reshape(n, -1), true.reshape(n, -1),
                         set_size=min(set_size or n, n), seed=seed)
    out["two_way"] = two_way_identification(true.reshape(n, -1), pred.reshape(n, -1))
    out.update(subject=subject, space=space)
    return out


def write_logs(logs: list[dict], path: str | Path) -> Path:
    """Per-step logs (one column per loss term) as CSV, atomically."""
    keys = list(dict.fromkeys(k for row in logs for k in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(logs)
    return Path(path)


def _read_logs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def check_resume_config(cfg: ExperimentConfig, out_dir: str | Path) -> None:
    """Refuse to resume a run in ``out_dir`` that was started with a different config (the
    old model and schedule would continue while ``config.json`` recorded the new values)."""
    import json

    path = Path(out_dir) / "config.json"
    if not path.exists():
        return
    try:
        before = json.loads(path.read_text()).get("experiment")
    except (ValueError, AttributeError) as err:
        raise DataError(f"{path}: unreadable ({err}); cannot check that --resume continues "
                        "the same config") from err
    now = json.loads(json.dumps(cfg.to_dict(), default=str))
    changes = _changes(before, now)
    if changes:
        shown = "; ".join(changes[:5]) + (f" (and {len(changes) - 5} more)"
                                           if len(changes) > 5 else "")
        raise DataError(f"--resume: the run in {out_dir} was started with a different config "
                        f"({shown}); resume with the same config and --epochs, or start fresh "
                        "(without --resume, or with another --out)")


def _changes(before, now, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two JSON-like values."""
    if isinstance(before, dict) and isinstance(now, dict):
        out = []
        for key in list(dict.fromkeys([*before, *now])):
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _changes(before.get(key), now.get(key), name)
        return out
    return [] if before == now else [f"{prefix or 'config'}: {before!r} -> {now!r}"]


def fit(cfg: ExperimentConfig, out_dir: str | Path | None = None, quiet: bool = False,
        resume: bool = False, cache: str | Path | None = None):
    """Train the experiment's decoder; return ``(model, prepared, logs)``.

    With ``out_dir``: a checkpoint after every epoch (``model.safetensors``, ``config.json``,
    ``trainer_state.pt``), ``train_log.csv`` and, at the end, ``metrics.json``. With
    ``resume=True`` an interrupted run continues from its last epoch.
    """
    from neurodecode.training.checkpoint import (
        load_checkpoint,
        load_trainer_state,
        save_checkpoint,
        save_trainer_state,
    )

    if out_dir is not None:  # before any data is loaded
        from neurodecode._files import check_writable_dir

        check_writable_dir(out_dir, "--out")
    if resume and out_dir is not None:
        check_resume_config(cfg, out_dir)
    if cfg.model.get("kind") == "brain_module":  # MEG/EEG through the brain module
        from neurodecode.training import meg

        return meg.fit(cfg, out_dir, quiet=quiet, resume=resume, cache=cache)
    subjects, stimuli = load_dataset(cfg.data)
    spaces = [t["space"] for t in cfg.targets]
    prepared = prepare_data(subjects, stimuli, spaces, cfg.data.get("extractors"), cache)
    names = list(subjects)
    state = load_trainer_state(out_dir) if (resume and out_dir) else None
    if state is not None:
        model, _ = load_checkpoint(out_dir)
    else:
        model = build_decoder(cfg, prepared, names)
    extra = {"experiment": cfg.to_dict()}
    earlier = _read_logs(Path(out_dir) / "train_log.csv") if state is not None else []

    def checkpoint(epoch, optimizer, scheduler, logs):
        if out_dir is not None:
            # The trainer state is written last: it marks the epoch as complete.
            save_checkpoint(model, out_dir, extra)
            write_logs(earlier + logs, Path(out_dir) / "train_log.csv")
            save_trainer_state(out_dir, epoch + 1, optimizer, scheduler)

    logs = earlier + train(model, prepared.batches(names), cfg.train, quiet=quiet,
                           resume=state, on_epoch_end=checkpoint)
    from accelerate import PartialState

    if out_dir is not None and PartialState().is_main_process:
        out_dir = Path(out_dir)
        # the final model: the best validation epoch (early stopping) and, for decoders with a
        # ridge part, the ridge refitted on every training trial (a ridge decoder has no epochs)
        save_checkpoint(model, out_dir, extra)
        write_logs(logs, out_dir / "train_log.csv")
        metrics = [evaluate(model, prepared, s, spaces[0]) for s in names
                   if prepared.test[s].n_trials > 1]
        report = {"retrieval": metrics, "decoder": model.cfg.decoder,
                  "seed": cfg.train.seed}
        if model.cfg.decoder != "ridge":  # the linear baseline on the same split
            baseline = ridge_baseline(cfg, prepared, model)
            report["ridge_baseline"] = [evaluate(baseline, prepared, s, spaces[0])
                                        for s in names if prepared.test[s].n_trials > 1]
        write_json(out_dir / "metrics.json", report)
    return model, prepared, logs


def ridge_baseline(cfg: ExperimentConfig, prepared: PreparedData,
                   model: BrainDecoder | None = None) -> BrainDecoder:
    """The ridge decoder on the same training trials: the ridge part of a ``ridge+deep``
    ``model`` (the same fit), else fitted here (closed form)."""
    from neurodecode.models.decoder import ridge_part

    if model is not None and model.cfg.has_ridge:
        return ridge_part(model)
    ridge_cfg = ExperimentConfig.from_dict({**cfg.to_dict(),
                                            "model": {**cfg.model, "decoder": "ridge"}})
    names = list(prepared.train)
    ridge = build_decoder(ridge_cfg, prepared, names)
    train(ridge, prepared.batches(names), ridge_cfg.train, quiet=True)
    return ridge
