"""HiSTN on synthetic-emotion-eeg: ordinal Gaussian label smoothing vs one-hot training.

Leave-one-subject-out (train on all other subjects' 1-s windows, test on the held-out one),
valence ratings 1-5. For each seed ``s`` the world is built with seed ``s`` and both models
start from the same torch seed ``s``, so the comparison is paired: same data, same initial
weights, same batch order; only the training targets differ (Gaussian, sigma 0.5, vs one-hot).

Reports per seed and fold: accuracy, macro-F1, Seq2HR, mean absolute rating error (MAE), and
what a signal-free classifier reaches on the same labels (majority class; median rating).
Writes ``bench/results/histn_ordinal_smoothing.json``.

    python bench/histn_ordinal_smoothing.py [--seeds 0 1 2] [--subjects 4] [--epochs 30]
    python bench/histn_ordinal_smoothing.py --seeds 3 4 --append   # add seeds to the JSON
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from neurodecode.metrics.ordinal import ordinal_report
from neurodecode.models.histn import HiSTNClassifier
from neurodecode.synth.emotion_eeg import emotiv_info, make

OUT = Path(__file__).resolve().parent / "results" / "histn_ordinal_smoothing.json"


def run(seeds, n_subjects, epochs, segments, sigma) -> dict:
    info = emotiv_info()
    rows = []
    for seed in seeds:
        world = make(n_subjects=n_subjects, seed=seed, segments_per_clip=segments)
        subs = list(world.subjects)
        for test in subs:
            train = [s for s in subs if s != test]
            X = np.concatenate([world.subjects[s].X for s in train]) * 1e6  # µV
            y = np.concatenate([world.subjects[s].y for s in train])
            Xt, yt = world.subjects[test].X * 1e6, world.subjects[test].y
            for smoothing in ("ordinal", "onehot"):
                clf = HiSTNClassifier(smoothing=smoothing, sigma=sigma, random_state=seed,
                                      max_epochs=epochs, module__chs_info=info["chs"])  # fmt: skip
                start = time.perf_counter()
                clf.fit(X, y)
                rep = ordinal_report(clf.predict_proba(Xt), yt, clf.classes_)
                rows.append(dict(seed=seed, test_subject=test, smoothing=smoothing,
                                 fit_s=time.perf_counter() - start, **rep))  # fmt: skip
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                  for k, v in rows[-1].items()}), flush=True)  # fmt: skip
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    metrics = ("accuracy", "macro_f1", "seq2hr", "mae", "chance_accuracy", "chance_mae")
    per_seed = {}
    for seed in sorted({r["seed"] for r in rows}):
        per_seed[seed] = {
            sm: {m: float(np.mean([r[m] for r in rows if r["seed"] == seed
                                   and r["smoothing"] == sm])) for m in metrics}  # fmt: skip
            for sm in ("ordinal", "onehot")
        }
    paired = {}
    for m in ("accuracy", "macro_f1", "seq2hr", "mae"):
        d = np.array([per_seed[s]["ordinal"][m] - per_seed[s]["onehot"][m] for s in per_seed])
        better = d < 0 if m == "mae" else d > 0
        paired[m] = {"mean_difference_ordinal_minus_onehot": float(d.mean()),
                     "differences": d.tolist(), "seeds_ordinal_better": int(better.sum()),
                     "n_seeds": len(d)}  # fmt: skip
    overall = {sm: {m: float(np.mean([r[m] for r in rows if r["smoothing"] == sm]))
                    for m in metrics} for sm in ("ordinal", "onehot")}  # fmt: skip
    return {"rows": rows, "per_seed": per_seed, "paired": paired, "overall": overall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--segments", type=int, default=6, help="1-s windows per clip")
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT, help="JSON file to write")
    ap.add_argument("--append", action="store_true",
                    help="keep the rows of other seeds already in the JSON file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = run(args.seeds, args.subjects, args.epochs, args.segments, args.sigma)
    out = args.out
    if args.append and out.is_file():
        old = json.loads(out.read_text())
        keep = [r for r in old["rows"] if r["seed"] not in args.seeds]
        result = summarise(keep + result["rows"])
        args.seeds = sorted({r["seed"] for r in keep} | set(args.seeds))
        result["total_s_earlier_runs"] = old.get("total_s", 0) + old.get("total_s_earlier_runs", 0)
    result["config"] = dict(vars(args), out=str(out), world="synthetic-emotion-eeg", evaluation="LOSO",
                            target="valence", clips=18, window_s=1.0)  # fmt: skip
    result["total_s"] = time.perf_counter() - start
    result["machine"] = f"{platform.processor() or platform.machine()}, torch threads {args.threads}"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)
    print(json.dumps({"paired": result["paired"], "overall": result["overall"]}, indent=1))


if __name__ == "__main__":
    main()
