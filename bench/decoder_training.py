"""Cross-subject decoders on synthetic-vision: data efficiency, new-subject adaptation,
training throughput and memory, and parameter counts of the anchor recipes at full size.

Writes bench/results/decoder_training_<adapter>.json and adaptation_<adapter>.png.

    python bench/decoder_training.py                   # anatomical adapters (a few minutes)
    python bench/decoder_training.py --adapter linear  # MindEye2-style linear adapters (~30 min)
    python bench/decoder_training.py --quick           # fewer epochs, for a smoke run
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from neurodecode.models import count_parameters
from neurodecode.training import (
    build_decoder,
    evaluate,
    load_config,
    load_dataset,
    prepare_data,
    train,
)
from neurodecode.training.adapt import POLICIES, adapt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BUDGETS = (0.05, 0.10, 0.25, 1.0)


def parameter_counts() -> dict:
    out = {}
    for path in sorted(glob.glob(str(ROOT / "pipelines" / "recon" / "*.yaml"))):
        cfg = load_config(path)
        if cfg.full_scale:
            out[cfg.name] = count_parameters(cfg.full_scale_decoder())
    return out


THROUGHPUT = """
import resource, time, torch, json
from neurodecode.models import AdapterConfig, BrainDecoder, DecoderConfig, HeadConfig
from neurodecode.training import losses as L
torch.manual_seed(0)
cfg = DecoderConfig({'1': 15000}, [HeadConfig('world-embed', (20,)),
                     HeadConfig('pixels-16', (3, 16, 16), 'spatial')],
                    AdapterConfig(kind='mlp'), width=512, depth=2)
model = BrainDecoder(cfg)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, t, p = torch.randn(64, 15000), torch.randn(64, 20), torch.rand(64, 3, 16, 16)
def step():
    out = model(x, '1')
    loss = L.soft_clip(out['world-embed'], t, 0.1) + L.mse(out['pixels-16'], p)
    opt.zero_grad(); loss.backward(); opt.step()
for _ in range(3): step()
times = []
for _ in range(20):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({'samples_per_s': 64 / times[len(times) // 2], 'batch_size': 64,
                  'n_voxels': 15000, 'width': 512,
                  'parameters': sum(q.numel() for q in model.parameters()),
                  'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def throughput() -> dict:
    out = subprocess.run([sys.executable, "-c", THROUGHPUT], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def top1(model, prepared, subject) -> float:
    return evaluate(model, prepared, subject, "world-embed")["top1_forward"]


def trained(cfg, prepared, subjects, fractions=None):
    model = build_decoder(cfg, prepared, subjects)
    batches = {}
    for s in subjects:
        batches.update(prepared.batches([s], fraction=(fractions or {}).get(s, 1.0)))
    train(model, batches, cfg.train, quiet=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--adapter", default="anat", choices=["anat", "linear", "mlp", "pool"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.time()
    cfg = load_config(ROOT / "pipelines" / "recon" / "synthetic-default.yaml")
    cfg.targets = [t for t in cfg.targets if t["space"] == "world-embed"]
    cfg.train.losses = [t for t in cfg.train.losses if t.head == "world-embed"]
    cfg.model.update(width=256)
    cfg.model["adapter"] = {"kind": args.adapter, "builder": True, "builder_hidden": 256,
                            "rank": 16}
    cfg.train.epochs = 6 if args.quick else 15
    subjects, stimuli = load_dataset(cfg.data)
    prepared = prepare_data(subjects, stimuli, ["world-embed"])
    names = list(subjects)
    others = [s for s in names if s != "1"]

    results: dict = {"machine": platform.processor() or platform.machine(),
                     "torch": torch.__version__, "threads": torch.get_num_threads(),
                     "config": cfg.to_dict(), "retrieval_set_size": 100,
                     "metric": "top-1 forward retrieval in world-embed among the 100 shared "
                               "test images (repetitions averaged); chance 0.01"}
    results["parameter_counts_full_scale"] = parameter_counts()
    results["throughput_15000_voxels"] = throughput()

    single_full = top1(trained(cfg, prepared, ["1"]), prepared, "1")
    single_10 = top1(trained(cfg, prepared, ["1"], {"1": 0.1}), prepared, "1")
    cross_10 = top1(trained(cfg, prepared, names, {"1": 0.1}), prepared, "1")
    results["data_efficiency"] = {"subject_1_only_100pct": single_full,
                                  "subject_1_only_10pct": single_10,
                                  "all_subjects_subject_1_at_10pct": cross_10}

    pretrained = trained(cfg, prepared, others)
    table = []
    adapt_cfg = copy.deepcopy(cfg.train)
    for policy in POLICIES:
        for budget in BUDGETS:
            model, report = adapt(pretrained, prepared, "1", policy, adapt_cfg,
                                  fraction=budget, quiet=True)
            table.append({"policy": policy, "budget": budget,
                          "n_trials": report["n_train_trials"],
                          "reinitialised_tensors": len(report["reinitialised"]),
                          "top1": top1(model, prepared, "1")})
    results["adaptation"] = table
    best10 = max(r["top1"] for r in table if r["budget"] == 0.10)
    results["adaptation_best_at_10pct_over_single_full"] = best10 / single_full
    results["seconds"] = round(time.time() - start, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"decoder_training_{args.adapter}"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot(table, single_full, RESULTS / f"adaptation_{args.adapter}.png")
    print(json.dumps({k: results[k] for k in ("data_efficiency",
                                              "adaptation_best_at_10pct_over_single_full",
                                              "throughput_15000_voxels")}, indent=2))


def _plot(table, reference, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for policy in POLICIES:
        rows = [r for r in table if r["policy"] == policy]
        ax.plot([100 * r["budget"] for r in rows], [r["top1"] for r in rows], "o-",
                label=policy)
    ax.axhline(reference, color="k", ls="--", label="subject 1 alone, 100%")
    ax.axhline(0.01, color="grey", ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("subject 1 training trials (%)")
    ax.set_ylabel("top-1 retrieval (of 100)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
