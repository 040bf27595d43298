"""What people look at after a benchmark: a summary table and two figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neurodecode._files import atomic_path


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of the score, and mean fit time, per pipeline.

    Returns
    -------
    DataFrame indexed by (pipeline, metric) with columns score_mean, score_std, fit_time_s,
    n_rows; sorted by decreasing mean score.
    """
    grouped = results.groupby(["pipeline", "metric"], sort=False)
    table = pd.DataFrame(
        {
            "score_mean": grouped["score"].mean(),
            "score_std": grouped["score"].std(ddof=0),
            "fit_time_s": grouped["fit_time"].mean(),
            "n_rows": grouped.size(),
        }
    )
    return table.sort_values("score_mean", ascending=False)


def save_plots(results: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Save ``scores.png`` (score per pipeline per subject) and ``time_vs_score.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    metric = " / ".join(sorted(results["metric"].unique()))
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
