"""EEGNet and ShallowFBCSPNet (braindecode) beside TS+LR on the real EEGMMIDB subject S001.

The six imagery runs in ``../shared/data/eegmmidb_S001_imagery`` are laid out the way MNE and
MOABB expect under a temporary ``MNE_DATA`` (symbolic links), and ``neurodecode benchmark``'s
own :func:`~neurodecode.benchmark.run_benchmark` evaluates the three pipeline files on MOABB's
``PhysionetMI`` (LeftRightImagery: left vs right fist imagery, within-session 5-fold, ROC-AUC,
seed 42). Writes ``bench/results/deep_pipelines_eegmmidb.json`` with per-fold and mean scores.
Results are cached in ``--out``/store by content hash, so a rerun with the same ``--out``
recomputes nothing.

    OMP_NUM_THREADS=1 python bench/deep_pipelines_eegmmidb.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "eegmmidb_S001_imagery"
OUT = ROOT / "bench" / "results" / "deep_pipelines_eegmmidb.json"
PIPELINES = [ROOT / "pipelines" / n for n in ("TS_LR.yml", "EEGNet.yml", "ShallowFBCSPNet.yml")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "nd-bench-eegmmidb"))
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: not found")
    mne_data = Path(args.out) / "mne_data"
    target = mne_data / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    target.mkdir(parents=True, exist_ok=True)
    for f in DATA.glob("S001R*"):
        link = target / f.name
        if not link.exists():
            link.symlink_to(f)
    os.environ["MNE_DATA"] = str(mne_data)
    os.environ["MOABB_DOWNLOAD_PROVIDER"] = "upstream"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from neurodecode.benchmark import run_benchmark

    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = run_benchmark(PIPELINES, "PhysionetMI", Path(args.out) / "benchmark", subjects=["1"],
                         paradigm="LeftRightImagery", quiet=True, plots=False)  # fmt: skip
    summary = {
        name: {"mean_score": float(g["score"].mean()), "scores": g["score"].tolist(),
               "mean_fit_time_s": float(g["fit_time"].mean()), "metric": g["metric"].iloc[0],
               "n_train": g["n_train"].tolist(), "n_test": g["n_test"].tolist()}
        for name, g in rows.groupby("pipeline")
    }  # fmt: skip
    result = {"dataset": "PhysionetMI subject 1 (EEGMMIDB S001), LeftRightImagery",
              "evaluation": "within-session", "seed": 42, "pipelines": summary,
              "n_computed": rows.attrs.get("n_computed"), "wall_s": time.perf_counter() - start,
              "note": "deep models: 30 epochs (pipeline files), CPU, one torch thread"}  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(OUT)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
