"""What people look at after a benchmark: a summary table and two figures."""

from __future__ import annotations

from collections.abc import Collection
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


FIGURES = ("scores.png", "time_vs_score.png")


def _figure_data(results: pd.DataFrame) -> dict:
    """What each figure draws, from the result rows (failed folds left out)."""
    metric = " / ".join(sorted(results["metric"].unique()))
    ok = results[results["status"] != "failed"] if "status" in results else results
    per_subject = ok.groupby(["subject", "pipeline"], sort=False)["score"].mean().unstack()
    title = f"{ok['dataset'].iloc[0]}, {ok['evaluation'].iloc[0]}"
    return {"scores.png": (per_subject, metric, title),
            "time_vs_score.png": (summary_table(ok).reset_index(), metric)}  # fmt: skip


def figure_keys(results: pd.DataFrame) -> dict[str, str]:
    """A content hash of each figure's inputs: equal keys draw identical figures, so a
    figure whose key has not changed need not be drawn again (fit times enter only
    ``time_vs_score.png``: a recomputation with equal scores leaves ``scores.png`` alone)."""
    from neurodecode._files import content_hash

    data = _figure_data(results)
    per_subject, metric, title = data["scores.png"]
    table, _ = data["time_vs_score.png"]
    return {
        "scores.png": content_hash(per_subject.to_numpy(float), [str(i) for i in per_subject.index],
                                   [str(c) for c in per_subject.columns], metric, title),
        "time_vs_score.png": content_hash(table[["fit_time_s", "score_mean"]].to_numpy(float),
                                          [str(p) for p in table["pipeline"]], metric),
    }  # fmt: skip


def save_plots(results: pd.DataFrame, out_dir: str | Path,
               only: Collection[str] | None = None) -> list[Path]:  # fmt: skip
    """Save ``scores.png`` (score per pipeline per subject) and ``time_vs_score.png``.

    ``only`` names the figures to draw (default both; see :func:`figure_keys` for which
    need it). Drawn on bare Agg figures with fixed margins (no pyplot, no layout pass):
    the two cost a benchmark about 0.15 s where ``tight_layout`` and pandas' plotting made
    them 0.45 s, a tenth of a small benchmark's first run.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    out_dir = Path(out_dir)
    only = FIGURES if only is None else tuple(only)
    data = _figure_data(results)
    paths = []
    if "scores.png" in only:
        per_subject, metric, title = data["scores.png"]
        paths.append(_save(_scores_figure(per_subject, metric, title), out_dir / "scores.png"))
    if "time_vs_score.png" in only:
        table, metric = data["time_vs_score.png"]
        fig = Figure(figsize=(5, 4))
        FigureCanvasAgg(fig)
        fig.subplots_adjust(left=0.2, right=0.96, bottom=0.13, top=0.96)
        ax = fig.add_subplot()
        ax.scatter(table["fit_time_s"], table["score_mean"])
        for _, row in table.iterrows():
            ax.annotate(row["pipeline"], (row["fit_time_s"], row["score_mean"]),
                        fontsize="small")  # fmt: skip
        ax.set_xscale("log")
        # ticks at 1, 2, 5 x 10^k, no minor ticks: a short range of fit times still gets
        # labels, and matplotlib does not build (slowly) dozens of unlabelled minor ticks
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.margins(x=0.3, y=0.1)  # room for the names beside the points
        ax.set_xlabel("mean fit time per fold (s)")
        ax.set_ylabel(f"mean {metric}")
        paths.append(_save(fig, out_dir / "time_vs_score.png"))
    return paths


def _scores_figure(per_subject: pd.DataFrame, metric: str, title: str):
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width_in = max(5, 0.9 * len(per_subject) + 3)
    fig = Figure(figsize=(width_in, 4))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.9 / width_in, right=1 - 0.15 / width_in, bottom=0.13, top=0.92)
    ax = fig.add_subplot()
    x = np.arange(len(per_subject))
    n = max(1, per_subject.shape[1])
    bar = 0.8 / n
    for i, name in enumerate(per_subject.columns):
        ax.bar(x - 0.4 + bar * (i + 0.5), per_subject[name].to_numpy(), bar, label=str(name))
    ax.set_xticks(x, [str(s) for s in per_subject.index])
    ax.set_xlabel("subject")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(fontsize="small", loc="lower right")
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:  # light compression: a fifth of the encoding time
        fig.savefig(tmp, dpi=100, format="png", pil_kwargs={"compress_level": 1})
    return path
