"""Training loop of the cross-subject decoder on HF accelerate.

One batch holds trials of one subject (subjects differ in voxel count); batches of all subjects
are interleaved in a seeded random order, and with several processes each takes every n-th
batch (DDP averages gradients; adapters unused in a step are allowed). AdamW with one weight
decay for adapters and one for the rest, a one-cycle learning-rate schedule (Smith 2018),
gradient clipping, per-loss logs.

Small-data safeguards (``TrainConfig``): ``val_fraction`` holds out that share of each
subject's training *stimuli* (all repetitions of a held-out image go together) as a validation
split; the decoder is scored on it before training and after every epoch (mean per-sample
Pearson correlation of every head with its target, the quantity PixCorr and two-way
identification rest on), training stops after ``patience`` epochs without improvement, and the
best epoch's weights are restored (Prechelt 1998, "Early stopping — but when?"). Decoders with
a ridge part (``ridge``, ``ridge+deep``) get it fitted in closed form first
(:func:`fit_ridge`); a ``ridge+deep`` decoder trains its deep part alone (``mix`` = 1), then
chooses each head's blend of deep and ridge on the validation split (:func:`choose_mix`);
the ridge part used there is refitted without the validation trials (one solve, at the
penalties chosen by CV on all trials, which if anything favours ridge in the blend) and
replaced at the end by the fit on all training trials, which equals the ``ridge`` decoder's.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from neurodecode.errors import DataError
from neurodecode.models.decoder import BrainDecoder
from neurodecode.training import losses as L

log = logging.getLogger(__name__)


@dataclass
class LossTerm:
    """One weighted loss, active from ``start`` to ``end`` (fractions of training).

    ``name`` is one of softclip, infonce, bimixco, mse (these need ``head``, a target space),
    cycle or voxel (MindBridge, need builders).
    """

    name: str
    head: str | None = None
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    temperature: float | None = None

    def active(self, progress: float) -> bool:
        return self.start <= progress < self.end or (self.end >= 1.0 and progress >= self.start)

    @property
    def label(self) -> str:
        return self.name if self.head is None else f"{self.name}:{self.head}"


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    adapter_weight_decay: float = 1e-2
    grad_clip: float = 1.0
    mixed_precision: str = "no"
    seed: int = 0
    val_fraction: float = 0.0
    patience: int = 5
    ridge_cv: int = 3
    losses: list[LossTerm] = field(default_factory=lambda: [LossTerm("mse", "world-embed")])

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["losses"] = [LossTerm(**t) for t in d.get("losses", [])] or cls().losses
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SubjectBatches:
    """Training arrays of one subject: voxels ``X`` (n, v) and targets name → (n, ...)."""

    X: np.ndarray
    targets: dict[str, np.ndarray]
    stimulus_ids: np.ndarray | None = None
    rois: dict[str, np.ndarray] | None = None  # ROI name → bool voxel mask

    def take(self, rows: np.ndarray) -> SubjectBatches:
        return SubjectBatches(self.X[rows], {k: v[rows] for k, v in self.targets.items()},
                              None if self.stimulus_ids is None else self.stimulus_ids[rows],
                              self.rois)


def validation_split(data: dict[str, SubjectBatches], fraction: float, seed: int = 0):
    """``(fit, val)``: hold out ``fraction`` of each subject's stimuli (repetitions together)."""
    fit, val = {}, {}
    for s, d in data.items():
        ids = d.stimulus_ids if d.stimulus_ids is not None else np.arange(len(d.X))
        unique = np.unique(ids)
        n_val = int(round(fraction * len(unique)))
        if n_val < 2 or len(unique) - n_val < 3:
            raise ValueError(f"subject {s}: {len(unique)} training stimuli are too few for a "
                             f"validation split of {fraction}")
        rng = np.random.default_rng([seed, 7])
        held = np.isin(ids, rng.choice(unique, n_val, replace=False))
        fit[s], val[s] = d.take(np.flatnonzero(~held)), d.take(np.flatnonzero(held))
    return fit, val


#: Penalties tried by the decoders' ridge parts (standardised voxels): 0.1 ... 1e7.
RIDGE_ALPHAS = np.logspace(-1, 7, 9)


def fit_ridge(model: BrainDecoder, data: dict[str, SubjectBatches], cv: int = 5,
              keep_alphas: bool = False) -> None:
    """Fit the ridge part of ``model`` for every subject in ``data`` (closed form).

    One :class:`neurodecode.ridge.MultiRidgeCV` per subject and ROI, over the flattened
    targets of every head reading that ROI, on voxels standardised with the model's scalers;
    the penalty of each target column (:data:`RIDGE_ALPHAS`) is chosen by ``cv``-fold
    cross-validation inside ``data``, folds grouped by stimulus (float32 solver).
    ``keep_alphas=True`` refits at the penalties already chosen (by an earlier call on a
    subset of ``data``) with one solve (:func:`neurodecode.ridge.ridge_at`), no CV.
    """
    from sklearn.model_selection import GroupKFold, KFold

    from neurodecode.ridge import MultiRidgeCV, ridge_at

    for s, d in data.items():
        z = model.scalers[s](torch.from_numpy(np.asarray(d.X, np.float32))).numpy()
        by_roi: dict[str | None, list] = {}
        for h in model.cfg.heads:
            by_roi.setdefault(h.roi, []).append(h)
        for roi, heads in by_roi.items():
            cols = np.ones(z.shape[1], bool)
            if roi is not None:
                if not d.rois or roi not in d.rois:
                    raise DataError(f"head(s) {[h.target for h in heads]} read ROI {roi!r} "
                                    f"but subject {s} has ROIs {sorted(d.rois or {})} (a "
                                    "folder gives them as sub-<id>/roi-<name>.nii.gz)")
                cols = np.asarray(d.rois[roi], bool)
            Y = np.concatenate([d.targets[h.target].reshape(len(z), -1) for h in heads], 1)
            maps = [model.ridge[s][h.target.replace(".", "_")] for h in heads]
            if keep_alphas:
                alphas = torch.cat([m.alphas for m in maps]).numpy()
                coef, intercept = ridge_at(z[:, cols], Y, alphas, dtype="float32")
            else:
                # folds keep every repetition of an image together (no image on both sides)
                if d.stimulus_ids is not None and len(np.unique(d.stimulus_ids)) >= cv:
                    folds = list(GroupKFold(cv).split(z, groups=d.stimulus_ids))
                else:
                    folds = list(KFold(min(cv, len(z))).split(z))
                ridge = MultiRidgeCV(alphas=RIDGE_ALPHAS, cv=folds, standardize=False,
                                     dtype="float32").fit(z[:, cols], Y)
                coef, intercept, alphas = ridge.coef_, ridge.intercept_, ridge.best_alphas_
            start = 0
            for h, ridge_map in zip(heads, maps, strict=True):
                n = int(np.prod(h.shape))
                weight = np.zeros((n, z.shape[1]))
                weight[:, cols] = coef[:, start:start + n].T
                ridge_map.set(weight, intercept[start:start + n], alphas[start:start + n])
                start += n


MIX_GRID = np.linspace(0.0, 1.0, 11)


def _rows_r(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    p = p.flatten(1).double()
    t = t.flatten(1).double()
    p = p - p.mean(1, keepdim=True)
    t = t - t.mean(1, keepdim=True)
    return (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + 1e-12)


def _per_stimulus(x: np.ndarray, ids: np.ndarray | None) -> np.ndarray:
    """Rows of ``x`` (n, ...) averaged over the trials of each stimulus (sorted ids)."""
    from neurodecode.data.containers import means_by_id

    return x if ids is None else means_by_id(x, ids)[1]


#: Losses that train a head to tell stimuli apart; its blend is chosen by identification.
IDENTIFYING_LOSSES = ("bimixco", "softclip", "infonce")


@torch.no_grad()
def choose_mix(model: BrainDecoder, val: dict[str, SubjectBatches],
               identify: tuple[str, ...] = ()) -> list[float]:
    """Set ``model.mix`` (per head) to the best blend of deep and ridge predictions on ``val``
    (grid 0, 0.1, ..., 1) and return it.

    A head named in ``identify`` (trained to tell stimuli apart) is judged by two-way
    identification of the per-stimulus mean predictions (the metric it is reported with),
    ties going to the smaller weight: the deep part enters only if it identifies better than
    ridge alone. Other heads are judged by the mean per-sample correlation (what PixCorr
    averages). Scores are averaged over subjects. (A one-standard-error rule for identifying
    heads was tried: it moved the non-rigid bench's two-way median from -.0007 to -.0001 of
    ridge's but cost the main job PixCorr .705 -> .680 and SSIM .923 -> .911, below ridge.)
    """
    from neurodecode.metrics.identification import two_way_identification

    was_training = model.training
    model.eval()
    model.mix.fill_(1.0)
    deep = {s: model(torch.from_numpy(np.asarray(d.X, np.float32)), s) for s, d in val.items()}
    model.mix.fill_(0.0)
    ridge = {s: model(torch.from_numpy(np.asarray(d.X, np.float32)), s) for s, d in val.items()}
    chosen = []
    for i, h in enumerate(model.cfg.heads):
        scores = []
        for m in MIX_GRID:
            per_subject = []
            for s, d in val.items():
                pred = m * deep[s][h.target] + (1 - m) * ridge[s][h.target]
                true = np.asarray(d.targets[h.target])
                if h.target in identify:
                    per_subject.append(two_way_identification(
                        _per_stimulus(true, d.stimulus_ids),
                        _per_stimulus(pred.double().numpy(), d.stimulus_ids)))
                else:
                    per_subject.append(float(_rows_r(pred, torch.from_numpy(true)).mean()))
            scores.append(np.mean(per_subject))
        best = np.flatnonzero(np.asarray(scores) >= max(scores) - 1e-12)[0]  # ties: less deep
        chosen.append(float(MIX_GRID[best]))
        model.mix[i] = chosen[-1]
    model.train(was_training)
    return chosen


@torch.no_grad()
def validation_score(model: BrainDecoder, val: dict[str, SubjectBatches]) -> float:
    """Mean over subjects and heads of the mean per-sample Pearson r(prediction, target)."""
    was_training = model.training
    model.eval()
    scores = []
    for s, d in val.items():
        out = model(torch.from_numpy(np.asarray(d.X, np.float32)), s)
        for h in model.cfg.heads:
            t = torch.from_numpy(np.asarray(d.targets[h.target]))
            scores.append(float(_rows_r(out[h.target], t).mean()))
    model.train(was_training)
    return float(np.mean(scores))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batch_plan(data: dict[str, SubjectBatches], batch_size: int, rng: np.random.Generator,
                n_processes: int) -> list[tuple[str, np.ndarray]]:
    plan = []
    for subject, d in data.items():
        order = rng.permutation(len(d.X))
        n_full = max(1, len(order) // batch_size)
        plan += [(subject, order[i * batch_size:(i + 1) * batch_size]) for i in range(n_full)]
    rng.shuffle(plan)
    usable = len(plan) - len(plan) % n_processes
    return plan[:usable] if usable else plan[:n_processes]


def train(
    model: BrainDecoder,
    data: dict[str, SubjectBatches],
    cfg: TrainConfig,
    trainable: list[str] | None = None,
    pair_with: dict[str, SubjectBatches] | None = None,
    quiet: bool = False,
    accelerator=None,
    resume: dict | None = None,
    on_epoch_end=None,
    desc: str = "train",
) -> list[dict]:
    """Train ``model`` in place on ``data``; return per-step logs (one dict per step).

    Parameters
    ----------
    trainable : list of parameter-name prefixes, optional
        Only parameters whose names start with one of these are trained (the rest frozen).
    pair_with : dict, optional
        Source-subject data for MindBridge reset-tuning: each step also draws a source batch
        whose shared embedding is cycled through the trained subject's builder and adapter.
    resume : dict, optional
        ``{"epoch": e, "optimizer": state, "scheduler": state}`` from :func:`trainer_state`:
        training continues at epoch ``e`` exactly as an uninterrupted run would (every epoch's
        batch order and mixing draws derive from ``(seed, epoch)``).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, optimizer, scheduler, logs)`` on the main process.
    desc : str
        Label of the progress bar (e.g. the shuffled control's).
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    seed_everything(cfg.seed)
    all_data = data
    # ridge parts fitted here: every subject trained on, except already-fitted ones that a
    # restricted (adaptation) run does not train
    ridge_subjects = [s for s in data if model.cfg.has_ridge and (
        trainable is None or not bool(next(iter(model.ridge[s].values())).fitted))]
    if not model.cfg.has_deep:
        fit_ridge(model, {s: data[s] for s in ridge_subjects}, cfg.ridge_cv)
        return [{"epoch": 0, "step": 0, "decoder": "ridge", "subjects": ",".join(data)}]
    val = None
    if cfg.val_fraction and resume is None:
        try:
            data, val = validation_split(data, cfg.val_fraction, cfg.seed)
        except ValueError as err:  # too few stimuli to hold some out: train on all of them
            log.warning("no early stopping: %s", err)
    final_ridge = None
    if ridge_subjects and resume is None:
        # the ridge part as the ridge decoder fits it (CV on every training trial); for
        # choosing the blend, a copy refitted without the validation trials at its penalties
        fit_ridge(model, {s: all_data[s] for s in ridge_subjects}, cfg.ridge_cv)
        if val is not None:
            final_ridge = {k: v.clone() for k, v in model.ridge.state_dict().items()}
            fit_ridge(model, {s: data[s] for s in ridge_subjects}, keep_alphas=True)
    if model.cfg.has_ridge:
        model.mix.fill_(1.0)  # the deep part trains (and early-stops) on its own
    if accelerator is None:
        accelerator = Accelerator(
            mixed_precision=cfg.mixed_precision,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
    for name, p in model.named_parameters():
        p.requires_grad_(trainable is None or any(name.startswith(t) for t in trainable))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in params if n.startswith("adapters.")],
         "weight_decay": cfg.adapter_weight_decay},
        {"params": [p for n, p in params if not n.startswith("adapters.")],
         "weight_decay": cfg.weight_decay},
    ]
    # the fused kernel: 7x faster per step than the single-tensor default on CPU
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr,
                                  fused=accelerator.device.type in ("cpu", "cuda"))
    n_proc = accelerator.num_processes
    steps_per_epoch = len(_batch_plan(data, cfg.batch_size, np.random.default_rng(0), n_proc))
    steps_per_epoch //= n_proc
    total = max(3, steps_per_epoch * cfg.epochs)
    # warm-up of at least 2 steps: OneCycleLR divides by (pct_start * total - 1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total,
                                                    pct_start=max(0.1, 2.5 / total))
    start_epoch = 0
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        start_epoch = int(resume["epoch"])
    wrapped, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    device = accelerator.device
    subjects = list(model.cfg.n_features)
    tensors = {s: (torch.from_numpy(np.ascontiguousarray(d.X, dtype=np.float32)),
                   {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
                    for k, v in d.targets.items()}) for s, d in data.items()}
    pairs = {s: _tensorise(d) for s, d in (pair_with or {}).items()}
    logs: list[dict] = []
    step = start_epoch * steps_per_epoch
    bar = tqdm(total=total, initial=step, disable=quiet or not accelerator.is_main_process,
               desc=desc, unit="step")
    best = None
    if val is not None:
        best = (validation_score(model, val), -1, _snapshot(model))
        logs.append({"epoch": -1, "step": step, "val_score": best[0]})
    wrapped.train()
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng([cfg.seed, epoch])
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch + 1)  # dropout: reproducible per epoch
        plan = _batch_plan(data, cfg.batch_size, rng, n_proc)
        for subject, idx in plan[accelerator.process_index::n_proc]:
            progress = step / total
            X, targets = tensors[subject]
            x = X[idx].to(device)
            tgt = {k: v[idx].to(device) for k, v in targets.items()}
            active = [t for t in cfg.losses if t.active(progress)]
            loss, parts = _step_loss(wrapped, model, subject, x, tgt, active, subjects, rng, gen)
            if pairs:
                src = list(pairs)[rng.integers(len(pairs))]
                sx = pairs[src]
                sidx = rng.choice(len(sx), size=min(cfg.batch_size, len(sx)), replace=False)
                out = wrapped(sx[sidx].to(device), src, cycle_to=subject)
                cyc = L.cycle_loss(out["shared"].detach(), out["cycled"])
                loss = loss + cyc
                parts["cycle:paired"] = float(cyc.detach())
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if cfg.grad_clip:
                accelerator.clip_grad_norm_([p for _, p in params], cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            logs.append({"epoch": epoch, "step": step, "processes": n_proc, "subject": subject,
                         "lr": scheduler.get_last_lr()[0], "loss": float(loss.detach()), **parts})
            step += 1
            bar.update(1)
        if on_epoch_end is not None and accelerator.is_main_process:
            on_epoch_end(epoch, optimizer, scheduler, logs)
        if val is not None:
            score = validation_score(model, val)
            logs.append({"epoch": epoch, "step": step, "val_score": score})
            if score > best[0]:
                best = (score, epoch, _snapshot(model))
            elif epoch - best[1] >= cfg.patience:
                break
    bar.close()
    if best is not None:
        model.load_state_dict(best[2])
        logs.append({"epoch": best[1], "step": step, "best_val_score": best[0]})
    if model.cfg.has_ridge:
        if val is not None:
            mix = choose_mix(model, val, tuple(t.head for t in cfg.losses
                                                if t.name in IDENTIFYING_LOSSES))
            logs.append({"epoch": best[1], "step": step, "mix": ",".join(map(str, mix)),
                         "blend_val_score": validation_score(model, val)})
        else:
            model.mix.fill_(0.5)
            log.warning("ridge+deep without a validation split: deep and ridge averaged")
        if final_ridge is not None:  # the ridge part sees every training trial again
            model.ridge.load_state_dict(final_ridge)
    wrapped.eval()
    return logs


def _snapshot(model: BrainDecoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _tensorise(d: SubjectBatches) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(d.X, dtype=np.float32))


def _step_loss(wrapped, model, subject, x, tgt, active, subjects, rng, gen):
    """Weighted sum of the active losses for one batch, and each term's value."""
    parts: dict[str, float] = {}
    total = x.new_zeros(())
    mix = next((t for t in active if t.name == "bimixco"), None)
    cycle_to = None
    if any(t.name == "cycle" for t in active) and len(subjects) > 1:
        cycle_to = subjects[(subjects.index(subject) + 1 + rng.integers(len(subjects) - 1))
                            % len(subjects)]
    if mix is not None:
        x_mixed, perm, betas, _ = L.mixup_voxels(x, generator=gen)
        out_mixed = wrapped(x_mixed, subject)
        value = L.bi_mixco(out_mixed[mix.head], tgt[mix.head], perm, betas,
                           temperature=mix.temperature or 0.1)
        parts[mix.label] = float(value.detach())
        total = total + mix.weight * value
    out = wrapped(x, subject, cycle_to=cycle_to)
    for term in active:
        if term.name == "bimixco":
            continue
        if term.name == "cycle":
            if cycle_to is None:
                continue
            value = L.cycle_loss(out["shared"], out["cycled"])
        elif term.name == "voxel":
            value = L.voxel_reconstruction(out["rebuilt"], model.scalers[subject](x))
        elif term.name in ("softclip", "infonce"):
            default = 0.005 if term.name == "softclip" else 0.05
            value = L.LOSSES[term.name](out[term.head], tgt[term.head],
                                        temperature=term.temperature or default)
        elif term.name == "mse":
            value = L.mse(out[term.head], tgt[term.head])
        else:
            raise ValueError(f"unknown loss {term.name!r}; known: {sorted(L.LOSSES)}")
        parts[term.label] = float(value.detach())
        total = total + term.weight * value
    return total, parts
