"""The reconstruction evaluation suite: every metric with a bootstrap interval and its protocol.

Each metric is the mean of per-image scores; its confidence interval is a seeded percentile
bootstrap over test images (:func:`~neurodecode.metrics.bootstrap.bootstrap_ci`). For two-way
identification the per-image scores are computed once against all N images and the
reconstructions are resampled; for retrieval an image's hits are pooled over the subsets it
fell in. Every row carries the protocol (resizes, interpolation, number of images, feature
network and layer, retrieval set size), so a number is never separated from how it was made.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from neurodecode._files import atomic_path, write_json
from neurodecode.data.errors import DataError
from neurodecode.metrics.bootstrap import bootstrap_ci
from neurodecode.metrics.features import (
    FeatureNetwork,
    check_network,
    extract_features,
    scores_from_features,
)
from neurodecode.metrics.identification import retrieval_hits, two_way_identification
from neurodecode.metrics.images import (
    GREY_WEIGHTS,
    INTERPOLATION,
    PIXEL_SIZE,
    SSIM_SIGMA,
    check_sets,
    pixel_scores,
)


@dataclass(frozen=True)
class MetricResult:
    """One reported number with its interval and protocol.

    Attributes
    ----------
    metric : str
    value : float
        Mean over images (or over retrieval trials).
    ci_low, ci_high : float
        Percentile bootstrap interval (NaN when ``n_boot=0``).
    n_images : int
    higher_is_better : bool
    chance : float or None
        Expected value at chance, where defined.
    protocol : dict
        Scalar entries describing how the number was computed.
    """

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_images: int
    higher_is_better: bool
    chance: float | None = None
    protocol: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """Flat dict: the fields, then the protocol entries (for metrics.json / metrics.csv)."""
        row = {k: getattr(self, k) for k in ("metric", "value", "ci_low", "ci_high", "n_images")}
        row.update(higher_is_better=self.higher_is_better, chance=self.chance)
        return row | self.protocol


def summarise(
    metric: str,
    scores: np.ndarray,
    *,
    counts: np.ndarray | None = None,
    higher_is_better: bool = True,
    chance: float | None = None,
    protocol: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> MetricResult:
    """Mean of per-image scores (or ``sum(scores) / sum(counts)``) with a bootstrap interval."""
    scores = np.asarray(scores, dtype=np.float64)
    total = len(scores) if counts is None else float(np.sum(counts))
    low, high = bootstrap_ci(scores, counts, n_boot=n_boot, level=level, seed=seed)
    boot = {
        "n_boot": n_boot,
        "ci_level": level,
        "bootstrap": "percentile over images",
        "seed": seed,
    }
    return MetricResult(
        metric,
        float(scores.sum() / total),
        low,
        high,
        len(scores),
        higher_is_better,
        chance,
        dict(protocol or {}) | boot,
    )


def evaluate_embeddings(
    true: np.ndarray,
    pred: np.ndarray,
    *,
    space: str,
    k: Sequence[int] = (1, 5),
    set_size: int | None = 300,
    n_subsets: int = 30,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[MetricResult]:
    """Two-way identification and forward/backward top-k retrieval in an embedding space.

    Parameters
    ----------
    true, pred : array, shape (n, ...)
        True and predicted (decoded) embeddings, item ``i`` of each belonging together.
    space : str
        Name of the space (e.g. ``"clip-vit-l14-image"``), used in the metric names.
    k, set_size, n_subsets
        Retrieval protocol (:func:`~neurodecode.metrics.identification.retrieval_topk`);
        ``set_size`` larger than ``n`` is reduced to ``n`` and the reduced size is recorded.
    n_boot, level, seed
        Bootstrap and subset-draw settings.

    Returns
    -------
    list of MetricResult
    """
    n = len(true)
    m = n if set_size is None else min(int(set_size), n)
    common = {"space": space, "dim": int(np.asarray(true[0]).size)}
    boot = {"n_boot": n_boot, "level": level, "seed": seed}
    results = [
        summarise(
            f"two-way identification [{space}]",
            two_way_identification(true, pred, per_item=True),
            chance=0.5,
            protocol=common | {"similarity": "pearson"},
            **boot,
        )
    ]
    k = [kk for kk in k if kk < m]  # top-k of a set of <= k items is always a hit
    if not k:
        return results
    subsets, hits = retrieval_hits(pred, true, k=k, set_size=m, n_subsets=n_subsets, seed=seed)
    counts = np.bincount(subsets.ravel(), minlength=n)
    for (direction, kk), h in hits.items():
        per_image = np.bincount(subsets.ravel(), weights=h.ravel(), minlength=n)
        proto = common | {
            "similarity": "cosine",
            "direction": direction,
            "retrieval_set_size": m,
            "n_subsets": n_subsets,
        }
        results.append(
            summarise(
                f"top-{kk} retrieval {direction} [{space}]",
                per_image,
                counts=counts,
                chance=kk / m,
                protocol=proto,
                **boot,
            )
        )
    return results


def evaluate_reconstructions(
    gt: np.ndarray,
    rec: np.ndarray,
    *,
    networks: Sequence[FeatureNetwork] = (),
    embeddings: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    pixel_metrics: bool = True,
    pre_resize: int | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    retrieval_set_size: int | None = 300,
    n_subsets: int = 30,
    batch_size: int = 32,
    quiet: bool = False,
) -> pd.DataFrame:
    """Score reconstructions against ground truth with the standard suite.

    Parameters
    ----------
    gt, rec : array, shape (n, H, W, 3)
        Ground-truth and reconstructed images, uint8 or float in [0, 1] (sizes may differ).
    networks : sequence of FeatureNetwork
        Feature-network metrics to add (e.g. :func:`~neurodecode.metrics.features.
        standard_networks`, or the synthetic world's own feature spaces).
    embeddings : mapping, optional
        ``{space: (true, pred)}`` embedding pairs scored with two-way identification and
        retrieval (:func:`evaluate_embeddings`).
    pixel_metrics : bool
        Include PixCorr and SSIM (425 px, see :mod:`neurodecode.metrics.images`).
    pre_resize : int or None
        Resize both image sets to ``pre_resize × pre_resize`` before every metric (MindEye2
        uses 256); None skips this step. Recorded in every row.
    n_boot, level, seed
        Bootstrap resamples, interval coverage and seed.
    retrieval_set_size, n_subsets
        Retrieval protocol for ``embeddings``.
    batch_size : int
        Images per forward pass of the feature networks.
    quiet : bool
        Hide the progress bar.

    Returns
    -------
    DataFrame
        One row per metric: ``metric, value, ci_low, ci_high, n_images, higher_is_better,
        chance`` and protocol columns; write it with :func:`save_metrics`. Several sets of
        reconstructions of the same images are scored faster together with
        :func:`evaluate_reconstruction_sets`.
    """
    return evaluate_reconstruction_sets(
        gt,
        {0: rec},
        networks=networks,
        embeddings=None if embeddings is None else {0: embeddings},
        pixel_metrics=pixel_metrics,
        pre_resize=pre_resize,
        n_boot=n_boot,
        level=level,
        seed=seed,
        retrieval_set_size=retrieval_set_size,
        n_subsets=n_subsets,
        batch_size=batch_size,
        quiet=quiet,
    )[0]


def evaluate_reconstruction_sets(
    gt: np.ndarray,
    sets: Mapping[Hashable, np.ndarray],
    *,
    networks: Sequence[FeatureNetwork] | Mapping[Hashable, Sequence[FeatureNetwork]] = (),
    embeddings: Mapping[Hashable, Mapping[str, tuple[np.ndarray, np.ndarray]]] | None = None,
    pixel_metrics: bool = True,
    pre_resize: int | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    retrieval_set_size: int | None = 300,
    n_subsets: int = 30,
    batch_size: int = 32,
    quiet: bool = False,
) -> dict[Hashable, pd.DataFrame]:
    """Score several sets of reconstructions of the same ground truth with the standard suite.

    Each set's frame equals :func:`evaluate_reconstructions` of that set alone, but everything
    that depends only on the ground truth is computed once: each ground-truth batch is resized
    once for PixCorr and SSIM together, with its SSIM statistics (:func:`~neurodecode.metrics.
    images.pixel_scores`), and each feature network sees the ground truth once.

    Parameters
    ----------
    gt : array, shape (n, H, W, 3)
        Ground-truth images, uint8 or float in [0, 1].
    sets : mapping
        ``{label: reconstructions}``, each an array of shape (n, H', W', 3).
    networks : sequence of FeatureNetwork, or mapping
        Networks scoring every set, or ``{label: networks}`` per set (sets not named get none).
    embeddings : mapping, optional
        ``{label: {space: (true, pred)}}``: embedding pairs scored beside a set
        (:func:`evaluate_embeddings`).
    pixel_metrics, pre_resize, n_boot, level, seed, retrieval_set_size, n_subsets, batch_size,
    quiet
        As in :func:`evaluate_reconstructions`.

    Returns
    -------
    dict
        ``{label: DataFrame}`` in the order of ``sets``, each with the rows
        :func:`evaluate_reconstructions` gives for that set.
    """
    labels = list(sets)
    if not labels:
        raise DataError("no reconstruction sets to score: pass {label: images}")
    names = ["reconstructions"] if len(labels) == 1 else [f"reconstructions {k!r}" for k in labels]
    gt, recs = check_sets(gt, [sets[k] for k in labels], names)
    embeddings = dict(embeddings or {})
    per_set = networks if isinstance(networks, Mapping) else dict.fromkeys(labels, networks)
    for option, keys in (("networks", per_set), ("embeddings", embeddings)):
        unknown = [k for k in keys if k not in sets]
        if unknown:
            raise DataError(f"{option} name sets {unknown} that are not among {labels}")
    nets = {k: list(per_set.get(k, ())) for k in labels}
    for net in {id(n): n for k in labels for n in nets[k]}.values():
        check_network(net)
    base = {
        "pre_resize": pre_resize if pre_resize is not None else "none",
        "interpolation": INTERPOLATION,
    }
    boot = {"n_boot": n_boot, "level": level, "seed": seed}
    pixel_rows: dict[Hashable, list[MetricResult]] = {k: [] for k in labels}
    network_rows: dict[tuple[Hashable, int], MetricResult] = {}
    embedding_rows: dict[Hashable, list[MetricResult]] = {k: [] for k in labels}

    def pixels() -> None:
        proto = base | {"resize": PIXEL_SIZE}
        pixcorr = proto | {"features": "RGB pixels, flattened", "score": "mean pearson r"}
        ssim = proto | {
            "features": f"grey {GREY_WEIGHTS}",
            "score": f"gaussian SSIM sigma={SSIM_SIGMA}, population covariance, data range 1",
        }
        for k, scores in zip(labels, pixel_scores(gt, recs, pre_resize=pre_resize), strict=True):
            pixel_rows[k] += [
                summarise("PixCorr", scores["pixcorr"], protocol=pixcorr, **boot),
                summarise("SSIM", scores["ssim"], protocol=ssim, **boot),
            ]

    def network(net: FeatureNetwork) -> None:
        kw = {"pre_resize": pre_resize, "batch_size": batch_size}
        true = extract_features(gt, net, **kw)  # once for every set
        two_way = net.score == "two_way"
        for k, rec in zip(labels, recs, strict=True):
            places = [i for i, n in enumerate(nets[k]) if n is net]
            if not places:
                continue
            row = summarise(
                net.name,
                scores_from_features(true, extract_features(rec, net, **kw), net),
                higher_is_better=two_way,
                chance=0.5 if two_way else None,
                protocol=base | net.protocol(),
                **boot,
            )
            network_rows.update(dict.fromkeys([(k, i) for i in places], row))

    def embedding(k: Hashable, space: str, true: np.ndarray, pred: np.ndarray) -> None:
        if len(true) != len(gt) or len(pred) != len(gt):
            raise DataError(
                f"embeddings {space!r}: expected {len(gt)} true and predicted items (one per "
                f"image), found {len(true)} and {len(pred)}"
            )
        embedding_rows[k] += evaluate_embeddings(
            true, pred, space=space, set_size=retrieval_set_size, n_subsets=n_subsets, **boot
        )

    tasks = [pixels] if pixel_metrics else []
    unique = {id(n): n for k in labels for n in nets[k]}.values()
    tasks += [lambda net=net: network(net) for net in unique]
    tasks += [
        lambda k=k, space=space, pair=pair: embedding(k, space, *pair)
        for k in labels
        for space, pair in embeddings.get(k, {}).items()
    ]
    for task in tqdm(tasks, desc="metrics", disable=quiet):
        task()
    frames = {}
    for k in labels:
        rows = pixel_rows[k] + [network_rows[(k, i)] for i in range(len(nets[k]))]
        frames[k] = pd.DataFrame([r.to_row() for r in rows + embedding_rows[k]])
    return frames


def save_metrics(
    results: pd.DataFrame | Sequence[MetricResult], out_dir: str | os.PathLike,
    extra: dict | None = None,
) -> list[Path]:
    """Write ``metrics.json`` (list of rows, plus the keys of ``extra``) and ``metrics.csv``
    atomically into ``out_dir``."""
    frame = (
        results
        if isinstance(results, pd.DataFrame)
        else pd.DataFrame([r.to_row() for r in results])
    )
    out = Path(out_dir)
    rows = json.loads(frame.to_json(orient="records"))
    json_path = write_json(out / "metrics.json", {"metrics": rows, **(extra or {})})
    csv_path = out / "metrics.csv"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    return [json_path, csv_path]
