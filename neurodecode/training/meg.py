"""Training and evaluation of the MEG/EEG brain module (Benchetrit, Banville & King 2024).

The brain module (:mod:`neurodecode.models.brain_module`) trains on the same trainer as the
fMRI decoders (:func:`neurodecode.training.trainer.train`: HF accelerate, AdamW, one-cycle,
gradient clipping, per-loss logs) with the loss

    λ · CLIP(clip head, target) + (1 − λ) · MSE(regression head, target),  λ = 0.75

(:func:`brain_module_losses`). Trials are cut to a window relative to stimulus onset
(``data.window``, seconds); baseline correction, robust scaling and clamping use statistics of
each subject's training trials only, held in the model so that inference takes raw data.

An experiment config (``pipelines/recon/synthetic-meg.yaml``) is an ordinary
:class:`~neurodecode.training.experiment.ExperimentConfig` whose ``model`` section has
``kind: brain_module`` and the fields of
:class:`~neurodecode.models.brain_module.BrainModuleConfig`; each target may set ``clip: true``
to get a contrastive head.

Baselines scored on the same split by :func:`compare_decoders`: a ridge regression on
time-flattened sensors per subject (the linear decoder of Benchetrit et al.; scikit-learn's
``RidgeCV``, penalty chosen by efficient leave-one-out inside the training trials) and the
fMRI-style cross-subject decoder on time-binned sensor vectors (subject adapters + residual MLP,
:class:`~neurodecode.models.decoder.BrainDecoder`). :func:`time_resolved` scores a decoder per
time window after onset.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neurodecode._files import atomic_path, content_hash, write_json
from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.data.errors import DataError
from neurodecode.data.splits import split_from_metadata, subsample_trials
from neurodecode.metrics.retrieval import retrieval_scores
from neurodecode.models.brain_module import (
    CLIP_PREFIX,
    BrainModule,
    BrainModuleConfig,
    sensor_positions,
)
from neurodecode.models.decoder import HeadConfig
from neurodecode.training.experiment import ExperimentConfig, PreparedData
from neurodecode.training.trainer import LossTerm, SubjectBatches, TrainConfig, train

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
KIND = "brain_module"


def brain_module_losses(space: str, lam: float = 0.75, temperature: float = 0.05,
                        ) -> list[LossTerm]:
    """``λ·CLIP + (1 − λ)·MSE`` on ``space`` (Benchetrit et al. 2024 use λ = 0.75).

    The CLIP term is the symmetric InfoNCE of :func:`neurodecode.training.losses.info_nce` on
    the contrastive head ``clip:<space>``; the MSE term trains the regression head ``space``
    (the one generators read).
    """
    if not 0.0 <= lam <= 1.0:
        raise DataError(f"λ (the CLIP weight) must lie in [0, 1], got {lam}")
    return [LossTerm("infonce", CLIP_PREFIX + space, weight=lam, temperature=temperature),
            LossTerm("mse", space, weight=1.0 - lam)]


# ----------------------------------------------------------------------------- data
def crop_window(data: TrialData, tmin: float, tmax: float) -> TrialData:
    """Samples from ``tmin`` to ``tmax`` seconds relative to stimulus onset (inclusive)."""
    if not data.is_timeseries:
        raise DataError(f"subject {data.subject}: windows need sensor epochs, got "
                        f"{data.modality}")
    sfreq, start = float(data.info["sfreq"]), float(data.info.get("tmin", 0.0))
    times = start + np.arange(data.X.shape[2]) / sfreq
    keep = np.flatnonzero((times >= tmin - 0.5 / sfreq) & (times <= tmax + 0.5 / sfreq))
    if len(keep) < 2:
        raise DataError(f"subject {data.subject}: window {tmin}..{tmax} s holds fewer than 2 "
                        f"samples of the epochs ({times[0]:.3f}..{times[-1]:.3f} s)")
    info = {**data.info, "tmin": float(times[keep[0]])}
    return replace(data, X=np.asarray(data.X)[:, :, keep[0]:keep[-1] + 1], info=info)


@dataclass
class SensorPrepared(PreparedData):
    """:class:`PreparedData` of sensor epochs cut to one window.

    ``test`` averages the shared test images' repetitions; ``test_trials`` keeps the single
    trials; ``times`` are the window's sample times (s from onset); ``clip`` the spaces that
    also feed a contrastive head; ``distractors`` extra candidate embeddings per space (images
    never used in training) for the large retrieval set.
    """

    test_trials: dict[str, TrialData] = field(default_factory=dict)
    times: np.ndarray | None = None
    clip: list[str] = field(default_factory=list)
    distractors: dict[str, np.ndarray] = field(default_factory=dict)

    def batches(self, subjects: list[str], fraction: float = 1.0,
                seed: int = 0) -> dict[str, SubjectBatches]:
        out = {}
        for s in subjects:
            d = subsample_trials(self.train[s], fraction, random_state=seed)
            rows = self.target_rows(d)
            rows.update({CLIP_PREFIX + k: rows[k] for k in self.clip})
            batch = SubjectBatches(np.asarray(d.X, dtype=np.float32), rows)
            if hasattr(batch, "stimulus_ids"):  # validation splits keep repetitions together
                batch.stimulus_ids = np.asarray(d.stimulus_ids)
            out[s] = batch
        return out

    @property
    def baseline_samples(self) -> int:
        return int((self.times < -1e-9).sum()) if self.times is not None else 0


def prepare_sensor_data(subjects: dict[str, TrialData], stimuli: StimulusSet, spaces: list[str],
                        window: tuple[float, float] = (-0.1, 0.6), clip: list[str] | None = None,
                        distractors: StimulusSet | None = None,
                        extractor_options: dict | None = None,
                        cache: str | Path | None = None) -> SensorPrepared:
    """Cut every subject's epochs to ``window``, split train/test (metadata ``split``: no image
    in both), average test repetitions, extract each target space once (cached)."""
    from neurodecode.features.base import extract_cached, get_extractor

    options = extractor_options or {}
    targets = {s: extract_cached(get_extractor(s, **options.get(s, {})), stimuli, cache)
               for s in spaces}
    extra = {}
    if distractors is not None:
        extra = {s: extract_cached(get_extractor(s, **options.get(s, {})), distractors, cache)
                 for s in spaces}
    train_sets, test_sets, test_trials = {}, {}, {}
    times = None
    for name, data in subjects.items():
        data = crop_window(data, *window)
        t = data.info["tmin"] + np.arange(data.X.shape[2]) / data.info["sfreq"]
        if times is not None and (len(t) != len(times) or not np.allclose(t, times)):
            raise DataError(f"subject {name}: window samples differ from the other subjects' "
                            "(resample every subject to one rate)")
        times = t
        if "split" not in data.metadata:
            raise DataError(f"subject {name}: metadata needs a 'split' column (train/test)")
        tr, te = split_from_metadata(data)
        train_sets[name], test_trials[name] = tr, te
        test_sets[name] = te.average_repetitions() if te.n_trials else te
    return SensorPrepared(stimuli, targets, train_sets, test_sets, test_trials=test_trials,
                          times=times, clip=list(clip or []), distractors=extra)


def load_sensor_dataset(data_cfg: dict) -> tuple[dict[str, TrialData], StimulusSet,
                                                 StimulusSet | None]:
    """``(subjects, stimuli, distractor stimuli)`` of a data section naming a sensor world
    (``synthetic-meg-vision``) or a folder it was written to."""
    from neurodecode import synth

    name = data_cfg.get("dataset", "synthetic-meg-vision")
    params = dict(data_cfg.get("params") or {})
    if name in synth.WORLDS:
        world = synth.make(name, **params)
    elif Path(name).is_dir():
        world = synth.read("synthetic-meg-vision", name)
    else:
        raise DataError(f"unknown sensor dataset {name!r}: give synthetic-meg-vision or a "
                        "folder written by `neurodecode synth synthetic-meg-vision`")
    wanted = [str(s) for s in data_cfg.get("subjects") or world.subjects]
    missing = sorted(set(wanted) - set(world.subjects))
    if missing:
        raise DataError(f"subjects {missing} not in {name}; available {list(world.subjects)}")
    bad = [s for s in wanted if not world.subjects[s].is_timeseries]
    if bad:
        raise DataError(f"{name}: subjects {bad} are not sensor epochs; the brain module needs "
                        "(trials, sensors, times)")
    distractors = None
    n_extra = int(data_cfg.get("n_distractors", 0))
    if n_extra and world.name == "synthetic-meg-vision":
        from neurodecode.synth.meg_vision import distractor_stimuli

        distractors = distractor_stimuli(world, n_extra)
    return {s: world.subjects[s] for s in wanted}, world.stimuli, distractors


def prepare_from_config(cfg: ExperimentConfig, cache: str | Path | None = None,
                        ) -> SensorPrepared:
    subjects, stimuli, distractors = load_sensor_dataset(cfg.data)
    return prepare_sensor_data(
        subjects, stimuli, [t["space"] for t in cfg.targets],
        window=tuple(cfg.data.get("window", (-0.1, 0.6))),
        clip=[t["space"] for t in cfg.targets if t.get("clip")], distractors=distractors,
        extractor_options=cfg.data.get("extractors"), cache=cache)


# ----------------------------------------------------------------------------- model
def module_config(model: dict, prepared: SensorPrepared, targets: list[dict],
                  subjects: list[str]) -> BrainModuleConfig:
    """The :class:`BrainModuleConfig` of a config's ``model`` and ``targets`` sections."""
    model = {k: v for k, v in model.items() if k != "kind"}
    heads = [HeadConfig(target=t["space"], shape=tuple(prepared.targets[t["space"]].shape[1:]),
                        kind=t.get("head", "linear"), rank=t.get("rank", 64))
             for t in targets]
    try:
        return BrainModuleConfig(
            n_features={s: prepared.train[s].n_features for s in subjects},
            n_times=len(prepared.times), heads=heads, clip=list(prepared.clip),
            baseline_samples=prepared.baseline_samples, **model)
    except TypeError as err:
        raise DataError(f"model section: {err}") from err


def build_brain_module(cfg: ExperimentConfig, prepared: SensorPrepared,
                       subjects: list[str]) -> BrainModule:
    """A fresh brain module: sensor positions from each subject's info, bad sensors masked,
    robust-scaling statistics from its training trials."""
    torch.manual_seed(cfg.train.seed)
    model = BrainModule(module_config(cfg.model, prepared, cfg.targets, subjects))
    for s in subjects:
        attach_subject(model, prepared.train[s])
    return model


def attach_subject(model: BrainModule, train: TrialData, new: bool = False) -> None:
    """Positions, kinds, bad sensors and scaler of ``train.subject`` (``new``: add it)."""
    s = train.subject
    if new:
        model.add_subject(s, train.n_features)
    names = list(train.info.get("ch_names") or [])
    pos, kinds = sensor_positions(train.info, names or None)
    bads = set(train.info.get("bads") or [])
    model.set_sensors(s, pos, kinds, np.array([n in bads for n in names], dtype=bool)
                      if names else None)
    model.fit_scaler(s, train.X)


@torch.no_grad()
def predict(model: BrainModule, X: np.ndarray, subject: str, batch_size: int = 128,
            mask: np.ndarray | None = None, heads: str = "regression") -> dict[str, np.ndarray]:
    """Predictions for trials ``X`` (n, n_sensors, n_times) of ``subject``.

    ``heads="regression"`` returns the MSE heads (what generators read), ``"all"`` adds the
    ``clip:<space>`` heads. ``mask`` (n_sensors,) marks usable sensors (False = dropped).
    """
    model.eval()
    outs: dict[str, list] = {}
    X = np.asarray(X, dtype=np.float32)
    m = None if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool))
    for start in range(0, len(X), batch_size):
        out = model(torch.from_numpy(X[start:start + batch_size]), subject, mask=m)
        for k, v in out.items():
            if heads == "all" or (k != "shared" and not k.startswith(CLIP_PREFIX)):
                outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def retrieval_embedding(model: BrainModule, X: np.ndarray, subject: str, space: str,
                        mask: np.ndarray | None = None) -> np.ndarray:
    """The embedding retrieval ranks: the CLIP head when the model has one, else the MSE head."""
    out = predict(model, X, subject, mask=mask, heads="all")
    return out.get(CLIP_PREFIX + space, out[space])


# ----------------------------------------------------------------------------- checkpoints
def save_brain_module(model: BrainModule, directory: str | Path, extra: dict | None = None,
                      ) -> Path:
    """``model.safetensors`` (weights and per-subject sensor buffers) + ``config.json``."""
    from safetensors.torch import save_file

    directory = Path(directory)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / CONFIG, {"kind": KIND, "brain_module": model.cfg.to_dict(),
                                    **(extra or {})})
    return directory


def load_brain_module(directory: str | Path) -> tuple[BrainModule, dict]:
    """Rebuild a brain module from ``config.json`` and load its weights strictly."""
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).exists():
            raise DataError(f"{directory / name}: not found; {directory} is not a brain-module "
                            "checkpoint (expected model.safetensors and config.json)")
    meta = json.loads((directory / CONFIG).read_text())
    if meta.get("kind") != KIND:
        raise DataError(f"{directory / CONFIG}: not a brain-module checkpoint (kind "
                        f"{meta.get('kind')!r}); load it with neurodecode.training."
                        "load_checkpoint")
    model = BrainModule(BrainModuleConfig.from_dict(meta["brain_module"]))
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS)), strict=True)
    except RuntimeError as err:
        raise DataError(f"{directory / WEIGHTS} does not match its config.json: {err}") from err
    return model.eval(), meta


# ----------------------------------------------------------------------------- training
def train_brain_module(cfg: ExperimentConfig, prepared: SensorPrepared,
                       subjects: list[str] | None = None, quiet: bool = True,
                       out_dir: str | Path | None = None, resume: bool = False,
                       ) -> tuple[BrainModule, list[dict]]:
    """Build and train a brain module on ``prepared`` with ``cfg.train`` (the shared trainer).

    With ``out_dir``: a checkpoint and ``train_log.csv`` after every epoch plus the trainer
    state, so that ``resume=True`` continues an interrupted run exactly.
    """
    from neurodecode.training.checkpoint import load_trainer_state, save_trainer_state
    from neurodecode.training.experiment import _read_logs, write_logs

    subjects = [str(s) for s in (subjects or list(prepared.train))]
    state = load_trainer_state(out_dir) if (resume and out_dir) else None
    if state is not None:
        model, _ = load_brain_module(out_dir)
        model.train()
    else:
        model = build_brain_module(cfg, prepared, subjects)
    extra = {"experiment": cfg.to_dict()}
    earlier = _read_logs(Path(out_dir) / "train_log.csv") if state is not None else []

    def checkpoint(epoch, optimizer, scheduler, logs):
        if out_dir is not None:
            save_brain_module(model, out_dir, extra)
            write_logs(earlier + logs, Path(out_dir) / "train_log.csv")
            save_trainer_state(out_dir, epoch + 1, optimizer, scheduler)

    logs = train(model, prepared.batches(subjects), cfg.train, quiet=quiet, resume=state,
                 on_epoch_end=checkpoint)
    return model.eval(), earlier + logs


def fit(cfg: ExperimentConfig, out_dir: str | Path | None = None, quiet: bool = False,
        resume: bool = False, cache: str | Path | None = None):
    """``neurodecode train`` for a brain-module config: train, checkpoint, score retrieval on
    the test set (``metrics.json``); returns ``(model, prepared, logs)``."""
    prepared = prepare_from_config(cfg, cache)
    model, logs = train_brain_module(cfg, prepared, quiet=quiet, out_dir=out_dir, resume=resume)
    if out_dir is not None:
        from neurodecode.metrics.identification import retrieval_topk, two_way_identification

        space = cfg.targets[0]["space"]
        rows = []
        for s in prepared.test:
            if prepared.test[s].n_trials < 2:
                continue
            pred = test_embeddings(model, prepared, s, space)
            true = prepared.target_rows(prepared.test[s])[space].reshape(len(pred), -1)
            rows.append({"subject": s, "space": space, "decoder": KIND,
                         **retrieval_topk(pred, true, set_size=len(pred)),
                         "two_way": two_way_identification(true, pred),
                         **score_retrieval(pred, true, prepared.distractors.get(space))})
        write_json(Path(out_dir) / "metrics.json", {"decoder": KIND, "retrieval": rows})
    return model, prepared, logs


def trained_brain_module(cfg: ExperimentConfig, prepared: SensorPrepared,
                         shuffled: bool = False, quiet: bool = False,
                         cache: Path | None = None) -> tuple[BrainModule, Path]:
    """A brain module for ``cfg`` trained on ``prepared`` (training trials permuted against
    their stimuli if ``shuffled``), reused from ``cache`` when config, data and version match."""
    import neurodecode
    from neurodecode.reconstruct.pipeline import cache_root, shuffle_pairing

    data_key = content_hash(*[prepared.train[s].X[:20] for s in prepared.train], cfg.to_dict())
    key = content_hash(KIND, cfg.to_dict(), data_key, shuffled, neurodecode.__version__)
    directory = (cache or cache_root()) / "brain_modules" / key
    if (directory / CONFIG).exists():
        model, _ = load_brain_module(directory)
        return model, directory
    data = shuffle_pairing(prepared, cfg.train.seed) if shuffled else prepared
    model, _ = train_brain_module(cfg, data, quiet=quiet)
    save_brain_module(model, directory, {"experiment": cfg.to_dict(), "shuffled": shuffled})
    return model, directory


# ----------------------------------------------------------------------------- evaluation
def test_embeddings(model: BrainModule, prepared: SensorPrepared, subject: str, space: str,
                    mask: np.ndarray | None = None, average: str = "predictions") -> np.ndarray:
    """One decoded embedding per test image, in ``prepared.test[subject]`` order.

    ``average="predictions"`` (default) decodes every single test trial and averages the
    unit-normalised embeddings of each image: the decoder sees inputs at the single-trial
    noise level it was trained on (batch-norm statistics included). ``"signal"`` decodes the
    trials averaged over repetitions (the NSD protocol). For a linear decoder the two differ
    only by the normalisation (ridge on synthetic-meg-vision: large-set top-5 .152 vs .156).
    """
    return _per_image(lambda X: retrieval_embedding(model, X, subject, space, mask), prepared,
                      subject, average)


def _per_image(decode, prepared: SensorPrepared, subject: str, average: str) -> np.ndarray:
    test = prepared.test[subject]
    if average == "signal":
        return decode(test.X)
    if average != "predictions":
        raise DataError(f"average must be 'signal' or 'predictions', got {average!r}")
    trials = prepared.test_trials[subject]
    emb = decode(trials.X)
    emb = emb.reshape(len(emb), -1)
    emb = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12)
    return np.stack([emb[trials.stimulus_ids == i].mean(0) for i in test.stimulus_ids])


def evaluate(model: BrainModule, prepared: SensorPrepared, subject: str, space: str,
             mask: np.ndarray | None = None, average: str = "predictions") -> dict:
    """Retrieval on the subject's test images (``average``: see :func:`test_embeddings`): the
    small set (test images only) and, when ``prepared.distractors`` has the space, the large
    set (plus distractor images)."""
    test = prepared.test[subject]
    pred = test_embeddings(model, prepared, subject, space, mask, average)
    return score_retrieval(pred, prepared.target_rows(test)[space],
                           prepared.distractors.get(space))


def score_retrieval(pred: np.ndarray, true: np.ndarray,
                    distractors: np.ndarray | None = None) -> dict:
    """``small_*`` (candidates: the test images) and ``large_*`` (plus distractors) scores."""
    n = len(true)
    out = {f"small_{k}": v for k, v in retrieval_scores(pred.reshape(n, -1),
                                                        true.reshape(n, -1)).items()}
    if distractors is not None and len(distractors):
        large = retrieval_scores(pred.reshape(n, -1), true.reshape(n, -1),
                                 distractors=distractors.reshape(len(distractors), -1))
        out.update({f"large_{k}": v for k, v in large.items()})
    return out


class RidgeSensorDecoder:
    """The linear baseline: ridge regression from time-flattened sensors, one per subject.

    Preprocessing matches the brain module's (baseline correction on ``baseline_samples``,
    robust scaling per sensor and clamping at ``clamp``, training statistics only), then every
    feature is standardised and :class:`sklearn.linear_model.RidgeCV` picks one penalty among
    ``alphas`` by efficient leave-one-out on the training trials, or, with
    ``per_target_alpha=True``, :class:`neurodecode.ridge.MultiRidgeCV` picks one per target
    dimension by 5-fold cross-validation (himalaya).
    """

    def __init__(self, baseline_samples: int = 0, clamp: float = 20.0,
                 alphas: tuple[float, ...] = tuple(np.logspace(0, 6, 13)),
                 per_target_alpha: bool = False):
        self.baseline_samples = baseline_samples
        self.clamp = clamp
        self.alphas = alphas
        self.per_target_alpha = per_target_alpha

    def _features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.baseline_samples:
            X = X - X[..., :self.baseline_samples].mean(-1, keepdims=True)
        X = np.clip((X - self.center_[:, None]) / self.scale_[:, None], -self.clamp, self.clamp)
        return X.reshape(len(X), -1)

    def fit(self, X: np.ndarray, y: np.ndarray) -> RidgeSensorDecoder:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import RobustScaler, StandardScaler

        X = np.asarray(X, dtype=np.float64)
        base = X - X[..., :self.baseline_samples].mean(-1, keepdims=True) \
            if self.baseline_samples else X
        scaler = RobustScaler().fit(base.transpose(0, 2, 1).reshape(-1, X.shape[1]))
        self.center_ = scaler.center_
        self.scale_ = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        if self.per_target_alpha:
            from neurodecode.ridge import MultiRidgeCV

            self.model_ = MultiRidgeCV(alphas=self.alphas, cv=5, standardize=True)
        else:
            self.model_ = make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas))
        self.model_.fit(self._features(X), np.asarray(y).reshape(len(y), -1))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(self._features(X))


def ridge_predictions(prepared: SensorPrepared, space: str, subjects: list[str] | None = None,
                      average: str = "predictions", per_target_alpha: bool = False,
                      ) -> dict[str, np.ndarray]:
    """Ridge baseline fit per subject on its training trials; predictions of its test images
    (``average`` as in :func:`test_embeddings`)."""
    out = {}
    for s in subjects or list(prepared.train):
        tr = prepared.train[s]
        y = prepared.target_rows(tr)[space]
        model = RidgeSensorDecoder(prepared.baseline_samples,
                                   per_target_alpha=per_target_alpha).fit(tr.X, y)
        out[s] = _per_image(model.predict, prepared, s, average)
    return out


def adapter_predictions(prepared: SensorPrepared, space: str, epochs: int = 20,
                        bin_s: float = 0.025, seed: int = 0, quiet: bool = True,
                        ) -> dict[str, np.ndarray]:
    """The fMRI-style path: time-binned sensor vectors (from onset) into the cross-subject
    decoder (linear subject adapters + residual MLP; softclip + MSE, as
    ``pipelines/recon/synthetic-meg-adapters.yaml``). Test images are decoded from their
    repetition-averaged trials, as the fMRI path does (NSD protocol)."""
    from neurodecode.training.experiment import build_decoder
    from neurodecode.training.experiment import predict as predict_vectors

    def vec(d: TrialData) -> TrialData:
        return d.to_vectors(bin_s)

    flat = PreparedData(prepared.stimuli, {space: prepared.targets[space]},
                        {s: vec(d) for s, d in prepared.train.items()},
                        {s: vec(d) for s, d in prepared.test.items()})
    cfg = ExperimentConfig(
        name="meg-adapters", data={}, targets=[{"space": space, "head": "linear"}],
        model={"width": 256, "depth": 2, "dropout": 0.15, "adapter": {"kind": "linear"}},
        train=TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, adapter_weight_decay=0.05,
                          seed=seed, losses=[LossTerm("softclip", space, 1.0, temperature=0.1),
                                             LossTerm("mse", space, 1.0)]))
    subjects = list(flat.train)
    model = build_decoder(cfg, flat, subjects)
    train(model, flat.batches(subjects), cfg.train, quiet=quiet)
    return {s: predict_vectors(model, flat.test[s].X, s)[space] for s in subjects}


def compare_decoders(cfg: ExperimentConfig, prepared: SensorPrepared,
                     methods: tuple[str, ...] = ("brain_module", "ridge", "adapters"),
                     quiet: bool = True, model: BrainModule | None = None,
                     average: str = "predictions") -> pd.DataFrame:
    """Retrieval of every method on the same split, one row per (method, subject).

    Columns: method, subject, small_top1/top5/median_rank (+ chance and ``n_candidates``),
    and ``large_*`` when distractors exist; ``seconds`` is the training time of the method.
    ``average`` (brain module and ridge): see :func:`test_embeddings`.
    """
    space = cfg.targets[0]["space"]
    rows = []
    for method in methods:
        start = time.perf_counter()
        if method == "brain_module":
            if model is None:
                model, _ = train_brain_module(cfg, prepared, quiet=quiet)
            preds = {s: test_embeddings(model, prepared, s, space, average=average)
                     for s in prepared.test}
        elif method == "ridge":
            preds = ridge_predictions(prepared, space, average=average)
        elif method == "adapters":
            preds = adapter_predictions(prepared, space, seed=cfg.train.seed, quiet=quiet)
        else:
            raise DataError(f"unknown method {method!r}; choose brain_module, ridge, adapters")
        seconds = time.perf_counter() - start
        for s, pred in preds.items():
            test = prepared.test[s]
            rows.append({"method": method, "subject": s, "seconds": seconds,
                         **score_retrieval(pred, prepared.target_rows(test)[space],
                                           prepared.distractors.get(space))})
    return pd.DataFrame(rows)


def time_resolved(prepared: SensorPrepared, space: str, width: float = 0.1,
                  step: float = 0.05, subjects: list[str] | None = None,
                  target: np.ndarray | None = None) -> pd.DataFrame:
    """Ridge retrieval per time window after onset (the paper's time-resolved analysis).

    Each window ``[start, start + width)`` (s, ``start`` from 0 in steps of ``step``) keeps the
    samples inside it; a ridge decoder per subject is fit on the training trials and scored on
    the averaged test images (small set). ``target`` (n_stimuli, d) replaces the target space
    (e.g. the world's low-level features).

    Returns
    -------
    DataFrame
        One row per (window, subject): start, stop, centre (s), subject, small_top1,
        small_top5, small_median_rank, n_candidates.
    """
    times = prepared.times
    Y = prepared.targets[space] if target is None else np.asarray(target)
    rows = []
    starts = np.arange(0.0, times[-1] - width + 1e-9, step)
    for start in starts:
        keep = (times >= start - 1e-9) & (times < start + width - 1e-9)
        for s in subjects or list(prepared.train):
            tr, te = prepared.train[s], prepared.test[s]
            model = RidgeSensorDecoder(0).fit(
                np.asarray(tr.X)[:, :, keep], Y[prepared.stimuli.index_of(tr.stimulus_ids)])
            pred = model.predict(np.asarray(te.X)[:, :, keep])
            true = Y[prepared.stimuli.index_of(te.stimulus_ids)]
            scores = retrieval_scores(pred, true.reshape(len(true), -1))
            rows.append({"start": float(start), "stop": float(start + width),
                         "centre": float(start + width / 2), "subject": s,
                         **{f"small_{k}": v for k, v in scores.items()}})
    return pd.DataFrame(rows)


def plot_time_resolved(curves: dict[str, pd.DataFrame], path: str | Path,
                       metric: str = "small_top5", title: str = "") -> Path:
    """Mean ``metric`` over subjects per window centre, one line per curve, chance dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    chance = None
    for label, frame in curves.items():
        mean = frame.groupby("centre")[metric].mean()
        ax.plot(mean.index * 1000, mean.values, marker="o", ms=3, label=label)
        key = metric.replace("small_", "small_chance_")
        if key in frame:
            chance = float(frame[key].iloc[0])
    if chance is not None:
        ax.axhline(chance, ls="--", c="grey", lw=1, label="chance")
    ax.set_xlabel("window centre (ms after image onset)")
    ax.set_ylabel(metric.replace("small_", "") + " retrieval")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(path)
