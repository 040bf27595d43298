"""``synthetic-rsa``: brain regions whose representations have known geometry and topology.

The same conditions (stimuli) are represented by several "regions", each with its own shape:

- ``ring``: conditions evenly spaced on a circle (a loop: 1-D, periodic);
- ``line``: the same order along a line segment (1-D, open ends);
- ``clusters``: four tight clusters of consecutive conditions at the corners of a simplex;
- ``grid``: a 2-D lattice (rows of consecutive conditions).

Consecutive conditions are neighbours in every shape, so the regions share local structure and
differ in their global topology, which makes region identification non-trivial.

Every subject sees each region through its own anatomy: a random orthonormal embedding of the
region's geometry into ``n_voxels`` voxels and, with ``warp > 0``, a subject-specific strictly
monotone warp of the region's distances, ``d' = d ** g`` with ``g = 10 ** U(-warp, warp)``:
exponents below 1 compress the large distances, above 1 they dominate (the ranks of the
distances, hence the topology, survive; the geometry does not). The warped distances are
realised as patterns by classical multidimensional scaling (exact for ``g <= 1``, where
``d ** g`` stays Euclidean, Schoenberg 1938; for ``g > 1`` the non-Euclidean part is dropped,
and ``truth`` records the geometry actually realised). Trials add i.i.d. Gaussian noise:
``n_runs`` runs with one trial per condition each (for crossnobis).

Subjects hold one :class:`TrialData` each: rows are region x run x condition (metadata
``region``, ``condition``, ``run``), columns the region's voxels; ``modality`` "fmri" (voxels in
a small 2 mm box, written as NIfTI beta series) or "features". ``truth["region_rdms"]`` holds
the true (unwarped) squared-Euclidean RDM vector of each region and
``truth["subject_rdms"][subject][region]`` the warped one each subject expresses (both squared
Euclidean / n_voxels, the units of :func:`neurodecode.rsa.calc_rdm`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from neurodecode._files import write_json
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.rsa.rdm import classical_mds
from neurodecode.synth import SyntheticWorld
from neurodecode.synth._sensor import read_manifest, subject_rng

NAME = "synthetic-rsa"
REGIONS = ("ring", "line", "clusters", "grid")
VOXEL_SIZE_MM = 2.0


def region_geometry(region: str, n_conditions: int) -> np.ndarray:
    """Latent positions of the conditions in ``region``, shape (n_conditions, n_dims).

    Scaled so that the mean squared pairwise distance is 1.
    """
    i = np.arange(n_conditions)
    if region == "ring":
        angle = 2 * np.pi * i / n_conditions
        points = np.c_[np.cos(angle), np.sin(angle)]
    elif region == "line":
        points = i[:, None].astype(float)
    elif region == "clusters":
        n_clusters = 4
        label = i * n_clusters // n_conditions
        within = (i - label * n_conditions / n_clusters) / n_conditions
        points = np.eye(n_clusters)[label] * 3.0
        points = np.c_[points, within]  # a small within-cluster order keeps ranks untied
    elif region == "grid":
        n_cols = int(np.ceil(np.sqrt(n_conditions)))
        points = np.c_[i // n_cols, i % n_cols].astype(float)
    else:
        raise DataError(f"unknown region shape {region!r}; expected one of {REGIONS}")
    return points / np.sqrt(np.mean(pdist(points) ** 2))


def warp_distances(d: np.ndarray, exponent: float) -> np.ndarray:
    """Strictly monotone warp ``d ** exponent`` (compressive below 1, expansive above)."""
    return d**exponent


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_conditions: int = 24,
    n_runs: int = 4,
    n_voxels: int = 60,
    noise: float = 0.5,
    signal: float = 1.0,
    warp: float = 0.0,
    regions: tuple[str, ...] | list[str] = REGIONS,
    modality: str = "fmri",
) -> SyntheticWorld:
    """Build the world in memory (deterministic in ``seed``; subject k is the same whatever
    ``n_subjects``).

    Parameters
    ----------
    n_subjects : int, default 8
    n_conditions, n_runs, n_voxels : int
        Conditions per region, runs (one trial per condition each), voxels per region.
    noise : float
        Trial noise s.d. per voxel.
    signal : float
        Root mean squared distance between condition patterns, per voxel (0: pure noise).
    warp : float
        Strength of the subject-specific monotone warps (log10 range of the warp scale).
    regions : sequence of str
        Region shapes, from :data:`REGIONS`.
    modality : {"fmri", "features"}
    """
    n_subjects = 8 if n_subjects is None else int(n_subjects)
    regions = tuple(regions)
    if modality not in ("fmri", "features"):
        raise DataError(f"synthetic-rsa modality must be 'fmri' or 'features', got {modality!r}")
    if n_voxels < n_conditions - 1:
        raise DataError(f"n_voxels ({n_voxels}) must be at least n_conditions - 1 "
                        f"({n_conditions - 1}) to embed the geometry")
    params = dict(n_subjects=n_subjects, seed=seed, n_conditions=n_conditions, n_runs=n_runs,
                  n_voxels=n_voxels, noise=noise, signal=signal, warp=warp,
                  regions=list(regions), modality=modality)
    true_d = {r: pdist(region_geometry(r, n_conditions)) for r in regions}
    info = _box_info(n_voxels) if modality == "fmri" else {}
    subjects: dict[str, TrialData] = {}
    subject_rdms: dict[str, dict[str, list[float]]] = {}
    warp_scales: dict[str, dict[str, float]] = {}
    for s in range(1, n_subjects + 1):
        subject = f"{s:02d}"
        rng = subject_rng(seed, s)
        blocks, meta = [], []
        subject_rdms[subject], warp_scales[subject] = {}, {}
        for region in regions:
            d = true_d[region]
            scale = float(10 ** rng.uniform(-warp, warp)) if warp > 0 else 1.0
            dw = warp_distances(d, scale)
            dw = dw / np.sqrt(np.mean(dw**2))
            points = classical_mds(squareform(dw))
            basis = np.linalg.qr(rng.standard_normal((n_voxels, points.shape[1])))[0]
            # rms pairwise distance per voxel = signal: ||x_i - x_j||^2 / n_voxels
            centres = points @ basis.T * signal * np.sqrt(n_voxels)
            for run in range(n_runs):
                trial = centres + noise * rng.standard_normal(centres.shape)
                blocks.append(trial)
                meta.append(pd.DataFrame({"region": region, "condition": np.arange(n_conditions),
                                          "run": run}))
            # the realised geometry (MDS drops the non-Euclidean part of expansive warps)
            subject_rdms[subject][region] = (pdist(centres, "sqeuclidean") / n_voxels).tolist()
            warp_scales[subject][region] = scale
        metadata = pd.concat(meta, ignore_index=True)
        subjects[subject] = TrialData(
            X=np.concatenate(blocks).astype(np.float32),
            subject=subject,
            modality=modality,
            stimulus_ids=metadata["condition"].to_numpy(),
            metadata=metadata,
            info=dict(info),
        )
    truth = {
        "regions": list(regions),
        "region_rdms": {r: (true_d[r] ** 2 * signal**2).tolist() for r in regions},
        "subject_rdms": subject_rdms,
        "warp_scales": warp_scales,
        "chance": 1.0 / len(regions),
    }
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=None, truth=truth, params=params)


def _box_info(n_voxels: int) -> dict:
    """fMRI ``info`` for ``n_voxels`` voxels filling a small 2 mm box in C order."""
    from neurodecode.data.fmri import fmri_info

    side = int(np.ceil(n_voxels ** (1 / 3)))
    mask = np.zeros((side, side, side), dtype=bool)
    mask.reshape(-1)[:n_voxels] = True
    affine = np.diag([VOXEL_SIZE_MM] * 3 + [1.0])
    affine[:3, 3] = -VOXEL_SIZE_MM * side / 2
    return fmri_info(mask, affine)


def region_trials(data: TrialData, region: str) -> TrialData:
    """The trials of one region."""
    where = data.metadata["region"].to_numpy() == region
    if not where.any():
        found = sorted(set(data.metadata["region"]))
        raise DataError(f"subject {data.subject}: no trials of region {region!r}; found {found}")
    return data.select(where)


def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write ``sub-XX/sub-XX_region-R_betas.nii.gz`` (+ trial table) per subject and region,
    a shared ``mask.nii.gz``, and ``world.json``.
    """
    from dataclasses import replace

    from neurodecode.data.fmri import write_beta_series

    out_dir = Path(out_dir)
    paths: list[Path] = []
    info = _box_info(world.params["n_voxels"])
    mask_path: Path | None = out_dir / "mask.nii.gz"  # written once, with the first image
    for subject, data in world.subjects.items():
        for region in world.params["regions"]:
            part = replace(region_trials(data, region), modality="fmri", info=info)
            part = replace(part, metadata=part.metadata.drop(columns="region"))
            paths += write_beta_series(
                part, out_dir / f"sub-{subject}" / f"sub-{subject}_region-{region}_betas.nii.gz",
                mask_path=mask_path,
            )
            mask_path = None
    paths.append(write_json(out_dir / "world.json",
                            {"name": NAME, "params": world.params, "truth": world.truth}))
    return paths


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through
    :func:`~neurodecode.data.fmri.load_beta_series`."""
    from neurodecode.data.fmri import load_beta_series

    directory = Path(directory)
    manifest = read_manifest(directory, NAME)
    params = manifest["params"]
    subjects: dict[str, TrialData] = {}
    for s in range(1, params["n_subjects"] + 1):
        subject = f"{s:02d}"
        parts = []
        for region in params["regions"]:
            img = directory / f"sub-{subject}" / f"sub-{subject}_region-{region}_betas.nii.gz"
            if not img.is_file():
                raise DataError(f"{img}: not found; rewrite the folder with "
                                f"`neurodecode synth {NAME}`")
            part = load_beta_series(img, directory / "mask.nii.gz", subject=subject)
            part.metadata.insert(0, "region", region)
            parts.append(part)
        metadata = pd.concat([p.metadata for p in parts], ignore_index=True)
        subjects[subject] = TrialData(
            X=np.concatenate([p.X for p in parts]),
            subject=subject,
            modality=params["modality"],
            stimulus_ids=np.concatenate([p.stimulus_ids for p in parts]),
            metadata=metadata[["region", "condition", "run"]],
            info=parts[0].info if params["modality"] == "fmri" else {},
        )
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=None,
                          truth=manifest["truth"], params=params)
