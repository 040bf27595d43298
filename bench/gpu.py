"""The GPU variant of the benchmarks: one script to run when a GPU machine is lent.

Measures, on the accelerator and on the CPU in the same run (ratios are the numbers to keep):

- fMRI decoder training throughput (samples/s): 15,000 voxels, width 512, batch 64, the
  world-embed + 16-pixel heads, SoftCLIP + MSE (the shape of ``bench/decoder_training.py``);
- MEG brain module: training throughput and inference latency per trial (batch 1) and
  batched throughput, 275 sensors x 43 samples, the configuration of
  ``bench/meg_brain_module.py``;
- embedded generator: seconds per image (batch 100).

Peak accelerator memory is recorded per case. Usage: ``python bench/gpu.py [--device cuda]
[--steps 20]`` → ``bench/results/gpu.json``; ``--device cpu`` runs the same code on the CPU
alone (how the script itself is checked where no GPU is lent).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULT = Path(__file__).parent / "results" / "gpu.json"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn: Callable[[], object], device: torch.device, steps: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decoder_training(device: torch.device, steps: int) -> dict:
    from neurodecode.models import AdapterConfig, BrainDecoder, DecoderConfig, HeadConfig
    from neurodecode.training import losses

    torch.manual_seed(0)
    cfg = DecoderConfig({"1": 15000}, [HeadConfig("world-embed", (20,)),
                                       HeadConfig("pixels-16", (3, 16, 16), "spatial")],
                        AdapterConfig(kind="mlp"), width=512, depth=2)
    model = BrainDecoder(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(64, 15000, device=device)
    t, p = torch.randn(64, 20, device=device), torch.rand(64, 3, 16, 16, device=device)

    def step():
        out = model(x, "1")
        loss = losses.soft_clip(out["world-embed"], t, 0.1) + losses.mse(out["pixels-16"], p)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return {"samples_per_s": 64 / _median_time(step, device, steps), "batch": 64}


def brain_module(device: torch.device, steps: int) -> dict:
    import mne

    from neurodecode.models.brain_module import BrainModule, BrainModuleConfig, sensor_positions
    from neurodecode.models.decoder import HeadConfig

    info = mne.create_info(mne.channels.make_standard_montage("biosemi64").ch_names, 60.0,
                           "eeg")
    info.set_montage("biosemi64")
    cfg = BrainModuleConfig(n_features={"1": 64}, n_times=43,
                            heads=[HeadConfig("world-embed", (20,))], spatial_channels=32,
                            hidden=32, depth=2, out_channels=64, fourier_freqs=6, dropout=0.3)
    model = BrainModule(cfg)
    model.set_sensors("1", *sensor_positions(info))
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, target = torch.randn(32, 64, 43, device=device), torch.randn(32, 20, device=device)

    def step():
        out = model(x, "1")["world-embed"]
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = 32 / _median_time(step, device, steps)
    model.eval()
    one, batch = x[:1], torch.randn(256, 64, 43, device=device)
    with torch.no_grad():
        single = _median_time(lambda: model(one, "1"), device, steps)
        batched = 256 / _median_time(lambda: model(batch, "1"), device, steps)
    return {"train_trials_per_s": train, "single_trial_ms": 1000 * single,
            "batched_trials_per_s": batched, "n_channels": 64, "n_times": 43}


def embedded_generator(device: torch.device, steps: int) -> dict:
    from neurodecode.reconstruct.embedded import load_codec

    codec = load_codec().to(device).eval()
    embed = torch.randn(100, codec.cfg.embed_dim, device=device)
    with torch.no_grad():
        seconds = _median_time(lambda: codec.generate(embed), device, max(3, steps // 4))
    return {"seconds_per_image": seconds / 100, "batch": 100}


CASES = {"decoder_training": decoder_training, "brain_module": brain_module,
         "embedded_generator": embedded_generator}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run on the GPU machine, or --device cpu to check the script")
    rows = []
    for name, case in CASES.items():
        for where in dict.fromkeys([device, torch.device("cpu")]):
            if where.type == "cuda":
                torch.cuda.reset_peak_memory_stats(where)
            row = {"case": name, "device": str(where), **case(where, args.steps)}
            if where.type == "cuda":
                row["peak_memory_mib"] = torch.cuda.max_memory_allocated(where) / 2**20
            rows.append(row)
            print(row, flush=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from neurodecode._files import write_json

    result = {
        "what": "accelerator vs CPU in the same run (medians of repeated steps)",
        "results": rows,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "cpu_threads": torch.get_num_threads()},
    }
    if device.type != "cpu":
        write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
