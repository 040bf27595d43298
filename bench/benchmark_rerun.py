"""Cost of re-running a finished benchmark: first run vs identical rerun (same folder).

The rerun asks the result store first, per pipeline and subject, from the pipeline files and
the dataset's description alone, so it generates, loads and hashes no data, builds no
pipeline and fits nothing; what remains is reading the YAML files and the store's JSON
files (results.csv and the figures are left alone when their inputs did not change).
bench/benchmark_vs_moabb.py sets the same rerun beside MOABB's. Measured on synthetic-mi (physiological model, the default), TS+LR, MDM and
CSP+LDA, within-session and cross-subject. Writes bench/results/benchmark_rerun.json.

Usage: python bench/benchmark_rerun.py [--subjects 4]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = [ROOT / "pipelines" / f for f in ("TS_LR.yml", "MDM.yml", "CSP_LDA.yml")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=4)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from neurodecode._files import write_json
    from neurodecode.benchmark import run_benchmark

    subjects = list(range(1, args.subjects + 1))
    result = {"what": __doc__.split("\n\n")[0], "dataset": "synthetic-mi:physiological",
              "subjects": subjects, "pipelines": [p.name for p in PIPELINES],
              "machine": platform.machine(), "runs": {}}  # fmt: skip
    for evaluation in ("within-session", "cross-subject"):
        out = Path(tempfile.mkdtemp(prefix="rerun_"))
        times = []
        for _ in range(2):
            start = time.perf_counter()
            with threadpool_limits(1):
                results = run_benchmark(PIPELINES, "synthetic-mi", out, subjects=subjects,
                                        evaluation=evaluation, quiet=True)  # fmt: skip
            times.append(time.perf_counter() - start)
            attrs = dict(results.attrs)
        result["runs"][evaluation] = {
            "first_s": times[0], "rerun_s": times[1], "ratio": times[1] / times[0],
            "rows": len(results), "rerun_computed": attrs["n_computed"],
            "rerun_cached": attrs["n_cached"], "rerun_loaded_subjects": attrs["loaded_subjects"],
        }  # fmt: skip
        print(evaluation, result["runs"][evaluation], flush=True)
    write_json(ROOT / "bench" / "results" / "benchmark_rerun.json", result)


if __name__ == "__main__":
    main()
