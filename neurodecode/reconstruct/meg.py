"""The main job on MEG through the brain module: ``neurodecode reconstruct --modality meg``.

Called by :func:`neurodecode.reconstruct.pipeline.run_reconstruction` when the experiment's
model section says ``kind: brain_module`` (the default MEG config,
``pipelines/recon/synthetic-meg.yaml``). The brain module (trained, or reused from the cache)
decodes the subject's averaged test trials into every target space; the regression heads feed
the generator; the images are scored with the same suite as fMRI. On the same split and
generator the metrics also hold the ridge baseline (per-subject ridge on time-flattened
sensors, one per target space) and the brain module trained on shuffled pairings (chance).
``retrieval.json`` adds top-1/top-5/median rank of the contrastive head, with the retrieval-set
sizes (small: the test images; large: plus distractor images never shown).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import neurodecode
from neurodecode._files import write_json, write_text
from neurodecode.data.errors import DataError
from neurodecode.training import meg


class SensorRidge:
    """Per-subject :class:`~neurodecode.training.meg.RidgeSensorDecoder`, one per target
    space, with the ``predict(X, subject)`` interface of :func:`meg.predict`."""

    def __init__(self, prepared: meg.SensorPrepared, spaces: list[str]):
        self.models = {}
        for s, tr in prepared.train.items():
            rows = prepared.target_rows(tr)
            self.models[s] = {k: meg.RidgeSensorDecoder(prepared.baseline_samples).fit(
                tr.X, rows[k].reshape(len(tr.X), -1)) for k in spaces}
        self.shapes = {k: prepared.targets[k].shape[1:] for k in spaces}

    def predict_subject(self, X: np.ndarray, subject: str) -> dict[str, np.ndarray]:
        return {k: m.predict(X).reshape(len(X), *self.shapes[k])
                for k, m in self.models[str(subject)].items()}


def run_meg_reconstruction(cfg, subject: str = "1", checkpoint=None, generator="embedded",
                           generator_model=None, allow_download=False, n_images=None,
                           n_samples=4, strength=0.5, steps=20, guidance=5.0, seed=0,
                           out_dir="neurodecode-out/reconstruct", shuffle_control=True,
                           quiet=False, dataset: str | None = None) -> dict:
    """:func:`~neurodecode.reconstruct.pipeline.run_reconstruction` for a brain-module config
    (``dataset``: a synthetic-meg-vision folder instead of the config's world)."""
    from neurodecode.metrics.suite import save_metrics
    from neurodecode.reconstruct.pipeline import (
        _codec_networks,
        _score,
        cache_root,
        make_generator,
        save_figure,
    )
    from neurodecode.reconstruct.reconstructor import Reconstructor

    start = time.time()
    out_dir = Path(out_dir)
    subject = str(subject)
    if dataset is not None:
        cfg.data["dataset"] = str(dataset)
    if subject not in [str(s) for s in cfg.data.get("subjects", [subject])]:
        cfg.data["subjects"] = [*cfg.data.get("subjects", []), subject]
    spaces = [t["space"] for t in cfg.targets]
    if checkpoint is not None:
        model, _ = meg.load_brain_module(checkpoint)
        decoder_dir = Path(checkpoint)
    low_level = next((s for s in spaces if s.startswith(("pixels-", "sd-vae-latent"))), None)
    gen = make_generator(generator, generator_model, allow_download, low_level, quiet)
    prepared = meg.prepare_from_config(cfg, cache_root() / "features")
    if checkpoint is None:
        model, decoder_dir = meg.trained_brain_module(cfg, prepared, quiet=quiet)
    if subject not in model.cfg.n_features:
        raise DataError(f"the brain module knows subjects {list(model.cfg.n_features)}, not "
                        f"{subject}")
    test = prepared.test[subject]
    if test.n_trials < 2:
        raise DataError(f"subject {subject} has no shared test images to reconstruct")
    if n_images is not None:
        test = test.select(np.arange(min(int(n_images), test.n_trials)))
    selector = getattr(gen, "encode_images", None)
    recon = Reconstructor(gen, selector=selector, n_samples=n_samples if selector else 1,
                          steps=steps, guidance=guidance, strength=strength, seed=seed)
    seen = prepared.stimuli.get_images(test.stimulus_ids)
    true_embed = prepared.target_rows(test).get("world-embed")
    networks = _codec_networks(gen) if generator == "embedded" else []

    def run(trained, condition: str, name: str):
        preds = (trained.predict_subject(test.X, subject) if isinstance(trained, SensorRidge)
                 else meg.predict(trained, test.X, subject))
        result = recon.reconstruct(preds)
        frame = _score(seen, result, preds.get("world-embed"), true_embed, networks,
                       condition, seed, quiet)
        frame.insert(1, "decoder", name)
        return result, frame

    result, metrics = run(model, "real", meg.KIND)
    frames = [metrics]
    frames.append(run(SensorRidge(prepared, spaces), "real", "ridge")[1])
    control = None
    if shuffle_control and checkpoint is None:
        control, _ = meg.trained_brain_module(cfg, prepared, shuffled=True, quiet=quiet)
        frames.append(run(control, "shuffled", meg.KIND)[1])
    metrics = pd.concat(frames, ignore_index=True)
    files = save_metrics(metrics, out_dir)
    retrieval = {}
    if cfg.targets[0].get("clip"):
        space = cfg.targets[0]["space"]
        retrieval["real"] = meg.evaluate(model, prepared, subject, space)
        if control is not None:
            retrieval["shuffled"] = meg.evaluate(control, prepared, subject, space)
        files.append(write_json(out_dir / "retrieval.json", {
            "space": space, "subject": subject,
            "test": "each test image: its single trials decoded, unit embeddings averaged",
            "head": f"{meg.CLIP_PREFIX}{space}", **retrieval}))
    files.append(save_figure(seen, result, out_dir / "reconstructions.png",
                             title=f"MEG subject {subject} (brain module): seen / "
                                   f"reconstructed ({generator}) / low-level"))
    resolved = {"subject": subject, "modality": "meg", "dataset": cfg.data.get("dataset"),
                "generator": generator, "generator_model": generator_model,
                "n_images": int(test.n_trials), "n_samples": recon.n_samples,
                "strength": strength, "steps": steps, "guidance": guidance, "seed": seed,
                "decoder": meg.KIND, "decoder_dir": str(decoder_dir),
                "best_of_n": "ranked by cosine to the decoded world-embed, never ground truth",
                "experiment": cfg.to_dict(), "neurodecode": neurodecode.__version__}
    files.append(write_text(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False)))
    return {"metrics": metrics, "files": files, "seconds": time.time() - start,
            "images": result["images"], "retrieval": retrieval}
