"""The default decoder against the ridge baseline, side by side on the same split.

Two worlds, three seeds each (world seed = training seed = s), the main job's pipeline
(``run_reconstruction``) with the pixel generator (``--generator none``: decoded 16x16 pixels
upsampled; scores do not depend on a generator's weights):

- ``nonrigid``: synthetic-vision with non-rigid anatomy (the default), 4 subjects, reduced to
  ``--n-train`` training images per subject (default 300; the main job uses 600) to fit a
  2-core machine;
- ``small100``: one subject, ~100 training trials (50 images shown 1-3 times), 28x28 images,
  1572 voxels: the small real-data situation of issue 12.

Decoders: ``ridge`` (per-subject ridge, alpha per target by 5-fold CV inside training),
``ridge+deep`` (the default: deep decoder with early stopping, blended per head with ridge by
a weight chosen on a validation split of the training stimuli) and ``deep`` (the deep decoder
alone, early-stopped on the same validation split). Reported: PixCorr
and two-way identification of the decoded world embedding, per seed and the median of the
seeds. Writes bench/results/decoder_vs_ridge.json.

    python bench/decoder_vs_ridge.py [--worlds nonrigid small100] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TWO_WAY = "two-way identification [world-embed (decoded)]"


def world_config(world: str, seed: int, n_train: int) -> dict:
    cfg = yaml.safe_load((ROOT / "pipelines" / "recon" / "synthetic-default.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg["train"]["seed"] = seed
    if world == "nonrigid":
        cfg["data"]["params"] = {"seed": seed, "n_train": n_train, "n_test": 100}
    elif world == "small100":
        cfg["data"]["subjects"] = [1]
        cfg["data"]["params"] = {"seed": seed, "n_subjects": 1, "n_train": 50, "n_test": 50,
                                 "image_size": 28}
    else:
        raise SystemExit(f"unknown world {world}")
    return cfg


def run(world: str, seed: int, n_train: int, tmp: Path, deep: bool = True) -> dict:
    from neurodecode.reconstruct.pipeline import run_reconstruction

    path = tmp / f"{world}-{seed}.yaml"
    path.write_text(yaml.safe_dump(world_config(world, seed, n_train)))
    out = {}
    for decoder, baseline in (("ridge+deep", True), ("deep", False))[:2 if deep else 1]:
        start = time.time()
        result = run_reconstruction(config=path, generator="none", decoder=decoder,
                                    ridge_baseline=baseline, shuffle_control=False,
                                    out_dir=tmp / f"out-{world}-{seed}-{decoder}", quiet=True)
        m = result["metrics"]
        m = m[m.stage == "reconstruction"]
        for name in m.decoder.unique():
            rows = m[m.decoder == name]
            out[name] = {"PixCorr": float(rows[rows.metric == "PixCorr"].value.iloc[0]),
                         "two_way": float(rows[rows.metric == TWO_WAY].value.iloc[0])}
        out[f"seconds[{decoder}]"] = round(time.time() - start, 1)
    print(world, seed, out, flush=True)
    return out


def _paired(per_seed: dict, metric: str) -> dict:
    """Default minus ridge, seed by seed (same world, same split)."""
    diff = [per_seed[s]["ridge+deep"][metric] - per_seed[s]["ridge"][metric] for s in per_seed]
    return {"differences": diff, "median_difference": float(np.median(diff)),
            "seeds_default_at_or_above": int(sum(d >= -1e-9 for d in diff))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", nargs="+", default=["small100", "nonrigid"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--no-deep", action="store_true", help="skip the deep-only decoder")
    args = ap.parse_args(argv)
    path = RESULTS / "decoder_vs_ridge.json"
    report = json.loads(path.read_text()) if path.exists() else {"worlds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NEURODECODE_CACHE"] = str(Path(tmp) / "cache")
        for world in args.worlds:
            per_seed = {s: run(world, s, args.n_train, Path(tmp), not args.no_deep)
                        for s in args.seeds}
            decoders = [k for k in per_seed[args.seeds[0]] if not k.startswith("seconds")]
            median = {d: {m: float(np.median([per_seed[s][d][m] for s in args.seeds]))
                          for m in ("PixCorr", "two_way")} for d in decoders}
            report["worlds"][world] = {
                "config": world_config(world, 0, args.n_train)["data"],
                "seeds": args.seeds, "per_seed": {str(s): v for s, v in per_seed.items()},
                "median": median,
                "default_matches_or_beats_ridge": all(
                    median["ridge+deep"][m] >= median["ridge"][m] - 1e-9
                    for m in ("PixCorr", "two_way")),
                "paired": {m: _paired(per_seed, m) for m in ("PixCorr", "two_way")},
            }
    report["protocol"] = ("run_reconstruction(generator='none'), PixCorr of decoded pixels-16 "
                          "upsampled (425 px) and two-way identification of the decoded "
                          "world-embed on the shared test set, repetitions averaged; world seed "
                          "= training seed = s")
    report["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(),
                         "cpus": os.cpu_count()}
    from neurodecode._files import write_json

    write_json(path, report)
    print(json.dumps({w: v["median"] for w, v in report["worlds"].items()}, indent=1))


if __name__ == "__main__":
    main()
