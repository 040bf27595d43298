"""MOABB-style benchmarks of covariance pipelines, correct, cached and parallel.

- :func:`run_benchmark` — pipelines (YAML) x dataset x evaluation -> ``results.csv``, a
  content-hashed result store (resumable, safe in parallel), a summary table and figures.
- :func:`load_pipelines` / :func:`load_pipeline` — the safe MOABB-schema YAML loader.
- :func:`open_source` / :func:`load_dataset` — synthetic worlds by name, MOABB datasets by
  code (through MOABB's own paradigm); ``open_source`` checks without loading.
- :data:`EVALUATIONS` — ``within-session``, ``cross-session``, ``cross-subject``.
"""

from neurodecode.benchmark.datasets import BenchmarkData, BenchmarkSource, load_dataset, open_source
from neurodecode.benchmark.evaluation import EVALUATIONS, metric_for
from neurodecode.benchmark.pipelines import (
    ALLOWED_MODULES,
    PipelineSpec,
    load_pipeline,
    load_pipelines,
)
from neurodecode.benchmark.report import save_plots, summary_table
from neurodecode.benchmark.runner import COLUMNS, run_benchmark
from neurodecode.benchmark.store import ResultStore

__all__ = [
    "ALLOWED_MODULES",
    "COLUMNS",
    "EVALUATIONS",
    "BenchmarkData",
    "BenchmarkSource",
    "PipelineSpec",
    "ResultStore",
    "load_dataset",
    "load_pipeline",
    "load_pipelines",
    "metric_for",
    "open_source",
    "run_benchmark",
    "save_plots",
    "summary_table",
]
