"""Wall time of the main job, ``neurodecode reconstruct --subject 1``, cold and warm.

Cold: an empty ``NEURODECODE_CACHE`` (world, features, both decoders and the ridge baseline
built from nothing). Warm: the same command again, decoders reused from the cache. Each run is
a fresh process (imports included, as a user sees it). The headline metrics of the last run
are recorded beside the times, so a speed-up that changes the results shows here.

Run: ``python bench/main_job.py [--repeats 1]`` → ``bench/results/main_job.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "main_job.json"
HEADLINE = ("PixCorr", "SSIM", "WorldProbe(semantic)",
            "two-way identification [world-embed (decoded)]")


def _run(cache: Path, out: Path) -> float:
    env = {**os.environ, "NEURODECODE_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
           "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "neurodecode", "reconstruct", "--subject", "1",
                    "--out", str(out), "--quiet"], check=True, env=env)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            cache, out = Path(tmp) / f"cache{k}", Path(tmp) / "out"
            cold.append(_run(cache, out))
            warm.append(_run(cache, out))
        side = json.loads((out / "metrics.json").read_text())["side_by_side"]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from neurodecode._files import write_json

    result = {
        "what": "neurodecode reconstruct --subject 1 (defaults), fresh process per run",
        "cold_s": [round(t, 1) for t in cold], "warm_s": [round(t, 1) for t in warm],
        "cold_median_s": round(statistics.median(cold), 1),
        "warm_median_s": round(statistics.median(warm), 1),
        "metrics_last_run": {m: side[m] for m in HEADLINE if m in side},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_after": os.getloadavg(),
                    "threads": os.environ.get("OMP_NUM_THREADS", "default")},
    }
    write_json(RESULT, result)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
