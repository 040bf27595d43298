"""Model selection as Lin & Kriegeskorte (2024) measure it: identify the region of a held-out
subject's RDM by its nearest centroid among the other subjects' RDMs.

For each subject ``s`` in turn, the centroid of region ``r`` is the mean of the (transformed)
RDMs of ``r`` over every other subject; each of ``s``'s RDMs is assigned to the most similar
centroid. Accuracy is the fraction assigned to their own region; chance is 1 / n_regions.
:func:`identification_bootstrap` resamples subjects and conditions (stimuli), applying the same
resamples to every transform so that their accuracies can be compared pairwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from neurodecode.data.errors import DataError
from neurodecode.rsa.compare import compare
from neurodecode.rsa.rdm import RDMs, nanmean
from neurodecode.rsa.topology import PRESETS, geodesic_transform, gt_transform

Transform = Callable[[np.ndarray], np.ndarray] | str | None


def apply_transform(vectors: np.ndarray, transform: Transform) -> np.ndarray:
    """Transform RDM vectors (n_rdm, n_pairs) by name or callable.

    Names: ``"rdm"`` / None (unchanged), a GT preset from
    :data:`~neurodecode.rsa.topology.PRESETS`, or ``"geodesic"``
    (:func:`~neurodecode.rsa.topology.geodesic_transform` over each condition's 5 nearest
    neighbours, which stays connected for a few dozen conditions where a 5% edge quantile
    does not).
    """
    if transform is None or transform == "rdm":
        return vectors
    if callable(transform):
        return np.asarray(transform(vectors))
    if transform in PRESETS:
        return gt_transform(vectors, transform)
    if transform == "geodesic":
        return geodesic_transform(vectors, "k-nearest", k=5)
    raise DataError(
        f"unknown transform {transform!r}; expected 'rdm', 'geodesic', a callable or one of "
        f"{list(PRESETS)}"
    )


@dataclass
class Identification:
    """Leave-one-subject-out nearest-centroid identification.

    Attributes
    ----------
    accuracy : float
        Fraction of RDMs assigned to their own region.
    chance : float
        1 / number of regions.
    regions : array (n_regions,)
    truth, predicted : array (n_rdm,)
        Region of each input RDM and the region it was assigned to.
    confusion : array (n_regions, n_regions)
        Counts, rows = true region.
    """

    accuracy: float
    chance: float
    regions: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray
    confusion: np.ndarray


def identify_regions(
    rdms: RDMs,
    transform: Transform = None,
    method: str = "corr",
    subject_key: str = "subject",
    region_key: str = "region",
) -> Identification:
    """Identify each subject's regions from the other subjects' centroids.

    Parameters
    ----------
    rdms : RDMs
        One RDM per subject and region, with ``rdm_descriptors`` ``subject_key`` and
        ``region_key``.
    transform : str, callable or None
        Applied to every RDM before centroids are formed (see :func:`apply_transform`).
    method : str
        RDM comparison (see :func:`~neurodecode.rsa.compare.compare`).
    """
    subjects, regions = _labels(rdms, subject_key, region_key)
    vectors = apply_transform(rdms.dissimilarities, transform)
    region_names, region_idx = np.unique(regions, return_inverse=True)
    predicted = _nearest_centroid(vectors, subjects, region_idx, len(region_names), method)
    confusion = np.zeros((len(region_names),) * 2, int)
    np.add.at(confusion, (region_idx, predicted), 1)
    return Identification(
        accuracy=float(np.mean(predicted == region_idx)),
        chance=1.0 / len(region_names),
        regions=region_names,
        truth=regions,
        predicted=region_names[predicted],
        confusion=confusion,
    )


def _labels(rdms: RDMs, subject_key: str, region_key: str) -> tuple[np.ndarray, np.ndarray]:
    for key in (subject_key, region_key):
        if key not in rdms.rdm_descriptors:
            raise DataError(f"RDMs lack the rdm descriptor {key!r}; "
                            f"found {list(rdms.rdm_descriptors)}")
    subjects = rdms.rdm_descriptors[subject_key]
    if len(np.unique(subjects)) < 2:
        raise DataError("leave-one-subject-out identification needs at least 2 subjects")
    return subjects, rdms.rdm_descriptors[region_key]


def _nearest_centroid(vectors: np.ndarray, subjects: np.ndarray, region_idx: np.ndarray,
                      n_regions: int, method: str) -> np.ndarray:
    predicted = np.empty(len(vectors), int)
    for subject in np.unique(subjects):
        test = subjects == subject
        centroids = np.stack([
            nanmean(vectors[~test & (region_idx == r)], axis=0) for r in range(n_regions)
        ])
        predicted[test] = np.argmax(compare(vectors[test], centroids, method), axis=1)
    return predicted


def identification_bootstrap(
    rdms: RDMs,
    transforms: Mapping[str, Transform],
    method: str = "corr",
    over: str = "both",
    n_bootstrap: int = 200,
    seed: int = 0,
    subject_key: str = "subject",
    region_key: str = "region",
) -> dict[str, np.ndarray]:
    """Bootstrap distribution of identification accuracy for several transforms.

    Each transform is applied once to the full RDMs; every bootstrap sample then draws subjects
    and/or conditions with replacement and the *same* draw is used for every transform.
    Copies of the held-out subject are excluded from its centroids; pairs of a condition with
    its own copy are left out of the comparisons.

    Parameters
    ----------
    over : {"subjects", "stimuli", "both"}

    Returns
    -------
    dict
        ``accuracy`` (n_bootstrap, n_transforms), ``point`` (n_transforms,) on the original
        data, ``names`` (n_transforms,).
    """
    if over not in ("subjects", "stimuli", "both"):
        raise DataError(f"bootstrap 'over' must be subjects, stimuli or both, got {over!r}")
    subjects, regions = _labels(rdms, subject_key, region_key)
    names = list(transforms)
    region_names, region_idx = np.unique(regions, return_inverse=True)
    transformed = [
        rdms.with_values(apply_transform(rdms.dissimilarities, transforms[n]), n) for n in names
    ]
    point = np.array([
        identify_regions(t, None, method, subject_key, region_key).accuracy for t in transformed
    ])
    rng = np.random.default_rng(seed)
    unique_subjects = np.unique(subjects)
    acc = np.empty((n_bootstrap, len(names)))
    for b in range(n_bootstrap):
        if over in ("subjects", "both"):
            draw = rng.choice(len(unique_subjects), len(unique_subjects), replace=True)
            while len(np.unique(draw)) < 2:
                draw = rng.choice(len(unique_subjects), len(unique_subjects), replace=True)
        else:
            draw = np.arange(len(unique_subjects))
        rows = np.concatenate([np.flatnonzero(subjects == unique_subjects[d]) for d in draw])
        cond = (rng.choice(rdms.n_cond, rdms.n_cond, replace=True)
                if over in ("stimuli", "both") else np.arange(rdms.n_cond))
        for t, rdm_t in enumerate(transformed):
            sample = rdm_t[rows].subset_patterns(cond)
            predicted = _nearest_centroid(sample.dissimilarities, subjects[rows],
                                          region_idx[rows], len(region_names), method)
            acc[b, t] = np.mean(predicted == region_idx[rows])
    return {"accuracy": acc, "point": point, "names": np.array(names)}
