"""What people look at after a benchmark: a summary table and two figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neurodecode._files import atomic_path


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """Score and fit time per pipeline, folds first averaged within each subject/session.

    Returns
    -------
    DataFrame indexed by (pipeline, metric) with columns score_mean and score_std (over
    subject/session units, each the mean of its folds; failed folds left out), fit_time_s
    (mean per fold), n_units, n_folds and n_failed; sorted by decreasing mean score.
    """
    ok = results[results["status"] != "failed"] if "status" in results else results
    keys = ["pipeline", "metric"]
    units = ok.groupby(keys + ["subject", "session"], sort=False, dropna=False)["score"].mean()
    by_unit = units.groupby(level=keys, sort=False)
    grouped = ok.groupby(keys, sort=False)
    table = pd.DataFrame(
        {
            "score_mean": by_unit.mean(),
            "score_std": by_unit.std(ddof=0),
            "fit_time_s": grouped["fit_time"].mean(),
            "n_units": by_unit.size(),
            "n_folds": grouped.size(),
        }
    )
    all_rows = results.groupby(keys, sort=False)
    failed = all_rows["status"].apply(lambda s: int((s == "failed").sum())) if (
        "status" in results) else all_rows.size() * 0  # fmt: skip
    table = table.reindex(failed.index)
    table["n_failed"] = failed
    table[["n_units", "n_folds"]] = table[["n_units", "n_folds"]].fillna(0).astype(int)
    return table.sort_values("score_mean", ascending=False)


def save_plots(results: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Save ``scores.png`` (score per pipeline per subject) and ``time_vs_score.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    metric = " / ".join(sorted(results["metric"].unique()))
    results = results[results["status"] != "failed"] if "status" in results else results
    per_subject = results.groupby(["subject", "pipeline"], sort=False)["score"].mean().unstack()
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(per_subject) + 3), 4))
    per_subject.plot.bar(ax=ax, rot=0)
    ax.set_xlabel("subject")
    ax.set_ylabel(metric)
    ax.set_title(f"{results['dataset'].iloc[0]}, {results['evaluation'].iloc[0]}")
    ax.legend(fontsize="small", loc="lower right")
    paths = [_save(fig, out_dir / "scores.png")]
    table = summary_table(results).reset_index()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(table["fit_time_s"], table["score_mean"])
    for _, row in table.iterrows():
        ax.annotate(row["pipeline"], (row["fit_time_s"], row["score_mean"]), fontsize="small")
    ax.set_xscale("log")
    ax.set_xlabel("mean fit time per fold (s)")
    ax.set_ylabel(f"mean {metric}")
    paths.append(_save(fig, out_dir / "time_vs_score.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
