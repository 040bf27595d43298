"""Per-fold parity with MOABB on real EEG: MOABB's WithinSessionEvaluation vs neurodecode.

PhysioNet EEGMMIDB subject 1 (imagery runs, ../shared/data/eegmmidb_S001_imagery, read offline
through MOABB's PhysionetMI), left vs right hand and hands vs feet, TS+LR, CSP+LDA and MDM from
pipelines/, random_state = seed = 42. MOABB reports every fold through a StratifiedKFold
subclass that tells it the fold index (same splits as its default). Writes
bench/results/moabb_parity_eegmmidb.json: both sides' per-fold scores and the largest
absolute difference. (tests/benchmark/test_real_eegmmidb.py asserts it for left vs right.)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
FILES = ["TS_LR.yml", "CSP_LDA.yml", "MDM.yml"]
TASKS = {"left/right": ("LeftRightImagery", ["left_hand", "right_hand"]),
         "hands/feet": ("MotorImagery", ["hands", "feet"])}  # fmt: skip


def main() -> None:
    import numpy as np
    from acm_real_eegmmidb import physionet
    from moabb.evaluations import WithinSessionEvaluation
    from threadpoolctl import threadpool_limits

    from neurodecode._files import write_json
    from neurodecode.benchmark import load_pipelines, run_benchmark
    from neurodecode.benchmark.datasets import make_moabb_paradigm
    from neurodecode.benchmark.moabb_folds import FoldReportingKFold

    dataset = physionet()
    files = [ROOT / "pipelines" / f for f in FILES]
    specs = load_pipelines(files)
    out = {"what": __doc__.split("\n\n")[1].replace("\n", " "), "tasks": {}}
    for task, (paradigm, events) in TASKS.items():
        tmp = Path(tempfile.mkdtemp())
        with threadpool_limits(1):
            theirs = WithinSessionEvaluation(
                paradigm=make_moabb_paradigm(paradigm, events), datasets=[dataset],
                random_state=42, overwrite=True, hdf5_path=str(tmp / "moabb"),
                cv_class=FoldReportingKFold,
            ).process({s.name: s.pipeline for s in specs})  # fmt: skip
            ours = run_benchmark(files, "PhysionetMI", tmp / "ours", subjects=[1],
                                 paradigm=paradigm, events=events, seed=42, quiet=True,
                                 plots=False)  # fmt: skip
        entry = {}
        for spec in specs:
            a = theirs[theirs["pipeline"] == spec.name].sort_values("fold")["score"].to_numpy()
            b = ours[ours["pipeline"] == spec.name].sort_values("fold")["score"].to_numpy()
            entry[spec.name] = {"moabb": a.tolist(), "neurodecode": b.tolist(),
                                "moabb_mean": float(a.mean()), "max_abs_diff":
                                float(np.max(np.abs(a - b)))}  # fmt: skip
            print(task, spec.name, entry[spec.name], flush=True)
        out["tasks"][task] = entry
    write_json(ROOT / "bench" / "results" / "moabb_parity_eegmmidb.json", out)


if __name__ == "__main__":
    main()
