"""Scoring of the main job: every set scored alone against all sets in one pass.

The main job (``neurodecode reconstruct --subject 1``) scores 100 test images of the synthetic
world for 3 runs (ridge+deep on real data, ridge on real data, ridge+deep on shuffled data),
each at 2 stages (reconstruction: 32 px, with the WorldProbe networks and the decoded
world-embed; low-level: 16 px, pixel metrics): 6 sets of the same ground truth.

- ``one_at_a_time``: one :func:`~neurodecode.metrics.suite.evaluate_reconstructions` call per
  set, as the job did before (the ground truth resized, blurred and passed through the
  networks again for every set);
- ``together``: the job's path now, :func:`neurodecode.reconstruct.pipeline._score_runs`, one
  :func:`~neurodecode.metrics.suite.evaluate_reconstruction_sets` call (each ground-truth
  computation once).

Both use the same kernels, so the ratio is what scoring the sets together buys on its own;
the rows must be equal. Median of ``REPEATS`` runs, the two paths alternating, with the
threads the job would use (:func:`neurodecode._cpu.use_free_cores`).

Run: ``python bench/scoring_speed.py`` → ``bench/results/scoring_speed.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neurodecode._cpu import use_free_cores
from neurodecode._files import write_json
from neurodecode.metrics.suite import evaluate_reconstructions
from neurodecode.metrics.world_probe import probe_networks
from neurodecode.reconstruct.pipeline import _score_runs
from neurodecode.synth.vision import make_stimuli

RESULT = Path(__file__).parent / "results" / "scoring_speed.json"
N_IMAGES, REPEATS, SEED = 100, 3, 0
CONDITIONS = ("real", "real", "shuffled")


def job_like_sets(seed: int = SEED):
    """Ground truth (uint8, 32 px), 3 runs of (32-px reconstruction, 16-px low-level,
    decoded 20-d embedding) and the true embedding: the main job's shapes and dtypes."""
    stimuli, semantic = make_stimuli(N_IMAGES, seed=seed)
    gt = stimuli.images
    rng = np.random.default_rng(seed)
    runs = []
    for noise, condition in zip((0.1, 0.2, 0.3), CONDITIONS, strict=True):
        order = rng.permutation(N_IMAGES) if condition == "shuffled" else np.arange(N_IMAGES)
        base = gt[order].astype(np.float32) / 255
        images = np.clip(base + noise * rng.standard_normal(base.shape), 0, 1)
        low = base.reshape(N_IMAGES, 16, 2, 16, 2, 3).mean(axis=(2, 4))
        low = np.clip(low + noise * rng.standard_normal(low.shape), 0, 1)
        decoded = semantic[order] + noise * rng.standard_normal(semantic.shape)
        result = {"images": images.astype(np.float32), "low_level": low.astype(np.float32)}
        runs.append((condition, result, decoded))
    return gt, runs, semantic


def one_at_a_time(gt, runs, true, networks) -> list[pd.DataFrame]:
    """The job's scoring before: two evaluate_reconstructions calls per run."""
    frames = []
    for condition, result, decoded in runs:
        frame = evaluate_reconstructions(
            gt, result["images"], networks=networks,
            embeddings={"world-embed (decoded)": (true, decoded)}, seed=SEED, quiet=True,
            retrieval_set_size=min(300, len(gt)))
        frame.insert(0, "stage", "reconstruction")
        low = evaluate_reconstructions(gt, result["low_level"], seed=SEED, quiet=True)
        low.insert(0, "stage", "low-level")
        frame = pd.concat([frame, low], ignore_index=True)
        frame.insert(0, "condition", condition)
        frames.append(frame)
    return frames


def main() -> dict:
    use_free_cores()  # as `neurodecode reconstruct` does
    gt, runs, true = job_like_sets()
    networks = probe_networks()
    paths = {
        "one_at_a_time": lambda: one_at_a_time(gt, runs, true, networks),
        "together": lambda: _score_runs(gt, runs, true, networks, SEED, True),
    }
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in paths}
    outputs = {}
    for _ in range(REPEATS):
        for name, fn in paths.items():
            start = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - start)
    old = pd.concat(outputs["one_at_a_time"], ignore_index=True)
    new = pd.concat(outputs["together"], ignore_index=True)
    pd.testing.assert_frame_equal(old.drop(columns=["value", "ci_low", "ci_high"]),
                                  new.drop(columns=["value", "ci_low", "ci_high"]))
    diff = {c: float(np.nanmax(np.abs(old[c].to_numpy(float) - new[c].to_numpy(float))))
            for c in ("value", "ci_low", "ci_high")}
    median = {name: float(np.median(t)) for name, t in times.items()}
    result = {
        "what": "score the main job's 6 reconstruction sets of 100 images (3 runs x "
                "reconstruction/low-level stage): one evaluate_reconstructions call per set "
                "against one evaluate_reconstruction_sets call (pipeline._score_runs)",
        "n_images": N_IMAGES,
        "n_sets": 2 * len(runs),
        "rows": len(new),
        "seconds_median": median,
        "seconds_all": times,
        "speedup_together": median["one_at_a_time"] / median["together"],
        "max_abs_diff": diff,
        "repeats": REPEATS,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    write_json(RESULT, result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
