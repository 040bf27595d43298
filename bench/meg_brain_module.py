"""Brain module on CPU: training throughput, inference latency per trial, and the retrieval it
buys against the ridge and fMRI-style baselines on the same split (synthetic-meg-vision).

World: 4 CTF-275 subjects + 1 Neuromag-306 subject, 400 training images each, 50 shared test
images x 4 repetitions, 60 Hz, epochs -0.1..0.6 s (43 samples). Retrieval: small set = the 50
test images (averaged repetitions), large set = + 500 images never shown. Also measured:
dropping 10 % of each subject's sensors at test time, the brain module trained on shuffled
pairs (chance), and time-resolved ridge decoding (100-ms windows, 50-ms steps; plot).

Writes bench/results/meg_brain_module.json and bench/results/meg_time_resolved.png.
Run: ``python bench/meg_brain_module.py [--threads 1] [--epochs 20]``. The machine is shared and
noisy: throughputs are indicative; retrieval numbers are deterministic given the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neurodecode.reconstruct.pipeline import shuffle_pairing
from neurodecode.synth import meg_vision
from neurodecode.training import meg
from neurodecode.training.experiment import ExperimentConfig
from neurodecode.training.trainer import TrainConfig

OUT = Path(__file__).parent / "results"
SPACE = "world-embed"
COLS = ["small_top1", "small_top5", "small_median_rank", "large_top1", "large_top5",
        "large_median_rank"]


def config(epochs: int) -> ExperimentConfig:
    return ExperimentConfig(
        name="bench-meg", data={}, targets=[{"space": SPACE, "clip": True}],
        model=dict(kind="brain_module", spatial_channels=32, hidden=32, depth=2,
                   out_channels=64, fourier_freqs=6, dropout=0.3),
        train=TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, weight_decay=0.1, seed=0,
                          losses=meg.brain_module_losses(SPACE, 0.75)))


def latency(model, X: np.ndarray, subject: str, repeats: int = 200) -> dict:
    """Median seconds per single trial (batch 1) and batched throughput (trials/s)."""
    model.eval()
    x1 = torch.from_numpy(np.ascontiguousarray(X[:1], dtype=np.float32))
    with torch.no_grad():
        for _ in range(10):
            model(x1, subject)
        times = []
        for i in range(repeats):
            x = torch.from_numpy(np.ascontiguousarray(X[i % len(X):i % len(X) + 1],
                                                      dtype=np.float32))
            t = time.perf_counter()
            model(x, subject)
            times.append(time.perf_counter() - t)
        xb = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        t = time.perf_counter()
        for _ in range(5):
            model(xb, subject)
        batched = 5 * len(X) / (time.perf_counter() - t)
    return {"single_trial_median_ms": 1000 * float(np.median(times)),
            "single_trial_p95_ms": 1000 * float(np.percentile(times, 95)),
            "single_trial_per_s": 1.0 / float(np.median(times)),
            "batched_trials_per_s": batched, "batch": len(X)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--no-adapters", action="store_true")
    parser.add_argument("--no-control", action="store_true", help="skip the shuffled control")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    world = meg_vision.make(n_subjects=5, seed=0, n_train=400, n_test=50, sfreq=60.0,
                            systems={"5": "Vectorview-all"})
    prep = meg.prepare_sensor_data(world.subjects, world.stimuli, [SPACE], clip=[SPACE],
                                   distractors=meg_vision.distractor_stimuli(world, 500))
    build_s = time.perf_counter() - t0
    cfg = config(args.epochs)
    n_trials = sum(d.n_trials for d in prep.train.values())
    t0 = time.perf_counter()
    model, _ = meg.train_brain_module(cfg, prep)
    train_s = time.perf_counter() - t0
    methods = ("brain_module", "ridge") + (() if args.no_adapters else ("adapters",))
    table = meg.compare_decoders(cfg, prep, methods=methods, model=model)
    summary = table.groupby("method")[COLS + ["seconds"]].mean()
    rng = np.random.default_rng(0)
    dropped = []
    for s in prep.test:
        n = prep.test[s].n_features
        mask = np.ones(n, bool)
        mask[rng.choice(n, n // 10, replace=False)] = False
        dropped.append({"subject": s, **meg.evaluate(model, prep, s, SPACE, mask=mask)})
    dropped = pd.DataFrame(dropped)
    shuffled = None
    if not args.no_control:
        control, _ = meg.train_brain_module(cfg, shuffle_pairing(prep, 0))
        shuffled = pd.DataFrame([{"subject": s, **meg.evaluate(control, prep, s, SPACE)}
                                 for s in prep.test])
    early = meg.time_resolved(prep, SPACE, target=world.truth["low_level"])
    late = meg.time_resolved(prep, SPACE)
    OUT.mkdir(exist_ok=True)
    meg.plot_time_resolved(
        {"low-level features (ridge)": early, "world-embed (ridge)": late},
        OUT / "meg_time_resolved.png",
        title="synthetic-meg-vision, 5 subjects, 100-ms windows; 50 test images")
    ridge = meg.RidgeSensorDecoder(prep.baseline_samples)
    tr = prep.train["1"]
    t = time.perf_counter()
    ridge.fit(tr.X, prep.target_rows(tr)[SPACE])
    ridge_fit_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(50):
        ridge.predict(prep.test["1"].X[i:i + 1])
    ridge_latency = (time.perf_counter() - t) / 50
    brain, lin = summary.loc["brain_module"], summary.loc["ridge"]
    result = {
        "script": "bench/meg_brain_module.py",
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores_visible": os.cpu_count(), "torch_threads": args.threads,
                    "torch": torch.__version__,
                    "note": "2 shared cores, other jobs running: timings are indicative"},
        "world": {"name": "synthetic-meg-vision", "subjects": {s: d.n_features
                                                               for s, d in prep.train.items()},
                  "train_trials_per_subject": 400, "test_images": 50, "repetitions": 4,
                  "sfreq_hz": 60.0, "window_s": [-0.1, 0.6], "n_times": len(prep.times),
                  "build_s": build_s},
        "retrieval_protocol": {
            "queries": "each subject's 50 test images: 4 single trials decoded, unit-norm "
                       "embeddings averaged (ridge the same way)",
            "small_set": 50, "large_set": 550, "similarity": "cosine",
            "brain_module_head": "clip:world-embed", "ridge": "RidgeCV per subject on "
            "time-flattened, robust-scaled sensors (alphas 1..1e6, LOO)",
            "adapters": "fMRI-style: 25-ms bins from onset into linear subject adapters + "
                        "residual MLP (softclip + MSE)"},
        "retrieval_mean_over_subjects": {m: {k: float(v) for k, v in row.items()}
                                         for m, row in summary.iterrows()},
        "retrieval_per_subject": table[["method", "subject"] + COLS].to_dict("records"),
        "ratios_brain_over_ridge": {
            "large_top5": float(brain["large_top5"] / lin["large_top5"]),
            "small_top5": float(brain["small_top5"] / lin["small_top5"]),
            "large_top1": float(brain["large_top1"] / max(lin["large_top1"], 1e-9)),
            "large_median_rank_ridge_over_brain": float(lin["large_median_rank"]
                                                        / brain["large_median_rank"])},
        "drop_10pct_sensors": {k: float(dropped[k].mean()) for k in COLS},
        "shuffled_control": None if shuffled is None else {k: float(shuffled[k].mean())
                                                            for k in COLS},
        "chance": {"small_top5": 5 / 50, "large_top5": 5 / 550,
                   "small_median_rank": 25.5, "large_median_rank": 275.5},
        "time_resolved_peak_centre_s": {
            "low_level": float(early.groupby("centre")["small_top5"].mean().idxmax()),
            "world_embed": float(late.groupby("centre")["small_top5"].mean().idxmax())},
        "time_resolved": {
            "low_level": early.groupby("centre")["small_top5"].mean().round(4).to_dict(),
            "world_embed": late.groupby("centre")["small_top5"].mean().round(4).to_dict()},
        "training": {"epochs": args.epochs, "trials": n_trials, "seconds": train_s,
                     "trials_per_s": n_trials * args.epochs / train_s,
                     "parameters": int(sum(p.numel() for p in model.parameters()))},
        "inference_brain_module": latency(model, prep.test["1"].X, "1"),
        "ridge": {"fit_s_one_subject": ridge_fit_s,
                  "single_trial_latency_ms": 1000 * ridge_latency},
    }
    path = OUT / "meg_brain_module.json"
    path.write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps({k: result[k] for k in ("retrieval_mean_over_subjects",
                                             "ratios_brain_over_ridge", "training",
                                             "inference_brain_module")}, indent=1,
                     default=float))


if __name__ == "__main__":
    main()
