"""ACM with automatic order/lag against MOABB's ACM pipeline at order 4, lag 2, on real EEG.

PhysioNet EEGMMIDB subject 1 (imagery runs, ../shared/data/eegmmidb_S001_imagery), read
through MOABB's PhysionetMI and paradigms (MOABB's own filtering 8-32 Hz and epochs 0-3 s, 64
channels, 160 Hz), left vs right hand and hands vs feet, on MOABB's within-session folds
(StratifiedKFold(5, shuffle=True, random_state=42)). Pipelines, all ending in pyRiemann's
TangentSpace(riemann) and a linear SVC (C=1, the classifier of pipelines/ACM_TS_SVM_auto.yml):

- ``moabb_4_2``: MOABB's ``AugmentedDataset(order=4, lag=2)`` + pyRiemann ``Covariances("cov")``;
- ``auto``: pipelines/ACM_TS_SVM_auto.yml (rank-safe ``AugmentedCovariances``, order and
  lag estimated on each training fold and limited by what the samples support);
- ``ours_4_2``: ``AugmentedCovariances(order=4, lag=2)`` (MOABB's matrices, plus the ridge when
  the training matrices are worse conditioned than 1e-10).

Per task, ``auto_minus_moabb_4_2`` (mean ROC-AUC) and ``ours_4_2_vs_moabb_4_2_max_abs_fold_diff``
(parity at MOABB's fixed order and lag, fold by fold) are recorded beside the folds.

Writes bench/results/acm_real_eegmmidb.json after each pipeline (it takes tens of minutes on
two shared cores: the tangent space of 256-row, near-singular matrices converges slowly).

Usage: python bench/acm_real_eegmmidb.py [--tasks left/right hands/feet] [--skip-moabb]
[--only auto moabb_4_2 ours_4_2]   (results of other pipelines already in the JSON are kept)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "eegmmidb_S001_imagery"
OUT = ROOT / "bench" / "results" / "acm_real_eegmmidb.json"
TASKS = {"left/right": ["left_hand", "right_hand"], "hands/feet": ["hands", "feet"]}


def physionet():
    """MOABB's PhysionetMI reading the local files offline (layout of the data README)."""
    root = Path(tempfile.mkdtemp(prefix="mne_data_"))
    target = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    target.mkdir(parents=True)
    for f in DATA.glob("S001R*.edf*"):
        (target / f.name).symlink_to(f)
    os.environ.update(MNE_DATA=str(root), MOABB_DOWNLOAD_PROVIDER="upstream")
    import moabb
    from moabb.datasets import PhysionetMI

    moabb.set_log_level("error")
    dataset = PhysionetMI(imagined=True, executed=False)
    dataset.subject_list = [1]
    return dataset


def pipelines(skip_moabb: bool) -> dict:
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from neurodecode.benchmark.pipelines import load_pipeline
    from neurodecode.riemann import AugmentedCovariances

    out = {
        "auto": lambda: load_pipeline(ROOT / "pipelines" / "ACM_TS_SVM_auto.yml").pipeline,
        "ours_4_2": lambda: make_pipeline(AugmentedCovariances(order=4, lag=2),
                                          TangentSpace(metric="riemann"), SVC(kernel="linear")),
    }  # fmt: skip
    if not skip_moabb:
        out["moabb_4_2"] = lambda: make_pipeline(
            AugmentedDataset(order=4, lag=2), Covariances("cov"), TangentSpace(metric="riemann"),
            SVC(kernel="linear"),
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--skip-moabb", action="store_true")
    parser.add_argument("--only", nargs="+", help="pipelines to (re)run, e.g. moabb_4_2")
    args = parser.parse_args()
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from neurodecode._files import write_json
    from neurodecode.benchmark.datasets import make_moabb_paradigm
    from neurodecode.riemann import data_rank

    dataset = physionet()
    scorer = get_scorer("roc_auc")
    result = {"what": __doc__.split("\n\n")[1], "seed": 42, "tasks": {}}
    if OUT.is_file():
        import json

        result = json.loads(OUT.read_text())
    for task in args.tasks:
        X, y, _ = make_moabb_paradigm("MotorImagery", TASKS[task]).get_data(dataset, subjects=[1])
        folds = list(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y))
        entry = result["tasks"].setdefault(task, {})
        entry.update(shape=list(X.shape), data_rank=data_rank(X))
        for name, make in pipelines(args.skip_moabb).items():
            if args.only and name not in args.only:
                continue
            rows = []
            for fold, (train, test) in enumerate(folds):
                model = clone(make())
                start = time.perf_counter()
                with threadpool_limits(1):
                    try:
                        model.fit(X[train], y[train])
                        score, error = float(scorer(model, X[test], y[test])), None
                    except Exception as err:  # noqa: BLE001 - recorded
                        score, error = float("nan"), f"{type(err).__name__}: {err}"
                row = {"fold": fold, "score": score, "fit_s": time.perf_counter() - start,
                       "error": error}  # fmt: skip
                steps = getattr(model, "named_steps", {})
                acm = steps.get("augmentedcovariances")
                if acm is not None and hasattr(acm, "order_"):
                    row.update(order=int(acm.order_), lag=int(acm.lag_),
                               order_estimate=int(acm.order_estimate_), rank=int(acm.rank_),
                               ridge=acm.ridge_)  # fmt: skip
                rows.append(row)
                print(task, name, row, flush=True)
            scores = [r["score"] for r in rows]
            entry[name] = {"mean": float(np.nanmean(scores)), "folds": rows}
            write_json(OUT, result)
        if "moabb_4_2" in entry and "auto" in entry:
            entry["auto_minus_moabb_4_2"] = entry["auto"]["mean"] - entry["moabb_4_2"]["mean"]
        if "moabb_4_2" in entry and "ours_4_2" in entry:  # parity at MOABB's fixed (4, 2)
            entry["ours_4_2_vs_moabb_4_2_max_abs_fold_diff"] = float(max(
                abs(a["score"] - b["score"])
                for a, b in zip(entry["ours_4_2"]["folds"], entry["moabb_4_2"]["folds"],
                                strict=True)))  # fmt: skip
        write_json(OUT, result)


if __name__ == "__main__":
    main()
