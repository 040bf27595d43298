"""Representational dissimilarity matrices (RDMs) from trials.

Conventions follow rsatoolbox (Schütt et al. 2023) so numbers are comparable across tools:
squared Euclidean and Mahalanobis distances are divided by the number of channels, correlation
distance is ``1 - r``, and crossnobis (Walther et al. 2016, *NeuroImage* 137:188) is the
cross-validated squared Mahalanobis distance, the inner product of pattern differences from
*different* partitions (runs), so that noise averages out: its expectation on pure noise is 0.

RDMs are stored as vectors of the upper triangle (row-major, ``scipy.spatial.distance.
squareform`` order), ``(n_rdm, n_pairs)`` with ``n_pairs = n_cond * (n_cond - 1) / 2``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import squareform

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError

METHODS = ("euclidean", "correlation", "mahalanobis", "crossnobis")


@dataclass
class RDMs:
    """A stack of RDMs over the same conditions.

    Parameters
    ----------
    dissimilarities : array, shape (n_rdm, n_pairs) or (n_pairs,)
        Upper-triangle vectors (``squareform`` order). NaN marks a missing pair.
    measure : str
        Name of the dissimilarity (e.g. ``"crossnobis"``).
    pattern_descriptors : dict of str to array (n_cond,)
        Per-condition labels; ``"condition"`` holds the condition ids.
    rdm_descriptors : dict of str to array (n_rdm,)
        Per-RDM labels (subject, region, searchlight centre...).
    """

    dissimilarities: np.ndarray
    measure: str = "unknown"
    pattern_descriptors: dict[str, np.ndarray] = field(default_factory=dict)
    rdm_descriptors: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = np.asarray(self.dissimilarities, dtype=float)
        if d.ndim == 1:
            d = d[None]
        if d.ndim != 2:
            raise DataError(f"RDM vectors must be (n_rdm, n_pairs), got shape {d.shape}")
        self.dissimilarities = d
        n_cond = n_conditions(d.shape[1])
        self.pattern_descriptors = {
            k: _check_desc(k, v, n_cond, "conditions") for k, v in self.pattern_descriptors.items()
        }
        self.rdm_descriptors = {
            k: _check_desc(k, v, self.n_rdm, "RDMs") for k, v in self.rdm_descriptors.items()
        }

    @property
    def n_rdm(self) -> int:
        return int(self.dissimilarities.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.dissimilarities.shape[1])

    @property
    def n_cond(self) -> int:
        return n_conditions(self.n_pairs)

    def __len__(self) -> int:
        return self.n_rdm

    def __repr__(self) -> str:
        return f"RDMs(n_rdm={self.n_rdm}, n_cond={self.n_cond}, measure={self.measure!r})"

    def matrices(self) -> np.ndarray:
        """Square matrices, shape (n_rdm, n_cond, n_cond), zero diagonal."""
        out = np.zeros((self.n_rdm, self.n_cond, self.n_cond))
        iu = np.triu_indices(self.n_cond, 1)
        out[:, iu[0], iu[1]] = self.dissimilarities
        return out + out.transpose(0, 2, 1)

    @classmethod
    def from_matrices(cls, matrices: np.ndarray, **kwargs: Any) -> RDMs:
        """Build from square matrices, shape (n_rdm, n_cond, n_cond) or (n_cond, n_cond)."""
        m = np.asarray(matrices, dtype=float)
        m = m[None] if m.ndim == 2 else m
        if m.ndim != 3 or m.shape[1] != m.shape[2]:
            raise DataError(f"RDM matrices must be square (n_rdm, n, n), got shape {m.shape}")
        iu = np.triu_indices(m.shape[1], 1)
        return cls(m[:, iu[0], iu[1]], **kwargs)

    def __getitem__(self, index: Any) -> RDMs:
        """The RDMs at ``index`` (an int, slice, positions or boolean mask)."""
        idx = np.arange(self.n_rdm)[index]
        idx = np.atleast_1d(idx)
        return replace(
            self,
            dissimilarities=self.dissimilarities[idx],
            rdm_descriptors={k: v[idx] for k, v in self.rdm_descriptors.items()},
            pattern_descriptors=dict(self.pattern_descriptors),
        )

    def subset_patterns(self, index: np.ndarray) -> RDMs:
        """RDMs over conditions ``index`` (positions; repeats allowed, as in a bootstrap).

        Pairs of a condition with a copy of itself have no measured dissimilarity and are NaN.
        """
        index = np.asarray(index, dtype=int)
        iu = np.triu_indices(len(index), 1)
        rows, cols = index[iu[0]], index[iu[1]]
        lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
        same = lo == hi
        pos = pair_index(lo[~same], hi[~same], self.n_cond)
        d = np.full((self.n_rdm, len(rows)), np.nan)
        d[:, ~same] = self.dissimilarities[:, pos]
        return replace(
            self,
            dissimilarities=d,
            pattern_descriptors={k: v[index] for k, v in self.pattern_descriptors.items()},
            rdm_descriptors=dict(self.rdm_descriptors),
        )

    def mean(self) -> RDMs:
        """The mean RDM (NaN-aware), one RDM."""
        return replace(
            self,
            dissimilarities=nanmean(self.dissimilarities)[None],
            rdm_descriptors={},
            pattern_descriptors=dict(self.pattern_descriptors),
        )

    def to_frame(self, index: int = 0) -> pd.DataFrame:
        """RDM ``index`` as a square DataFrame labelled by condition (for TSV files)."""
        labels = self.pattern_descriptors.get("condition", np.arange(self.n_cond))
        return pd.DataFrame(self.matrices()[index], index=labels, columns=labels)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, measure: str = "unknown") -> RDMs:
        """One RDM from a square DataFrame (rows and columns labelled by condition)."""
        if frame.shape[0] != frame.shape[1]:
            raise DataError(f"an RDM table must be square, got {frame.shape[0]} rows and "
                            f"{frame.shape[1]} columns")
        m = frame.to_numpy(dtype=float)
        if not np.allclose(m, m.T, equal_nan=True):
            raise DataError("an RDM table must be symmetric")
        return cls.from_matrices(m, measure=measure,
                                 pattern_descriptors={"condition": frame.index.to_numpy()})

    def with_values(self, dissimilarities: np.ndarray, measure: str) -> RDMs:
        """The same descriptors holding new dissimilarities (e.g. after a transform)."""
        return replace(
            self,
            dissimilarities=dissimilarities,
            measure=measure,
            pattern_descriptors=dict(self.pattern_descriptors),
            rdm_descriptors=dict(self.rdm_descriptors),
        )


def n_conditions(n_pairs: int) -> int:
    """Number of conditions ``n`` with ``n (n - 1) / 2 == n_pairs``."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise DataError(f"{n_pairs} is not a number of condition pairs n (n - 1) / 2")
    return n


def pair_index(i: np.ndarray, j: np.ndarray, n_cond: int) -> np.ndarray:
    """Position of pairs ``(i, j)`` with ``i < j`` in the upper-triangle vector."""
    i = np.asarray(i)
    j = np.asarray(j)
    return i * n_cond - i * (i + 1) // 2 + (j - i - 1)


def nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean ignoring NaN; all-NaN slices give NaN without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def classical_mds(D: np.ndarray, n_components: int | None = None) -> np.ndarray:
    """Points whose Euclidean distances best match ``D`` (Torgerson's classical MDS).

    Parameters
    ----------
    D : array, shape (n, n)
        Distances (not squared). Exact when ``D`` is Euclidean; otherwise the negative part of
        the spectrum is dropped.
    n_components : int, optional
        Dimensions kept (largest eigenvalues first); default n - 1.

    Returns
    -------
    array, shape (n, n_components)
    """
    n = len(D)
    H = np.eye(n) - 1.0 / n
    values, vectors = np.linalg.eigh(-0.5 * H @ (np.asarray(D, dtype=float) ** 2) @ H)
    order = np.argsort(values)[::-1][: (n - 1 if n_components is None else n_components)]
    return vectors[:, order] * np.sqrt(np.clip(values[order], 0.0, None))


def as_vectors(rdms: RDMs | np.ndarray) -> np.ndarray:
    """RDM vectors, shape (n_rdm, n_pairs), from :class:`RDMs` or an array (1-D, 2-D)."""
    if isinstance(rdms, RDMs):
        return rdms.dissimilarities
    d = np.asarray(rdms, dtype=float)
    return d[None] if d.ndim == 1 else d


def _check_desc(name: str, value: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape[:1] != (n,):
        raise DataError(f"descriptor {name!r} has {arr.shape[:1]} entries for {n} {what}")
    return arr


# ----------------------------------------------------------------------------- computing RDMs
def calc_rdm(
    data: TrialData | np.ndarray,
    method: str = "euclidean",
    conditions: str | np.ndarray | None = None,
    runs: str | np.ndarray | None = None,
    noise: np.ndarray | None = None,
    remove_mean: bool = False,
) -> RDMs:
    """The RDM of one subject's trials.

    Parameters
    ----------
    data : TrialData or array, shape (n_trials, n_channels)
        Trial patterns (sensor epochs are flattened over channels x times).
    method : {"euclidean", "correlation", "mahalanobis", "crossnobis"}
        ``euclidean``: squared distance / n_channels; ``correlation``: 1 - Pearson r;
        ``mahalanobis``: (m_i - m_j) P (m_i - m_j)' / n_channels; ``crossnobis``: the same
        with differences from different runs (unbiased).
    conditions : str, array (n_trials,) or None
        Condition of each trial; a string names a metadata column. None: the stimulus ids, else
        metadata ``"condition"``, else every trial its own condition. Conditions are sorted.
    runs : str, array (n_trials,) or None
        Cross-validation partitions for crossnobis (a metadata column name or labels). None:
        metadata ``"run"`` if present, else the repetition number of each trial within its
        condition. Designs may be unbalanced; a pair is averaged over the run pairs in which
        both conditions were measured.
    noise : array (n_channels, n_channels) or (n_channels,), optional
        Noise precision (see :func:`noise_precision`); a 1-D array is a diagonal precision.
        Identity if omitted (then mahalanobis equals euclidean).
    remove_mean : bool
        Subtract each pattern's mean over channels first (not for correlation).

    Returns
    -------
    RDMs
        One RDM with ``pattern_descriptors["condition"]``.
    """
    if method not in METHODS:
        raise DataError(f"unknown RDM method {method!r}; expected one of {METHODS}")
    X, labels, subject = _patterns(data, conditions)
    cond, inverse = np.unique(labels, return_inverse=True)
    if len(cond) < 2:
        raise DataError(f"subject {subject}: an RDM needs at least 2 conditions, got {len(cond)}")
    noise = _check_noise(noise, X.shape[1], subject)
    if method == "crossnobis":
        folds = _runs(data, runs, inverse)
        d = _crossnobis(X, inverse, len(cond), folds, noise, remove_mean)
    else:
        means = _group_means(X, inverse, len(cond))
        if method == "correlation":
            d = _correlation(means)
        else:
            if remove_mean:
                means = means - means.mean(axis=1, keepdims=True)
            d = _squared_distance(means, noise if method == "mahalanobis" else None)
    return RDMs(
        d,
        measure=method,
        pattern_descriptors={"condition": cond},
        rdm_descriptors={"subject": np.array([subject])},
    )


def calc_rdms(
    subjects: dict[str, TrialData] | list[TrialData],
    method: str = "euclidean",
    by: str | None = None,
    **kwargs: Any,
) -> RDMs:
    """One RDM per subject (and per value of metadata column ``by``, e.g. ``"region"``).

    ``kwargs`` go to :func:`calc_rdm`. Returns the RDMs stacked, with rdm descriptors
    ``subject`` (and ``by``). All RDMs must share their conditions.
    """
    datasets = list(subjects.values()) if isinstance(subjects, dict) else list(subjects)
    parts = []
    for data in datasets:
        if by is None:
            parts.append(calc_rdm(data, method, **kwargs))
            continue
        if by not in data.metadata:
            raise DataError(f"subject {data.subject}: metadata has no column {by!r}")
        values = data.metadata[by].to_numpy()
        for value in dict.fromkeys(values.tolist()):
            rdm = calc_rdm(data.select(values == value), method, **kwargs)
            rdm.rdm_descriptors[by] = np.array([value])
            parts.append(rdm)
    return stack(parts)


def stack(parts: list[RDMs]) -> RDMs:
    """Concatenate RDMs over the same conditions (rdm descriptors are concatenated)."""
    if not parts:
        raise DataError("no RDMs to stack")
    first = parts[0]
    for p in parts[1:]:
        if p.n_cond != first.n_cond or not all(
            np.array_equal(v, p.pattern_descriptors.get(k)) for k, v in
            first.pattern_descriptors.items()
        ):
            raise DataError("cannot stack RDMs over different conditions")
    keys = [k for k in first.rdm_descriptors if all(k in p.rdm_descriptors for p in parts)]
    return RDMs(
        np.concatenate([p.dissimilarities for p in parts]),
        measure=first.measure,
        pattern_descriptors=dict(first.pattern_descriptors),
        rdm_descriptors={k: np.concatenate([p.rdm_descriptors[k] for p in parts]) for k in keys},
    )


def _patterns(
    data: TrialData | np.ndarray, conditions: str | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, str]:
    if isinstance(data, TrialData):
        X = _floating(np.asarray(data.X).reshape(data.n_trials, -1))
        if isinstance(conditions, str):
            if conditions not in data.metadata:
                raise DataError(
                    f"subject {data.subject}: metadata has no column {conditions!r}; "
                    f"columns are {list(data.metadata.columns)}"
                )
            labels = data.metadata[conditions].to_numpy()
        elif conditions is not None:
            labels = np.asarray(conditions)
        elif data.stimulus_ids is not None:
            labels = data.stimulus_ids
        elif "condition" in data.metadata:
            labels = data.metadata["condition"].to_numpy()
        else:
            labels = np.arange(data.n_trials)
        subject = data.subject
    else:
        X = _floating(np.asarray(data))
        if X.ndim != 2:
            raise DataError(f"trial patterns must be (n_trials, n_channels), got {X.shape}")
        labels = np.arange(len(X)) if conditions is None else np.asarray(conditions)
        subject = "array"
    if len(labels) != len(X):
        raise DataError(f"subject {subject}: {len(labels)} condition labels for {len(X)} trials")
    if not np.all(np.isfinite(X)):
        raise DataError(f"subject {subject}: trial patterns contain NaN or inf; remove them")
    return X, labels, subject


def _floating(X: np.ndarray) -> np.ndarray:
    """``X`` as floats without copying float32 data (condition means are float64 anyway)."""
    return X if X.dtype.kind == "f" else X.astype(float)


def _runs(data: TrialData | np.ndarray, runs: str | np.ndarray | None,
          inverse: np.ndarray) -> np.ndarray:
    if isinstance(runs, str):
        if not isinstance(data, TrialData) or runs not in data.metadata:
            raise DataError(f"no metadata column {runs!r} to use as crossnobis runs")
        labels = data.metadata[runs].to_numpy()
    elif runs is not None:
        labels = np.asarray(runs)
    elif isinstance(data, TrialData) and "run" in data.metadata:
        labels = data.metadata["run"].to_numpy()
    else:  # k-th occurrence of each condition forms partition k
        labels = np.zeros(len(inverse), int)
        for c in np.unique(inverse):
            where = np.flatnonzero(inverse == c)
            labels[where] = np.arange(len(where))
    if len(labels) != len(inverse):
        raise DataError(f"{len(labels)} run labels for {len(inverse)} trials")
    folds = np.unique(labels, return_inverse=True)[1]
    if folds.max() < 1:
        raise DataError("crossnobis needs at least 2 runs (partitions) of the conditions")
    return folds


def _check_noise(noise: np.ndarray | None, n_channels: int, subject: str) -> np.ndarray | None:
    if noise is None:
        return None
    noise = np.asarray(noise, dtype=float)
    if noise.shape not in ((n_channels,), (n_channels, n_channels)):
        raise DataError(
            f"subject {subject}: noise precision must be ({n_channels},) or "
            f"({n_channels}, {n_channels}), got {noise.shape}"
        )
    return noise


def _group_means(X: np.ndarray, inverse: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean pattern of each group, shape (n_groups, n_channels); absent groups are 0.

    A sparse averaging matrix: O(n_trials x n_channels), no copy of ``X``.
    """
    from scipy.sparse import csr_matrix

    counts = np.bincount(inverse, minlength=n_groups)
    weights = (1.0 / np.maximum(counts, 1)).astype(X.dtype)  # no upcast copy of float32 X
    average = csr_matrix((weights[inverse], (inverse, np.arange(len(inverse)))),
                         shape=(n_groups, len(inverse)))
    return np.asarray(average @ X, dtype=float)


def _apply_precision(M: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    if noise is None:
        return M
    return M * noise if noise.ndim == 1 else M @ noise


def _squared_distance(means: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    kernel = _apply_precision(means, noise) @ means.T
    diag = np.diag(kernel)
    full = diag[:, None] + diag[None, :] - kernel - kernel.T
    return squareform(full, checks=False) / means.shape[1]


def _correlation(means: np.ndarray) -> np.ndarray:
    centred = means - means.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise DataError("correlation distance is undefined for a constant pattern")
    unit = centred / norms
    return 1.0 - squareform(unit @ unit.T, checks=False)


def _crossnobis(X: np.ndarray, cond: np.ndarray, n_cond: int, folds: np.ndarray,
                noise: np.ndarray | None, remove_mean: bool) -> np.ndarray:
    """Mean over ordered pairs of distinct runs (k, l) of (m_ki - m_kj) P (m_li - m_lj)' / p."""
    n_folds = int(folds.max()) + 1
    cell = cond * n_folds + folds  # condition-major: each condition's runs side by side
    means = _group_means(X, cell, n_cond * n_folds)
    present = np.bincount(cell, minlength=n_cond * n_folds).reshape(n_cond, n_folds) > 0
    if remove_mean:
        means = means - means.mean(axis=1, keepdims=True)
    means = means.reshape(n_cond, n_folds, -1)
    if present.all():
        d = _crossnobis_balanced(means, noise)
    else:
        d = _crossnobis_unbalanced(means.transpose(1, 0, 2), present.T, noise)
    return d / X.shape[1]


def _pair_distances(gram: np.ndarray) -> np.ndarray:
    """Upper-triangle ``g_ii + g_jj - 2 g_ij`` of a symmetric kernel, shape (n_pairs,)."""
    i, j = np.triu_indices(len(gram), 1)
    diag = np.diag(gram)
    return diag[i] + diag[j] - 2.0 * gram[i, j]


def _crossnobis_balanced(means: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    """Every condition in every run: the sum-over-runs identity.

    ``means`` is (n_cond, n_runs, n_channels). With d_k = m_ki - m_kj,
    sum_{k != l} d_k P d_l' = (sum_k d_k) P (sum_k d_k)' - sum_k d_k P d_k', so one kernel of
    the run sums and one of the runs side by side replace the (K n) x (K n) cross-run kernel.
    """
    n_cond, n_folds, _ = means.shape
    if noise is None or (noise.ndim == 1 and np.all(noise >= 0)):
        # symmetric products a @ a.T (BLAS syrk: half the work of a general product)
        if noise is not None:
            means = means * np.sqrt(noise)
        side_by_side = means.reshape(n_cond, -1)
        within = side_by_side @ side_by_side.T
        total = means.sum(axis=1)
        across = total @ total.T
    else:
        weighted = _apply_precision(means.reshape(n_cond * n_folds, -1), noise)
        weighted = weighted.reshape(means.shape)  # the precision is applied once
        within = sum(weighted[:, k] @ means[:, k].T for k in range(n_folds))
        across = weighted.sum(axis=1) @ means.sum(axis=1).T
    return (_pair_distances(across) - _pair_distances(within)) / (n_folds * (n_folds - 1))


def _crossnobis_unbalanced(means: np.ndarray, present: np.ndarray,
                           noise: np.ndarray | None) -> np.ndarray:
    """Some cells missing: each pair averages the run pairs in which both were measured."""
    n_folds, n_cond, _ = means.shape
    flat = means.reshape(n_folds * n_cond, -1)
    gram = (_apply_precision(flat, noise) @ flat.T).reshape(n_folds, n_cond, n_folds, n_cond)
    total = np.zeros((n_cond, n_cond))
    count = np.zeros((n_cond, n_cond))
    for k in range(n_folds):
        for m in range(n_folds):
            if k == m:
                continue
            g = gram[k, :, m, :]
            d = np.diag(g)[:, None] + np.diag(g)[None, :] - g - g.T
            ok = np.outer(present[k], present[k]) & np.outer(present[m], present[m])
            total += np.where(ok, d, 0.0)
            count += ok
    iu = np.triu_indices(n_cond, 1)
    total, count = total[iu], count[iu]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def noise_precision(
    data: TrialData | np.ndarray,
    conditions: str | np.ndarray | None = None,
    method: str = "shrinkage",
) -> np.ndarray:
    """Noise precision from the residuals of trials around their condition means.

    Parameters
    ----------
    data, conditions
        As in :func:`calc_rdm`; every condition needs repeated trials.
    method : {"shrinkage", "diag"}
        ``shrinkage``: inverse of the Ledoit-Wolf shrunk covariance (multivariate noise
        normalisation, Walther et al. 2016); ``diag``: inverse variances (univariate).

    Returns
    -------
    array, shape (n_channels, n_channels) or (n_channels,)
    """
    from sklearn.covariance import ledoit_wolf

    X, labels, subject = _patterns(data, conditions)
    inverse = np.unique(labels, return_inverse=True)[1]
    n_cond = int(inverse.max()) + 1
    dof = len(X) - n_cond
    if dof < 1:
        raise DataError(
            f"subject {subject}: no residual degrees of freedom ({len(X)} trials of {n_cond} "
            "conditions); noise normalisation needs repeated trials"
        )
    means = _group_means(X, inverse, n_cond)
    if method == "diag":  # in blocks of voxels: a whole brain's residuals never sit in memory
        blocks = range(0, X.shape[1], 8192)
        var = np.concatenate([
            ((X[:, b:b + 8192] - means[inverse, b:b + 8192]) ** 2).sum(axis=0) for b in blocks
        ]) / dof
        if np.any(var <= 0):
            raise DataError(f"subject {subject}: a channel has zero residual variance")
        return 1.0 / var
    if method != "shrinkage":
        raise DataError(f"unknown noise method {method!r}; expected 'shrinkage' or 'diag'")
    residuals = X - means[inverse]
    cov = ledoit_wolf(residuals * np.sqrt(len(X) / dof), assume_centered=True)[0]
    return np.linalg.inv(cov)
