"""Functional connectivity: ROI time series → connectivity matrices → edge vectors and back.

Edge vectors hold the strict upper triangle of a symmetric ``(n_rois, n_rois)`` matrix in
row-major order (``numpy.triu_indices(n_rois, k=1)``), the layout used by ABIDE-PCP derived
datasets and by DemoVAE: 264 ROIs give 34,716 edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurodecode.errors import DataError

KINDS = ("correlation", "partial correlation", "covariance", "precision", "tangent")


def n_rois_from_edges(n_edges: int) -> int:
    """Number of ROIs whose strict upper triangle has ``n_edges`` entries."""
    n = int(round((1 + np.sqrt(1 + 8 * n_edges)) / 2))
    if n * (n - 1) // 2 != n_edges:
        raise DataError(
            f"{n_edges} edges is not the upper triangle of any square matrix "
            f"(expected n*(n-1)/2, e.g. {n * (n - 1) // 2} for {n} ROIs)"
        )
    return n


def upper_triangle(matrices: np.ndarray) -> np.ndarray:
    """Strict upper triangles of symmetric matrices.

    Parameters
    ----------
    matrices : array, shape (..., n_rois, n_rois)

    Returns
    -------
    edges : array, shape (..., n_rois * (n_rois - 1) / 2)
    """
    matrices = np.asarray(matrices)
    if matrices.ndim < 2 or matrices.shape[-1] != matrices.shape[-2]:
        raise DataError(f"expected square matrices (..., n, n), got shape {matrices.shape}")
    rows, cols = np.triu_indices(matrices.shape[-1], k=1)
    return matrices[..., rows, cols]


def from_upper_triangle(edges: np.ndarray, diagonal: float = 1.0) -> np.ndarray:
    """Symmetric matrices from strict upper triangles (inverse of :func:`upper_triangle`).

    Parameters
    ----------
    edges : array, shape (..., n_edges)
    diagonal : float
        Value put on the diagonal (1 for correlation matrices).

    Returns
    -------
    matrices : array, shape (..., n_rois, n_rois)
    """
    edges = np.asarray(edges)
    n = n_rois_from_edges(edges.shape[-1])
    out = np.zeros(edges.shape[:-1] + (n, n), dtype=np.result_type(edges.dtype, np.float32))
    rows, cols = np.triu_indices(n, k=1)
    out[..., rows, cols] = edges
    out[..., cols, rows] = edges
    idx = np.arange(n)
    out[..., idx, idx] = diagonal
    return out


def zero_variance_rois(timeseries: np.ndarray) -> np.ndarray:
    """Boolean mask of ROIs whose time series is constant, shape (n_rois,)."""
    return np.ptp(np.asarray(timeseries), axis=0) == 0


def connectivity_matrices(
    timeseries: Sequence[np.ndarray],
    kind: str = "correlation",
    shrinkage: bool = False,
    zero_variance: str = "raise",
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Connectivity matrices of several participants with nilearn's ``ConnectivityMeasure``.

    Parameters
    ----------
    timeseries : sequence of arrays, each shape (n_times, n_rois)
        One array per participant (BOLD signal per ROI, any unit); ``n_times`` may differ.
    kind : str
        One of :data:`KINDS` (nilearn's estimators).
    shrinkage : bool
        False: empirical covariance (Pearson correlation, as ABIDE-PCP and DemoVAE use);
        True: Ledoit-Wolf shrinkage (nilearn's default).
    zero_variance : {"raise", "zero"}
        What to do with ROIs whose signal is constant (outside the field of view, empty
        parcel): raise a :class:`DataError`, or give them zero connectivity to every other ROI
        (and 1 on the diagonal for correlations). Not available for ``kind="tangent"``, which
        needs the same ROIs in every participant.
    names : sequence of str, optional
        Participant names used in error messages.

    Returns
    -------
    matrices : array, shape (n_participants, n_rois, n_rois)
    """
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.covariance import EmpiricalCovariance, LedoitWolf

    if kind not in KINDS:
        raise DataError(f"unknown connectivity kind {kind!r}; expected one of {KINDS}")
    if zero_variance not in ("raise", "zero"):
        raise DataError(f"zero_variance must be 'raise' or 'zero', got {zero_variance!r}")
    if len(timeseries) == 0:
        raise DataError("no time series given")
    names = [str(i) for i in range(len(timeseries))] if names is None else list(names)
    series = [np.asarray(ts, dtype=np.float64) for ts in timeseries]
    n_rois = series[0].shape[1] if series[0].ndim == 2 else -1
    constant = []
    for name, ts in zip(names, series, strict=True):
        if ts.ndim != 2 or ts.shape[1] != n_rois:
            raise DataError(
                f"participant {name}: expected time series of shape (n_times, {n_rois}), "
                f"got {ts.shape}; all participants must use the same atlas"
            )
        if ts.shape[0] < 3:
            raise DataError(f"participant {name}: {ts.shape[0]} time points, need at least 3")
        if not np.isfinite(ts).all():
            raise DataError(f"participant {name}: time series contain NaN or infinite values")
        bad = zero_variance_rois(ts)
        if bad.any() and (zero_variance == "raise" or kind == "tangent"):
            raise DataError(
                f"participant {name}: ROIs {np.flatnonzero(bad).tolist()} have zero variance; "
                "drop them (--zero-variance drop), or give them zero connectivity "
                "(--zero-variance zero; zero_variance='zero' in Python; not with 'tangent')"
            )
        constant.append(bad)

    def measure() -> ConnectivityMeasure:
        estimator = LedoitWolf(store_precision=False) if shrinkage else EmpiricalCovariance()
        return ConnectivityMeasure(cov_estimator=estimator, kind=kind, standardize=False)

    if not any(bad.any() for bad in constant):
        return np.asarray(measure().fit_transform(series))
    out = np.zeros((len(series), n_rois, n_rois))
    diagonal = 1.0 if kind in ("correlation", "partial correlation") else 0.0
    for i, (ts, bad) in enumerate(zip(series, constant, strict=True)):
        keep = np.flatnonzero(~bad)
        out[i][np.ix_(keep, keep)] = measure().fit_transform([ts[:, keep]])[0]
        out[i, bad, bad] = diagonal
    return out


def edge_layout(info: dict | None, zero_variance: str) -> dict | None:
    """What a model must remember about its edges: the atlas, the ROIs they come from (in
    order), the ROIs dropped as zero-variance and the ``zero_variance`` choice; None when
    ``info`` (a loaded ``TrialData.info``) lists no ROI names."""
    info = info or {}
    if not info.get("roi_names"):
        return None
    return dict(atlas=info.get("atlas"), roi_names=[str(r) for r in info["roi_names"]],
                dropped_rois=[str(r) for r in info.get("dropped_rois") or []],
                zero_variance=zero_variance)


def check_edge_layout(fitted: dict | None, info: dict | None, zero_variance: str,
                      source: str = "these data", model: str = "the model") -> None:
    """Raise a :class:`DataError` unless new data have the ROIs, in the same order, that a
    model was fitted on (:func:`edge_layout`).

    Needed because ``zero_variance="drop"`` drops the ROIs constant in *some* participant of
    each folder: new participants can lose other ROIs (or none), and when as many edges
    remain the edges would be silently misaligned (edge ``k`` no longer joins the same two
    ROIs). Checks nothing when either side lists no ROI names (models saved before the
    layout was stored, or edge arrays).
    """
    current = edge_layout(info, zero_variance)
    if not fitted or current is None:
        return
    if current["roi_names"] == fitted["roi_names"]:
        return
    trained, new = fitted["roi_names"], current["roi_names"]
    absent = [r for r in trained if r not in new]
    extra = [r for r in new if r not in trained]
    parts = ([f"lack ROIs {absent[:10]}"] if absent else []) + \
        ([f"have ROIs {extra[:10]} the model lacks"] if extra else [])
    what = "; ".join(parts) or "list the same ROIs in a different order"
    hint = (f"{model} was fitted with --zero-variance {fitted['zero_variance']}, which dropped "
            f"{fitted['dropped_rois'] or 'no ROIs'}")
    if current["zero_variance"] == "drop":
        hint += (f"; with --zero-variance drop these data dropped {current['dropped_rois']} "
                 "(each folder drops the ROIs constant in any of its participants)")
    hint += ("; refit on ROIs present in every participant, or give the new data the same "
             "ROIs")
    raise DataError(f"{source} {what} (atlas {current['atlas']!r}): the edges would not line "
                    f"up with the {len(trained)} ROIs {model} was fitted on; {hint}")
