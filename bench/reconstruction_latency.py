"""Seconds per reconstructed image for each diffusers generator backend, on CPU.

Backends run on random weights of the real classes (``neurodecode.reconstruct.random_models``):
compute cost depends on the architecture, not on the weights, so no download is needed.

Sizes (one image per call, CFG on, img2img strength 0.8 so it runs ``int(0.8 * steps)`` steps):

- ``tiny``: the test architecture, 32x32 px, 10 steps, median of 5 after a warm-up, with the
  reference: one direct diffusers call on the same tensors (the backend's ``_sample``), and
  for ``none`` a direct ``vae.decode``, interleaved with the backend's calls; ratio =
  backend / reference (the wrapper's overhead).
- ``sd1``: Stable Diffusion 1.x sizes (UNet 860 M, CLIP ViT-L/14 towers, 8x VAE; the unCLIP UNet
  gets SD-1 widths plus its embedding projection), at 128x128 px and 2 steps (median of 3, the
  first included): the default 512 px / 20-50 steps take minutes per image on these 2 shared
  cores. Rerun with ``--pixels 512 --steps 20`` on a bigger machine.

Run: ``python bench/reconstruction_latency.py`` → ``bench/results/reconstruction_latency.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import diffusers
import numpy as np
import torch

from neurodecode._files import write_json
from neurodecode.reconstruct.base import Conditioning
from neurodecode.reconstruct.random_models import (
    N_TEXT_TOKENS,
    SD1,
    TINY,
    Architecture,
    random_sd_img2img,
    random_unclip,
    random_vae,
    random_versatile,
)
from neurodecode.reconstruct.sd_img2img import SDImg2ImgGenerator
from neurodecode.reconstruct.unclip import UnCLIPGenerator
from neurodecode.reconstruct.vae import VAEDecoderGenerator
from neurodecode.reconstruct.versatile import N_IMAGE_TOKENS, VersatileGenerator

RESULT = Path(__file__).parent / "results" / "reconstruction_latency.json"
GUIDANCE, STRENGTH = 5.0, 0.8


def timed(fns: list[Callable[[], object]], repeats: int) -> list[list[float]]:
    """Seconds of each call of each function, the functions interleaved (drift hits all)."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def conditioning(name: str, arch: Architecture, pixels: int) -> Conditioning:
    """One image's random conditioning in the shapes backend ``name`` reads."""
    rng = np.random.default_rng(0)
    factor = 2 ** (len(arch.vae_channels) - 1)
    latents = rng.standard_normal((1, 4, pixels // factor, pixels // factor)) / 0.18215
    text = rng.standard_normal((1, N_TEXT_TOKENS, arch.width))
    image = rng.standard_normal((1, N_IMAGE_TOKENS, arch.width) if name == "versatile"
                                else (1, arch.width))
    fields = {"sd-img2img": {"init_latents": latents, "text_embeds": text},
              "unclip": {"image_embeds": image, "text_embeds": text},
              "versatile": {"image_embeds": image, "text_embeds": text},
              "none": {"init_latents": latents}}[name]
    return Conditioning(**{k: v.astype(np.float32) for k, v in fields.items()})


def build(name: str, arch: Architecture, pixels: int):
    """The backend on a random pipeline of ``arch``."""
    if name == "sd-img2img":
        return SDImg2ImgGenerator(random_sd_img2img(arch), progress=False)
    if name == "unclip":
        return UnCLIPGenerator(random_unclip(arch), size=pixels, progress=False)
    if name == "versatile":
        return VersatileGenerator(random_versatile(arch), size=pixels, progress=False)
    return VAEDecoderGenerator(random_vae(arch), progress=False)


def reference(gen, cond: Conditioning, steps: int) -> Callable[[], object]:
    """The same work without the generator wrapper: one direct diffusers call."""
    if isinstance(gen, VAEDecoderGenerator):
        latents = torch.from_numpy(cond.init_latents)

        def decode():
            with torch.no_grad():
                return gen.vae.decode(latents).sample
        return decode
    generators = [torch.Generator().manual_seed(0)]
    return lambda: gen._sample(gen.pipeline, cond, generators, steps, GUIDANCE, STRENGTH)


def run_size(label: str, arch: Architecture, pixels: int, steps: int, repeats: int,
             warmup: bool, with_reference: bool) -> list[dict]:
    rows = []
    for name in ("sd-img2img", "unclip", "versatile", "none"):
        start = time.perf_counter()
        gen = build(name, arch, pixels)
        modules = [gen.vae] if name == "none" else gen.pipeline.components.values()
        n_params = sum(p.numel() for m in modules if isinstance(m, torch.nn.Module)
                       for p in m.parameters())
        build_s = time.perf_counter() - start
        cond = conditioning(name, arch, pixels)

        def call(gen=gen, cond=cond):
            return gen.generate(cond, steps=steps, guidance=GUIDANCE, strength=STRENGTH)
        fns = [call, reference(gen, cond, steps)] if with_reference else [call]
        if warmup:
            for fn in fns:
                fn()
        times, *ref_times = timed(fns, repeats)
        row = {
            "size": label, "backend": name, "pixels": pixels,
            "denoising_steps": 0 if name == "none" else
            int(steps * STRENGTH) if name == "sd-img2img" else steps,
            "guidance": GUIDANCE, "parameters_millions": round(n_params / 1e6, 2),
            "build_s": round(build_s, 2), "repeats": repeats, "warmup": warmup,
            "seconds_per_image": float(np.median(times)), "all_seconds": times,
        }
        if with_reference:
            row["reference_seconds_per_image"] = float(np.median(ref_times[0]))
            row["ratio_vs_reference"] = row["seconds_per_image"] / row["reference_seconds_per_image"]
        rows.append(row)
        print(f"{label:5s} {name:11s} {row['seconds_per_image']:8.3f} s/image", flush=True)
        del gen
        gc.collect()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=128, help="sd1 image side")
    parser.add_argument("--steps", type=int, default=2, help="sd1 scheduler steps")
    parser.add_argument("--skip-sd1", action="store_true", help="only the tiny size")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    rows = run_size("tiny", TINY, 32, 10, 5, warmup=True, with_reference=True)
    if not args.skip_sd1:
        rows += run_size("sd1", SD1, args.pixels, args.steps, 3, warmup=False,
                         with_reference=False)
    write_json(RESULT, {
        "what": "seconds per generated image (n=1, n_samples=1) for each generator backend, "
                "random weights of the real architectures, CPU; median of repeats",
        "protocol": {"guidance": GUIDANCE, "img2img_strength": STRENGTH,
                     "tiny": "32 px, 10 scheduler steps, median of 5 after 1 warm-up",
                     "sd1": f"{args.pixels} px, {args.steps} scheduler steps, median of 3 "
                            "(no warm-up)",
                     "reference": "one direct diffusers call on the same tensors "
                                  "(vae.decode for 'none'), interleaved with the backend's "
                                  "calls; tiny size only"},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "torch": torch.__version__, "diffusers": diffusers.__version__},
        "results": rows,
    })
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
