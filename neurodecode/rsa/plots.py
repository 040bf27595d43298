"""Figures: RDM heatmaps, MDS embeddings, model-comparison bars. Each returns the matplotlib
figure and, given ``path``, saves it as PNG (atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodecode._files import atomic_path
from neurodecode.rsa.inference import Evaluation
from neurodecode.rsa.rdm import RDMs, as_vectors, classical_mds


def _save(fig, path: str | Path | None, dpi: int = 120):
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return fig


def _square(rdm: RDMs | np.ndarray) -> np.ndarray:
    """Square matrices from RDMs or RDM vectors (n_pairs,) / (n_rdm, n_pairs)."""
    return (rdm if isinstance(rdm, RDMs) else RDMs(as_vectors(rdm))).matrices()


def plot_rdms(rdms: RDMs | np.ndarray, titles: list[str] | None = None,
              path: str | Path | None = None, cmap: str = "viridis"):
    """Heatmaps of RDMs side by side (one panel per RDM, each with its own colour bar)."""
    import matplotlib.pyplot as plt

    mats = _square(rdms)
    fig, axes = plt.subplots(1, len(mats), figsize=(3.2 * len(mats), 3), squeeze=False)
    labels = (rdms.pattern_descriptors.get("condition") if isinstance(rdms, RDMs) else None)
    for i, (ax, m) in enumerate(zip(axes[0], mats, strict=True)):
        im = ax.imshow(m, cmap=cmap, interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if titles is not None:
            ax.set_title(titles[i])
        if labels is not None and len(labels) <= 30:
            ax.set_xticks(range(len(labels)), [str(x) for x in labels], rotation=90, fontsize=6)
            ax.set_yticks(range(len(labels)), [str(x) for x in labels], fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


def plot_mds(rdm: RDMs | np.ndarray, labels: list | np.ndarray | None = None,
             path: str | Path | None = None):
    """2-D classical MDS embedding of one RDM, conditions labelled.

    Squared-distance RDMs (euclidean, crossnobis) are square-rooted first (negative crossnobis
    estimates count as 0).
    """
    import matplotlib.pyplot as plt

    D = np.clip(_square(rdm)[0], 0, None)
    measure = rdm.measure if isinstance(rdm, RDMs) else ""
    if any(m in measure for m in ("euclidean", "mahalanobis", "crossnobis")):
        D = np.sqrt(D)
    coords = classical_mds(D, 2)
    if labels is None and isinstance(rdm, RDMs):
        labels = rdm.pattern_descriptors.get("condition")
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(coords[:, 0], coords[:, 1], c=np.arange(len(coords)), cmap="twilight")
    if labels is not None:
        for (x, y), label in zip(coords, labels, strict=True):
            ax.annotate(str(label), (x, y), fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("MDS")
    return _save(fig, path)


def plot_model_comparison(evaluation: Evaluation, path: str | Path | None = None,
                          level: float = 0.95):
    """Bars of model scores with bootstrap confidence intervals, the noise ceiling as a band,
    and the pairwise tests that survive correction as lines above the bars."""
    import matplotlib.pyplot as plt

    n = len(evaluation.models)
    fig, ax = plt.subplots(figsize=(1.2 * n + 2, 3.5))
    low, high = evaluation.ci(level)
    err = np.abs(np.stack([evaluation.point - low, high - evaluation.point]))
    ax.bar(range(n), evaluation.point, yerr=err, capsize=4, color="#4c72b0")
    lo, up = evaluation.noise_ceiling
    if np.isfinite(lo):
        ax.axhspan(lo, up, color="0.8", alpha=0.6, zorder=0, label="noise ceiling")
        ax.legend(loc="lower right", fontsize=8)
    tests = evaluation.pairwise_tests()
    top = np.nanmax(high) if np.isfinite(high).any() else 1.0
    step = 0.05 * max(abs(top), 1e-3)
    for k, row in enumerate(tests[tests["significant"]].itertuples()):
        a, b = evaluation.models.index(row.model_a), evaluation.models.index(row.model_b)
        y = top + step * (k + 1)
        ax.plot([a, b], [y, y], color="k", lw=0.8)
    ax.set_xticks(range(n), evaluation.models, rotation=30, ha="right")
    ax.set_ylabel(f"RDM similarity ({evaluation.method})")
    ax.set_title(f"models (bootstrap over {evaluation.over}, {int(level * 100)}% CI)")
    fig.tight_layout()
    return _save(fig, path)
