"""SEEG during movies: where do vision and language meet? (Subramaniam et al. 2024)

Subramaniam, Conwell, Wang, Kreiman, Katz, Cases & Barbu (2024, ICML), "Revealing
vision-language integration in the brain with multimodal networks", recorded SEEG from the
Brain Treebank subjects (Wang et al. 2024) watching films. Per electrode and time bin after an
event, ridge regressions from DNN features predict the response (contiguous 5-fold CV; each
held-out fold split into validation and test halves; α from 1e-1 … 1e5). A site is
*multimodal* when a vision-language model's features predict it better than unimodal vision,
unimodal language **and** their concatenation, each comparison tested with 1000 event
bootstraps shared across models and Benjamini-Hochberg FDR within the comparison; they report
141 of 1090 sites (12.9%). Events come in two alignments (language-aligned: word onsets;
vision-aligned: scene cuts) and a site may be required to pass in both (a conjunction).

This module is the pipeline; the statistics live in :mod:`neurodecode.encoding.compare` and the
ridge in :mod:`neurodecode.encoding.models`:

- :func:`movie_epochs` cuts a Brain Treebank session around movie-time events (through the
  trigger table, pauses included) and :func:`scene_cuts` finds vision-aligned events;
- :func:`bin_responses` turns epochs into targets, one per electrode × time bin;
- :func:`feature_streams` runs any feature callables (real models by hub id through
  :mod:`neurodecode.features`, tiny ones in tests) on the events and checks their shapes;
- :func:`multimodal_sites` runs the test and returns a :class:`SiteResult` with a per-target
  table, a per-electrode :meth:`SiteResult.sites` table and a brain map
  (:func:`plot_site_map`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.encoding.compare import Comparison, compare_models, conjunction
from neurodecode.encoding.models import ALPHAS, EncodingResult, fit_encoding

#: Default time bins after event onset (s): four 125-ms bins over the first half second.
BINS = ((0.0, 0.125), (0.125, 0.25), (0.25, 0.375), (0.375, 0.5))
#: The four models of the multimodal-site test, by role.
ROLES = ("vision", "language", "concat", "multimodal")


# ----------------------------------------------------------------------------- events
def movie_epochs(directory: str | os.PathLike, subject, session, events: pd.DataFrame, *,
                 onset_column: str = "start", tmin: float = -0.125, tmax: float = 0.5,
                 **kwargs) -> TrialData:
    """Epochs of a Brain Treebank session around movie-time ``events`` (word onsets for
    language-aligned, :func:`scene_cuts` for vision-aligned analyses).

    A thin front to :func:`neurodecode.data.treebank.load_brain_treebank`: movie time maps to
    recording samples through the trigger table, across playback pauses.
    """
    from neurodecode.data.treebank import load_brain_treebank

    return load_brain_treebank(directory, subject, session, events, tmin=tmin, tmax=tmax,
                               onset_column=onset_column, **kwargs)


def scene_cuts(frame_features: np.ndarray, times: np.ndarray, *, quantile: float = 0.9,
               min_interval: float = 0.5) -> pd.DataFrame:
    """Vision-aligned events: times where consecutive frame features change most.

    Parameters
    ----------
    frame_features : array, shape (n_frames, d)
        Features of movie frames (e.g. a vision model's embedding), in time order.
    times : array, shape (n_frames,)
        Movie time of each frame (s).
    quantile : float
        A cut is a frame whose distance to the previous frame is above this quantile.
    min_interval : float
        Cuts closer than this (s) to the previous kept cut are dropped.

    Returns
    -------
    DataFrame with ``start`` (movie time, s) and ``frame`` (index).
    """
    f = np.asarray(frame_features, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if f.ndim != 2 or len(f) != len(times) or len(f) < 2:
        raise DataError(f"scene_cuts: frame features {f.shape} and times {times.shape} must "
                        "be (n_frames, d) and (n_frames,), n_frames >= 2")
    change = np.r_[0.0, np.linalg.norm(np.diff(f, axis=0), axis=1)]
    cand = np.flatnonzero(change > np.quantile(change[1:], quantile))
    kept: list[int] = []
    for i in cand:
        if not kept or times[i] - times[kept[-1]] >= min_interval:
            kept.append(int(i))
    return pd.DataFrame({"start": times[kept], "frame": kept})


def bin_responses(data: TrialData, bins: Sequence[tuple[float, float]] = BINS
                  ) -> tuple[np.ndarray, pd.MultiIndex]:
    """Mean response per electrode and time bin: ``Y (n_events, n_electrodes * n_bins)``.

    Returns ``Y`` and a MultiIndex ``(electrode, bin)`` labelling its columns (electrode-major).
    """
    X = np.asarray(data.X)
    if X.ndim != 3:
        raise DataError(f"subject {data.subject}: binning needs epochs (n_events, n_channels, "
                        f"n_times), got {X.shape}")
    sfreq, tmin = float(data.info["sfreq"]), float(data.info.get("tmin", 0.0))
    times = tmin + np.arange(X.shape[-1]) / sfreq
    cols, labels = [], []
    for lo, hi in bins:
        sel = (times >= lo - 1e-9) & (times < hi - 1e-9)
        if not sel.any():
            raise DataError(f"subject {data.subject}: time bin {lo}-{hi} s holds no sample of "
                            f"the epochs ({times[0]:.3f}..{times[-1]:.3f} s)")
        cols.append(X[..., sel].mean(-1))
        labels.append(f"{lo:g}-{hi:g}s")
    Y = np.stack(cols, -1).reshape(len(X), -1)  # (n, electrodes, bins) → electrode-major
    names = list(data.info.get("ch_names") or range(X.shape[1]))
    index = pd.MultiIndex.from_product([names, labels], names=["electrode", "bin"])
    return Y, index


# ----------------------------------------------------------------------------- features
FeatureSource = Callable[[pd.DataFrame], np.ndarray]


def feature_streams(events: pd.DataFrame, sources: Mapping[str, FeatureSource | np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """Run feature sources on the events: name → ``(n_events, d)`` float array.

    Each source is an array already aligned to the events, or a callable ``f(events) ->
    array`` (e.g. ``lambda ev: ClipText(model=hub_id).encode_texts(ev["word"].tolist())``
    with :class:`neurodecode.features.pretrained.ClipText`). Token or patch outputs
    ``(n_events, n_tokens, d)`` are averaged over tokens.
    """
    out = {}
    for name, source in sources.items():
        values = source(events) if callable(source) else source
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:
            values = values.mean(1)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or len(values) != len(events):
            raise DataError(f"feature stream {name!r}: expected ({len(events)}, d) for "
                            f"{len(events)} events, got {values.shape}")
        if not np.isfinite(values).all():
            raise DataError(f"feature stream {name!r} contains NaN/inf")
        out[name] = values
    return out


def text_stream(model="openai/clip-vit-large-patch14", column: str = "word",
                **kwargs) -> FeatureSource:
    """Language features: each event's text (``events[column]``) through a CLIP text tower.

    ``model`` is a hub id, a local folder or a ``CLIPTextModelWithProjection``
    (:class:`neurodecode.features.pretrained.ClipText`; nothing is downloaded unless
    ``allow_download=True``). Pooled, projected embeddings ``(n_events, projection_dim)``.
    """
    from neurodecode.features.pretrained import ClipText

    extractor = ClipText(model=model, **kwargs)

    def run(events: pd.DataFrame) -> np.ndarray:
        if column not in events:
            raise DataError(f"text_stream: events have no {column!r} column "
                            f"(columns: {list(events.columns)})")
        return extractor.encode_texts(events[column].astype(str).tolist())

    return run


def image_stream(model="openai/clip-vit-large-patch14",
                 frames: Callable[[pd.DataFrame], np.ndarray] | None = None,
                 **kwargs) -> FeatureSource:
    """Vision features: the frame on screen at each event through a CLIP image tower.

    ``frames(events) -> (n_events, H, W, 3)`` images (uint8 or [0, 1]) supplies the frames
    (e.g. decoded from the movie at ``events["start"]``).
    """
    from neurodecode.features.pretrained import ClipImage

    if frames is None:
        raise DataError("image_stream needs frames=callable(events) -> (n_events, H, W, 3)")
    extractor = ClipImage(model=model, **kwargs)
    return lambda events: extractor.encode_images(np.asarray(frames(events)))


# ----------------------------------------------------------------------------- the test
@dataclass
class SiteResult:
    """The multimodal-site test of one subject and alignment.

    Attributes
    ----------
    table : DataFrame
        One row per target (electrode, bin): each model's held-out r averaged over test parts
        (``r[role]``), the q-value and
        significance of each comparison, ``multimodal`` (the conjunction).
    comparison : Comparison
    fits : dict of str to EncodingResult
    """

    table: pd.DataFrame
    comparison: Comparison = field(repr=False)
    fits: dict[str, EncodingResult] = field(repr=False)
    protocol: dict = field(default_factory=dict)

    def sites(self, positions: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
        """One row per electrode: ``multimodal`` if any of its time bins is, the bins that
        are, the best bin's scores, and ``x, y, z`` when positions are given."""
        t = self.table
        rows = []
        for electrode, group in t.groupby(level="electrode", sort=False):
            best = group["r[multimodal]"].idxmax()
            row = {"electrode": electrode, "multimodal": bool(group["multimodal"].any()),
                   "bins": ",".join(b for (_, b), m in group["multimodal"].items() if m),
                   **{c: t.loc[best, c] for c in t.columns if c.startswith("r[")}}
            if positions is not None and electrode in positions:
                row.update(zip("xyz", np.asarray(positions[electrode], float), strict=True))
            rows.append(row)
        return pd.DataFrame(rows).set_index("electrode")


def multimodal_sites(Y: np.ndarray, streams: Mapping[str, np.ndarray], *,
                     targets: pd.Index | None = None, n_folds: int = 5,
                     alphas: Sequence[float] = ALPHAS, n_boot: int = 1000, alpha: float = 0.05,
                     seed: int = 0, require_predictive: bool = True,
                     device: str = "cpu") -> SiteResult:
    """Subramaniam et al.'s test: does the multimodal model beat vision, language and concat?

    Parameters
    ----------
    Y : array, shape (n_events, n_targets)
        Responses per event (e.g. :func:`bin_responses`), events in movie order.
    streams : mapping
        ``"vision"``, ``"language"`` and ``"multimodal"`` feature arrays ``(n_events, d)``
        (the vision-language model's features); ``"concat"`` defaults to
        ``[vision, language]``.
    targets : index, optional
        Labels of ``Y``'s columns (``(electrode, bin)`` from :func:`bin_responses`).
    n_folds, alphas
        Contiguous outer folds and the penalty grid (:func:`fit_encoding`, validation/test
        halves).
    n_boot, alpha, seed
        Event bootstraps shared across models; FDR level within each comparison. p-values
        cannot fall below ``1 / (n_boot + 1)``, and BH needs ``p <= alpha k / m`` for ``k``
        discoveries among ``m`` targets: with few true sites among many targets, too few
        bootstraps find nothing (200 resamples found none of the planted sites among 160
        targets where 1000 found all).
    require_predictive : bool
        Also require the multimodal model to beat chance (r > 0, FDR-corrected).
    """
    missing = {"vision", "language", "multimodal"} - set(streams)
    if missing:
        raise DataError(f"multimodal_sites needs feature streams {sorted(missing)} "
                        f"(got {sorted(streams)})")
    if 1.0 / (n_boot + 1) > alpha:
        raise DataError(f"n_boot={n_boot}: the smallest bootstrap p-value, 1/(n_boot+1), is "
                        f"above the FDR level {alpha}; nothing could be significant. Use "
                        "n_boot >= 1000 (Subramaniam et al.).")
    streams = dict(streams)
    streams.setdefault("concat", np.hstack([streams["vision"], streams["language"]]))
    Y = np.asarray(Y, dtype=np.float64)
    if targets is None:
        targets = pd.MultiIndex.from_product([range(Y.shape[1]), ["all"]],
                                             names=["electrode", "bin"])
    if len(targets) != Y.shape[1]:
        raise DataError(f"{len(targets)} target labels for {Y.shape[1]} response columns")
    fits = {role: fit_encoding(streams[role], Y, n_folds=n_folds, alphas=alphas,
                               device=device) for role in ROLES}
    comparisons = [("multimodal", "vision"), ("multimodal", "language"),
                   ("multimodal", "concat")]
    if require_predictive:
        comparisons.insert(0, ("multimodal", None))
    comp = compare_models(Y, {r: f.predictions for r, f in fits.items()}, comparisons,
                          n_boot=n_boot, alpha=alpha, seed=seed, targets=targets)
    # scores per held-out part (unbiased under the null), not of the pooled out-of-fold
    # predictions the bootstrap compares (their r sits below zero where there is no signal)
    table = pd.DataFrame({f"r[{role}]": fits[role].r for role in ROLES}, index=comp.table.index)
    table = pd.concat([table, comp.table.filter(regex=r"^(q|sig)\[")], axis=1)
    table["multimodal"] = comp.significant
    table.index = targets
    protocol = {"n_folds": n_folds, "alphas": list(map(float, alphas)), "n_boot": n_boot,
                "fdr": alpha, "metric": "r", "comparisons": [f"{a}>{b}" for a, b in comparisons],
                "selection": "alpha on one half of each held-out fold, scored on the other"}
    return SiteResult(table=table, comparison=comp, fits=fits, protocol=protocol)


def across_alignments(*results: SiteResult) -> pd.DataFrame:
    """Electrodes multimodal in every alignment (e.g. language- and vision-aligned events)."""
    tables = [r.sites()["multimodal"] for r in results]
    common = tables[0].index
    for t in tables[1:]:
        common = common.intersection(t.index)
    return pd.DataFrame({"multimodal": conjunction(*[t.loc[common].to_numpy() for t in tables])},
                        index=common)


def plot_site_map(sites: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Electrodes in two projections (x-y, y-z), multimodal sites highlighted; PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from neurodecode._files import atomic_path

    if not {"x", "y", "z"} <= set(sites.columns):
        raise DataError("plot_site_map needs electrode positions: call "
                        "SiteResult.sites(positions)")
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    mm = sites["multimodal"].to_numpy(bool)
    for ax, (a, b) in zip(axes, (("x", "y"), ("y", "z")), strict=True):
        ax.scatter(sites[a][~mm] * 1e3, sites[b][~mm] * 1e3, c="0.7", s=12, label="other")
        ax.scatter(sites[a][mm] * 1e3, sites[b][mm] * 1e3, c="crimson", s=24,
                   label="multimodal")
        ax.set_xlabel(f"{a} (mm)")
        ax.set_ylabel(f"{b} (mm)")
        ax.set_aspect("equal")
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(title or f"{mm.sum()} of {len(mm)} sites multimodal")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
