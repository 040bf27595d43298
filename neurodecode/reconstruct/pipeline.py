"""The main job: ``neurodecode reconstruct --subject 1``.

Builds (or reads) the dataset, trains a cross-subject decoder or reuses a cached one, decodes
the subject's shared test images (repetitions averaged), generates images, scores them with the
standard suite, and repeats the whole pipeline on *shuffled* brain data (training trials
permuted against their stimuli) as a control that must fall to chance.

Outputs in ``out_dir``: ``reconstructions.png`` (rows: seen, reconstructed, low-level stage),
``metrics.json`` and ``metrics.csv`` (every metric with its bootstrap interval and protocol;
the shuffled control's rows carry ``condition = shuffled``) and ``config.yaml`` (the resolved
configuration).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import neurodecode
from neurodecode._files import (
    atomic_path,
    check_writable_dir,
    content_hash,
    verify_digest,
    write_digest,
    write_text,
)
from neurodecode.data.errors import DataError
from neurodecode.reconstruct.reconstructor import Reconstructor
from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint
from neurodecode.training.experiment import (
    ExperimentConfig,
    PreparedData,
    build_decoder,
    load_config,
    load_dataset,
    predict,
    prepare_data,
)
from neurodecode.training.trainer import train

GENERATORS = ("embedded", "none", "sd-img2img", "unclip", "versatile")


def default_config_path(modality: str = "fmri") -> Path:
    """``pipelines/recon/synthetic-default.yaml`` (fMRI) or ``synthetic-meg.yaml`` (MEG), from
    the repository or the installed copy."""
    name = {"fmri": "synthetic-default.yaml", "meg": "synthetic-meg.yaml"}[modality]
    here = Path(__file__).resolve().parents[1]
    for candidate in (here.parent / "pipelines", here / "_pipelines"):
        path = candidate / "recon" / name
        if path.exists():
            return path
    raise DataError(f"the default config pipelines/recon/{name} is missing from this "
                    "installation")


def cache_root() -> Path:
    root = os.environ.get("NEURODECODE_CACHE") or Path.home() / ".cache" / "neurodecode"
    return Path(root)


def shuffle_pairing(prepared: PreparedData, seed: int = 0) -> PreparedData:
    """Permute each subject's training trials against their stimuli (a null control)."""
    rng = np.random.default_rng(seed)
    train = {s: replace(d, stimulus_ids=rng.permutation(d.stimulus_ids))
             for s, d in prepared.train.items()}
    return replace(prepared, train=train)


def decoder_cache_key(cfg: ExperimentConfig, prepared: PreparedData,
                      shuffled: bool = False) -> str:
    """Content hash of everything a trained decoder depends on: the config, every training
    trial of every subject (voxels *and* stimulus ids), the target spaces, whether the pairing
    is shuffled, and the package version."""
    data = {s: (np.asarray(d.X), np.asarray(d.stimulus_ids)) for s, d in prepared.train.items()}
    return content_hash(cfg.to_dict(), data, prepared.targets, np.asarray(prepared.stimuli.ids),
                        shuffled, neurodecode.__version__)


def with_decoder(cfg: ExperimentConfig, decoder: str) -> ExperimentConfig:
    """A copy of ``cfg`` whose model section uses ``decoder`` (deep, ridge or ridge+deep)."""
    import copy

    from neurodecode.models.decoder import DECODERS

    if decoder not in DECODERS:
        raise DataError(f"--decoder {decoder!r}: choose from {', '.join(DECODERS)}")
    out = copy.deepcopy(cfg)
    out.model["decoder"] = decoder
    return out


def trained_decoder(cfg: ExperimentConfig, prepared: PreparedData, shuffled: bool = False,
                    quiet: bool = False, cache: Path | None = None):
    """A decoder for ``cfg`` trained on ``prepared``, reused from the cache when the config,
    the data and the package version are unchanged (:func:`decoder_cache_key`)."""
    key = decoder_cache_key(cfg, prepared, shuffled)
    directory = (cache or cache_root()) / "decoders" / key
    if (directory / "config.json").exists():
        try:  # a damaged cache entry is rebuilt, not fatal for every later run
            for name in ("model.safetensors", "config.json"):
                problem = verify_digest(directory / name)
                if problem not in (None, "no valid digest beside it"):  # none: older entry
                    raise DataError(f"{directory / name}: {problem}")
            model, _ = load_checkpoint(directory)
            return model, directory
        except DataError as err:
            warnings.warn(f"cached decoder {directory} is corrupt ({err}); retraining it",
                          stacklevel=2)
    data = shuffle_pairing(prepared, cfg.train.seed) if shuffled else prepared
    subjects = list(data.train)
    model = build_decoder(cfg, data, subjects)
    train(model, data.batches(subjects), cfg.train, quiet=quiet,
          desc="train (shuffled control)" if shuffled else "train")
    save_checkpoint(model, directory, {"experiment": cfg.to_dict(), "shuffled": shuffled})
    for name in ("model.safetensors", "config.json"):
        write_digest(directory / name)
    return model, directory


def make_generator(name: str, model: str | None = None, allow_download: bool = False,
                   low_level: str | None = None, quiet: bool = False):
    """A generator backend by name (``embedded``, ``none``, ``sd-img2img``, ``unclip``,
    ``versatile``); pretrained ones load ``model`` (hub id or path) offline by default.

    ``none`` decodes the low-level target itself: pixels are upsampled, ``sd-vae-latent``
    latents go through the VAE decoder (``model`` names the VAE).
    """
    if name == "embedded":
        from neurodecode.reconstruct.embedded import EmbeddedGenerator

        return EmbeddedGenerator() if model is None else EmbeddedGenerator(model)
    options = {"model": model, "allow_download": allow_download, "progress": not quiet}
    if name == "none":
        if low_level == "sd-vae-latent":
            from neurodecode.reconstruct.vae import VAEDecoderGenerator

            return _checked(VAEDecoderGenerator(**options), allow_download)
        from neurodecode.reconstruct.pixels import PixelGenerator

        return PixelGenerator()
    if name == "sd-img2img":
        from neurodecode.reconstruct.sd_img2img import SDImg2ImgGenerator

        return _checked(SDImg2ImgGenerator(**options), allow_download)
    if name == "unclip":
        from neurodecode.reconstruct.unclip import UnCLIPGenerator

        return _checked(UnCLIPGenerator(**options), allow_download)
    if name == "versatile":
        from neurodecode.reconstruct.versatile import VersatileGenerator

        return _checked(VersatileGenerator(**options), allow_download)
    raise DataError(f"unknown generator {name!r}; choose from {GENERATORS}")


def _checked(gen, allow_download: bool):
    """``gen``, once its pretrained weights are known to be loadable: a missing local path or
    an uncached hub id fails now, not after the decoder has trained."""
    from neurodecode._hub import check_available

    check_available(gen.model if gen.model is not None else gen.default_model, allow_download,
                    gen.name, "--generator-model")
    return gen


def _world_networks() -> list:
    """Offline feature networks of the synthetic world for the metrics: the WorldProbe, a
    network trained apart from the embedded generator, so the scores stay independent of the
    codec encoder that ranks best-of-N candidates (:mod:`neurodecode.metrics.world_probe`)."""
    from neurodecode.metrics.world_probe import probe_networks

    return probe_networks()


def _codec_networks(generator=None) -> list:
    """The world's metric networks (kept name; no longer the generator's own encoder)."""
    return _world_networks()


def _score(gt: np.ndarray, result: dict, decoded: np.ndarray | None, true: np.ndarray | None,
           networks: list, condition: str, seed: int, quiet: bool) -> pd.DataFrame:
    """One generated result scored (both stages); see :func:`_score_runs`."""
    return _score_runs(gt, [(condition, result, decoded)], true, networks, seed, quiet)[0]


def _score_runs(gt: np.ndarray, runs: list, true: np.ndarray | None, networks: list,
                seed: int, quiet: bool) -> list[pd.DataFrame]:
    """Score every ``(condition, result, decoded world-embed or None)`` run against the same
    ground truth in one pass (each ground-truth computation done once,
    :func:`~neurodecode.metrics.suite.evaluate_reconstruction_sets`); one frame per run: the
    reconstruction stage (networks and the decoded embedding too) then the low-level stage
    (pixel metrics), with ``condition`` and ``stage`` columns first."""
    from neurodecode.metrics.suite import evaluate_reconstruction_sets

    sets, nets, embeddings = {}, {}, {}
    for i, (_, result, decoded) in enumerate(runs):
        sets[i, "reconstruction"] = result["images"]
        nets[i, "reconstruction"] = networks
        if decoded is not None:
            embeddings[i, "reconstruction"] = {"world-embed (decoded)": (true, decoded)}
        if result["low_level"] is not None:
            sets[i, "low-level"] = result["low_level"]
    scored = evaluate_reconstruction_sets(gt, sets, networks=nets, embeddings=embeddings,
                                          seed=seed, quiet=quiet,
                                          retrieval_set_size=min(300, len(gt)))
    frames = []
    for i, (condition, _, _) in enumerate(runs):
        stages = [(key[1], scored[key]) for key in sets if key[0] == i]
        for stage, frame in stages:
            frame.insert(0, "stage", stage)
        frame = pd.concat([f for _, f in stages], ignore_index=True)
        frame.insert(0, "condition", condition)
        frames.append(frame)
    return frames


def _stages(quiet: bool):
    """``say(message)``: numbered stage lines on stderr (beside the progress bars)."""
    count = [0]

    def say(message: str) -> None:
        count[0] += 1
        if not quiet:
            from tqdm.auto import tqdm

            tqdm.write(f"[{count[0]}] {message}", file=sys.stderr)

    return say


def side_by_side(metrics: pd.DataFrame, stage: str = "reconstruction") -> dict:
    """``{metric: {"<decoder> (<condition>)": value}}``: every decoder and the control in one
    place, for one stage."""
    rows = metrics[metrics["stage"] == stage]
    out: dict[str, dict] = {}
    for _, row in rows.iterrows():
        label = f"{row['decoder']} ({row['condition']})"
        out.setdefault(str(row["metric"]), {})[label] = float(row["value"])
    return out


def chance_from_control(metrics: pd.DataFrame) -> pd.DataFrame:
    """Give every metric a chance level: metrics with a closed form keep it (two-way
    identification 0.5, top-k retrieval k/n); the others (PixCorr, SSIM, feature-network
    scores), whose chance depends on the images, take the shuffled control's value on the
    same stage and metric. ``chance_source`` says which; without a control run it stays
    empty."""
    frame = metrics.copy()
    keys = [k for k in ("stage", "metric") if k in frame]
    if "chance" not in frame or "condition" not in frame:
        return frame
    source = np.where(frame["chance"].notna(), "closed form", "").astype(object)
    control = frame[frame["condition"] == "shuffled"].drop_duplicates(keys)
    reference = {tuple(row): value for row, value in
                 zip(control[keys].itertuples(index=False), control["value"], strict=True)}
    missing = frame["chance"].isna().to_numpy()
    looked_up = [reference.get(tuple(row)) for row in frame[keys].itertuples(index=False)]
    for i in np.flatnonzero(missing):
        if looked_up[i] is not None:
            frame.iloc[i, frame.columns.get_loc("chance")] = looked_up[i]
            source[i] = "shuffled control"
    frame["chance_source"] = source
    return frame


def save_figure(seen: np.ndarray, result: dict, path: Path, n_columns: int = 12,
                title: str = "") -> Path:
    """Rows: seen, reconstructed, low-level stage; one column per test image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("seen", seen), ("reconstructed", result["images"])]
    if result["low_level"] is not None:
        rows.append(("low-level", result["low_level"]))
    k = min(n_columns, len(seen))
    fig, axes = plt.subplots(len(rows), k, figsize=(1.2 * k, 1.3 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(np.asarray(images[c]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def run_reconstruction(
    subject: str = "1",
    dataset: str = "synthetic-vision",
    modality: str = "fmri",
    config: str | Path | None = None,
    checkpoint: str | Path | None = None,
    generator: str = "embedded",
    generator_model: str | None = None,
    allow_download: bool = False,
    n_images: int | None = None,
    n_samples: int = 4,
    strength: float = 0.5,
    steps: int = 20,
    guidance: float = 5.0,
    seed: int = 0,
    out_dir: str | Path = "neurodecode-out/reconstruct",
    shuffle_control: bool = True,
    decoder: str | None = None,
    ridge_baseline: bool = True,
    quiet: bool = False,
) -> dict:
    """Run the main job; return ``{"metrics": DataFrame, "files": [...], "seconds": float}``.

    ``n_images`` limits the number of test images (all shared test images by default).
    ``decoder`` (deep, ridge or ridge+deep) overrides the config's ``model.decoder``. The
    metrics hold, on the same split and generator, the chosen decoder (``condition = real``),
    the ridge baseline (``decoder = ridge``; unless the chosen decoder is ridge) and the
    chosen decoder trained on shuffled pairings (``condition = shuffled``).
    """
    start = time.time()
    out_dir = Path(out_dir)
    for option, value in (("--n-images", n_images), ("--n-samples", n_samples)):
        if value is not None and (isinstance(value, bool) or int(value) < 1):
            raise DataError(f"{option} must be at least 1, got {value}")
    cfg = load_config(config or default_config_path(modality))
    if cfg.model.get("kind") == "brain_module":  # MEG/EEG through the brain module
        from neurodecode.reconstruct.meg import run_meg_reconstruction

        return run_meg_reconstruction(
            cfg, subject, checkpoint=checkpoint, generator=generator,
            generator_model=generator_model, allow_download=allow_download, n_images=n_images,
            n_samples=n_samples, strength=strength, steps=steps, guidance=guidance, seed=seed,
            out_dir=out_dir, shuffle_control=shuffle_control, quiet=quiet,
            dataset=None if dataset == "synthetic-vision" else dataset)
    if decoder is not None:
        cfg = with_decoder(cfg, decoder)
    check_writable_dir(out_dir, "--out")  # before the work, not after it
    say = _stages(quiet)
    if dataset != "synthetic-vision" or modality == "meg":
        if modality == "meg" and dataset != "synthetic-vision":
            raise DataError("MEG reconstruction runs on synthetic-meg-vision; for your own MEG "
                            "data use the Python API (TrialData.to_vectors + the decoder)")
        if modality == "fmri" and str(dataset) != cfg.data.get("dataset"):
            cfg.data["dataset"] = str(dataset)
            cfg.data.pop("params", None)  # the config's world parameters are not this data's
    if str(subject) not in [str(s) for s in cfg.data.get("subjects", [subject])]:
        cfg.data["subjects"] = [*cfg.data.get("subjects", []), str(subject)]
    subject = str(subject)
    spaces = [t["space"] for t in cfg.targets]
    # What the user named (checkpoint, generator) is opened before the long work starts.
    if checkpoint is not None:
        model, _ = load_checkpoint(checkpoint)
        decoder_dir = Path(checkpoint)
    low_level = next((s for s in spaces if s.startswith(("pixels-", "sd-vae-latent"))), None)
    gen = make_generator(generator, generator_model, allow_download, low_level, quiet)
    say(f"build data: {cfg.data.get('dataset', 'synthetic-vision')}, subjects "
        f"{cfg.data.get('subjects', 'all')}, target spaces {spaces}")
    subjects, stimuli = load_dataset(cfg.data)
    prepared = prepare_data(subjects, stimuli, spaces, cfg.data.get("extractors"),
                            cache_root() / "features")
    if checkpoint is None:
        say("train the decoder (reused from the cache when config and data are unchanged)")
        model, decoder_dir = trained_decoder(cfg, prepared, quiet=quiet)
    test = prepared.test[subject]
    if test.n_trials < 2:
        raise DataError(f"subject {subject} has no shared test images to reconstruct")
    if n_images is not None:
        test = test.select(np.arange(min(n_images, test.n_trials)))
    selector = getattr(gen, "encode_images", None)
    recon = Reconstructor(gen, selector=selector, n_samples=n_samples if selector else 1,
                          steps=steps, guidance=guidance, strength=strength, seed=seed)
    seen = stimuli.get_images(test.stimulus_ids)
    true_embed = prepared.target_rows(test).get("world-embed")
    networks = _world_networks() if generator == "embedded" else []

    runs = []  # (decoder, condition, result, decoded world-embed), all scored together below

    def run(trained, condition: str, name: str):
        preds = predict(trained, test.X, subject)
        say(f"generate {test.n_trials} images ({generator}, {name} decoder, {condition} data)")
        result = recon.reconstruct(preds)
        runs.append((name, condition, result, preds.get("world-embed")))
        return result

    decoder_name = model.cfg.decoder
    result = run(model, "real", decoder_name)
    baseline_dir = None
    if ridge_baseline and decoder_name != "ridge":
        say("fit the ridge baseline (per-subject ridge, alpha per target chosen by CV inside "
            "the training trials) on the same split")
        if checkpoint is not None:
            missing = set(model.cfg.n_features) - set(prepared.train)
            if missing:
                raise DataError(f"the ridge baseline needs training data of subjects "
                                f"{sorted(missing)} of {checkpoint}")
        if decoder_name == "ridge+deep":  # its ridge part *is* the baseline (same fit)
            from neurodecode.models.decoder import ridge_part

            ridge, baseline_dir = ridge_part(model), decoder_dir
        else:
            ridge, baseline_dir = trained_decoder(with_decoder(cfg, "ridge"), prepared,
                                                  quiet=quiet)
        run(ridge, "real", "ridge")
    if shuffle_control and checkpoint is None:
        say("train the shuffled control (the same decoder on training trials permuted "
            "against their stimuli; it must score at chance)")
        control, _ = trained_decoder(cfg, prepared, shuffled=True, quiet=quiet)
        run(control, "shuffled", decoder_name)
    say(f"score the reconstructions of all {len(runs)} runs together (every ground-truth "
        "computation once)")
    frames = _score_runs(seen, [run_[1:] for run_ in runs], true_embed, networks, seed, quiet)
    for (name, *_), frame in zip(runs, frames, strict=True):
        frame.insert(1, "decoder", name)
    metrics = pd.concat(frames, ignore_index=True)
    metrics = chance_from_control(metrics)
    from neurodecode.metrics.suite import save_metrics

    files = save_metrics(metrics, out_dir, extra={
        "side_by_side": side_by_side(metrics),
        "seeds": {"decoder_training": cfg.train.seed, "shuffle": cfg.train.seed,
                  "generator": seed, "bootstrap": seed,
                  "world": (cfg.data.get("params") or {}).get("seed")},
        "split": {"subject": subject, "n_test_images": int(test.n_trials),
                  "train_trials": {s: int(d.n_trials) for s, d in prepared.train.items()}},
    })
    files.append(save_figure(seen, result, out_dir / "reconstructions.png",
                             title=f"{modality.upper() if modality == 'meg' else 'fMRI'} "
                                   f"subject {subject}: seen / reconstructed ({generator}) / "
                                   "low-level"))
    resolved = {"subject": subject, "modality": modality,
                "dataset": cfg.data.get("dataset", dataset), "generator": generator,
                "generator_model": generator_model, "n_images": int(test.n_trials),
                "n_samples": recon.n_samples, "strength": strength, "steps": steps,
                "guidance": guidance, "seed": seed, "decoder": decoder_name,
                "decoder_dir": str(decoder_dir),
                "ridge_baseline_dir": None if baseline_dir is None else str(baseline_dir),
                "best_of_n": "ranked by cosine to the decoded world-embed, never ground truth",
                "experiment": cfg.to_dict(), "neurodecode": neurodecode.__version__}
    files.append(write_text(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False)))
    return {"metrics": metrics, "files": files, "seconds": time.time() - start,
            "images": result["images"]}
