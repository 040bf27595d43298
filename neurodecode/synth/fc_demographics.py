"""``synthetic-fc-demographics``: resting-state connectivity with planted demographic effects
(age, sex, site) and a separate planted clinical signal (``diagnosis``).

Generative model (one participant ``i``): ROIs belong to networks and all load on a global factor;
factor ``k`` has a log-variance ``s_ik = base_k + effects + noise`` where age (standardised), sex, site and
diagnosis each shift chosen networks. The ROI covariance is
``B diag(exp(s_i)) B^T + I`` (``B``: loadings) and the participant's connectivity is
the matching correlation matrix ``C_i``; its data ``X`` is the sample correlation of
``n_timepoints`` Gaussian time points drawn with correlation ``C_i`` (so edges carry the
estimation noise of real scans). Diagnosis is independent of the demographics and acts
on its own network, so removing demographics should keep it. ``truth["effect_maps"]`` holds
each effect's edge map: connectivity with the effect on minus off, at the baseline.

:func:`write` regenerates the same time series (one seeded stream per participant) and
writes them in the ABIDE-PCP layout (``<id>_rois_<atlas>.1D`` + ``phenotypic.csv``), so that
:func:`neurodecode.data.connectivity.load_roi_connectivity` recovers ``X`` to numerical
precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path, write_json, write_text
from neurodecode.confounds.connectivity import upper_triangle
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.synth import SyntheticWorld

NAME = "synthetic-fc-demographics"
DEMOGRAPHICS = {"continuous": ["age"], "categorical": ["sex", "site"]}
SIGNAL = "diagnosis"
ATLAS = "synth"

# network -> shift of its log-variance per unit of each effect
_EFFECTS = {
    "age": {0: 0.7, 1: -0.7},  # per standard deviation of age
    "sex": {2: 1.4},  # female vs male
    "diagnosis": {4: 1.0},  # patient vs control
}


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_rois: int = 30,
    n_networks: int = 7,
    n_sites: int = 3,
    n_timepoints: int = 120,
    site_effect: float = 0.8,
    noise: float = 0.5,
    zero_variance_participants: int = 0,
    zero_variance_rois: int = 3,
) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, optional
        Number of participants (default 400).
    seed : int
        Everything (demographics, noise, time series) follows from it.
    n_rois : int
        ROIs of the atlas (264 for the Power atlas).
    n_networks : int
        Networks the ROIs are split into (at least 7: age x2, sex, site x2, diagnosis, free).
    n_sites : int
        Acquisition sites; site ``j`` shifts networks 3 and 5 by ``site_effect`` times
        ``(cos, sin)(2 pi j / n_sites)``.
    n_timepoints : int
        Time points per participant in the written files (must exceed ``n_rois``).
    site_effect, noise : float
        Size of site shifts and standard deviation of the individual log-variance noise.
        ``site_effect=2.0`` makes site readable from raw connectivity of ~100 participants at
        a balanced accuracy above .9 (3 sites), like real multi-site data.
    zero_variance_participants : int
        Participants (chosen at random) whose scan missed 1 to ``zero_variance_rois`` of the
        last ``zero_variance_rois`` ROIs (outside the field of view): those ROIs' time series
        are all zero, and their edges are 0 (the loader's ``zero_variance="zero"``).
        ``truth["zero_variance_rois"]`` maps participant ids to the ROIs.
    """
    n = 400 if n_subjects is None else int(n_subjects)
    if n_networks < 7 or n_rois < 2 * n_networks:
        raise DataError(f"need n_networks >= 7 and n_rois >= 2*n_networks, got "
                        f"{n_networks} networks for {n_rois} ROIs")
    if n_timepoints <= n_rois:
        raise DataError(f"n_timepoints ({n_timepoints}) must exceed n_rois ({n_rois})")
    if not 0 <= zero_variance_participants <= n or not 0 < zero_variance_rois < n_rois - 1:
        raise DataError(f"zero_variance_participants must be in [0, {n}] and "
                        f"zero_variance_rois in [1, {n_rois - 2}]")
    params = dict(n_subjects=n, seed=seed, n_rois=n_rois, n_networks=n_networks,
                  n_sites=n_sites, n_timepoints=n_timepoints, site_effect=site_effect,
                  noise=noise, zero_variance_participants=zero_variance_participants,
                  zero_variance_rois=zero_variance_rois)
    rng = np.random.default_rng(seed)
    network = np.arange(n_rois) % n_networks
    # one loading per ROI on its network, plus a global factor (last column) shared by all
    loadings = np.zeros((n_rois, n_networks + 1))
    loadings[np.arange(n_rois), network] = rng.uniform(0.7, 1.3, n_rois)
    loadings[:, -1] = rng.uniform(0.3, 0.7, n_rois)
    base = rng.normal(0.0, 0.3, n_networks + 1)
    angles = 2 * np.pi * np.arange(n_sites) / n_sites  # distinct sites, zero mean shift
    site_pattern = site_effect * np.column_stack([np.cos(angles), np.sin(angles)])

    age = np.round(rng.uniform(7.0, 60.0, n), 2)
    sex = rng.choice(["M", "F"], size=n)
    site = rng.integers(0, n_sites, n)
    diagnosis = rng.integers(0, 2, n)
    shifts = np.tile(base, (n, 1)) + rng.normal(0.0, noise, (n, n_networks + 1))
    age_z = (age - 33.5) / 15.3  # the uniform(7, 60) mean and standard deviation
    for k, b in _EFFECTS["age"].items():
        shifts[:, k] += b * age_z
    for k, b in _EFFECTS["sex"].items():
        shifts[:, k] += b * (sex == "F")
    for k, b in _EFFECTS["diagnosis"].items():
        shifts[:, k] += b * diagnosis
    shifts[:, 3] += site_pattern[site, 0]
    shifts[:, 5] += site_pattern[site, 1]

    ids = [f"site{s}_{i:05d}" for i, s in enumerate(site)]
    # drawn from their own stream so that worlds without them are unchanged
    zrng = np.random.default_rng([seed, 2])
    zeroed = {}
    for i in sorted(zrng.choice(n, zero_variance_participants, replace=False).tolist()):
        k = int(zrng.integers(1, zero_variance_rois + 1))
        zeroed[ids[i]] = sorted(zrng.choice(np.arange(n_rois - zero_variance_rois, n_rois), k,
                                            replace=False).tolist())
    zero_rois = [zeroed.get(pid, []) for pid in ids]
    series = _timeseries(loadings, shifts, n_timepoints, seed, zero_rois)
    X = np.stack([upper_triangle(_correlation_with_zeros(ts)) for ts in series])
    metadata = pd.DataFrame(dict(
        participant_id=ids, age=age, sex=sex, site=[f"site{s}" for s in site],
        diagnosis=diagnosis,
    ))
    effect_maps = {}
    for name, effect in _EFFECTS.items():
        on = base.copy()
        for k, b in effect.items():
            on[k] += b
        effect_maps[name] = _effect_map(loadings, base, on)
    for j in range(n_sites):
        on = base.copy()
        on[3] += site_pattern[j, 0]
        on[5] += site_pattern[j, 1]
        effect_maps[f"site{j}"] = _effect_map(loadings, base, on)
    truth = dict(
        demographics=DEMOGRAPHICS,
        signal=SIGNAL,
        atlas=ATLAS,
        network=network.tolist(),
        effect_maps=effect_maps,
        loadings=loadings,
        log_variances=shifts,
        effect_networks={k: sorted(v) for k, v in _EFFECTS.items()}
        | {"site": [3, 5]},
        zero_variance_rois=zeroed,
    )
    data = TrialData(X=X, subject="group", modality="fc", metadata=metadata,
                     info=dict(atlas=ATLAS, n_rois=n_rois, kind="correlation",
                               roi_names=_roi_names(n_rois)))
    return SyntheticWorld(name=NAME, subjects={"group": data}, truth=truth, params=params)


def _correlations(loadings: np.ndarray, log_variances: np.ndarray) -> np.ndarray:
    """Correlation matrices of ``B diag(exp(s)) B^T + I``, shape (n, n_rois, n_rois)."""
    cov = np.einsum("rk,nk,qk->nrq", loadings, np.exp(log_variances), loadings)
    cov += np.eye(loadings.shape[0])
    sd = np.sqrt(np.einsum("nrr->nr", cov))
    return cov / sd[:, :, None] / sd[:, None, :]


def _effect_map(loadings: np.ndarray, off: np.ndarray, on: np.ndarray) -> list[float]:
    """Edge map (list, n_edges) of connectivity with log-variances ``on`` minus ``off``."""
    on_edges, off_edges = upper_triangle(_correlations(loadings, np.stack([on, off])))
    return (on_edges - off_edges).tolist()


def _roi_names(n_rois: int) -> list[str]:
    return [f"ROI{r + 1:03d}" for r in range(n_rois)]


def _correlation_with_zeros(ts: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix; constant ROIs get 0 off the diagonal and 1 on it."""
    good = np.ptp(ts, axis=0) > 0
    out = np.eye(ts.shape[1])
    out[np.ix_(good, good)] = np.corrcoef(ts[:, good], rowvar=False)
    return out


def _timeseries(loadings: np.ndarray, log_variances: np.ndarray, n_times: int,
                seed: int, zero_rois: list | None = None) -> Iterator[np.ndarray]:
    """Gaussian ROI time series, one (n_times, n_rois) array per participant, drawn with the
    participant's population correlation; participant ``i`` has its own random stream.
    One participant at a time, so memory does not grow with the number of participants."""
    for i, s_i in enumerate(log_variances):
        corr = _correlations(loadings, s_i[None])[0]
        rng = np.random.default_rng([seed, 1, i])
        ts = rng.standard_normal((n_times, corr.shape[0])) @ np.linalg.cholesky(corr).T
        if zero_rois is not None and zero_rois[i]:
            ts[:, zero_rois[i]] = 0.0
        yield ts


def write(world: SyntheticWorld, out_dir: str | Path) -> list[Path]:
    """Write ``<id>_rois_synth.1D`` files, ``phenotypic.csv`` and ``world.json``."""
    out_dir = Path(out_dir)
    data = world.subjects["group"]
    params = world.params
    header = "\t".join(f"#{name}" for name in data.info["roi_names"])
    paths = []
    zeroed = world.truth.get("zero_variance_rois", {})
    series = _timeseries(np.asarray(world.truth["loadings"]),
                         np.asarray(world.truth["log_variances"]), params["n_timepoints"],
                         params["seed"],
                         [zeroed.get(pid, []) for pid in data.metadata["participant_id"]])
    for pid, ts in zip(data.metadata["participant_id"], series, strict=True):
        path = out_dir / f"{pid}_rois_{ATLAS}.1D"
        with atomic_path(path) as tmp:
            np.savetxt(tmp, ts, fmt="%.17g", delimiter="\t", header=header, comments="")
        paths.append(path)
    csv = out_dir / "phenotypic.csv"
    write_text(csv, data.metadata.to_csv(index=False))
    paths.append(csv)
    paths.append(write_json(out_dir / "world.json",
                            dict(name=world.name, params=params, truth=world.truth)))
    return paths


def read(out_dir: str | Path) -> SyntheticWorld:
    """Read a world written by :func:`write` through the ROI time series loader."""
    from neurodecode.data.connectivity import load_roi_connectivity

    out_dir = Path(out_dir)
    meta_path = out_dir / "world.json"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found; is {out_dir} a {NAME} folder?")
    meta = json.loads(meta_path.read_text())
    zero = "zero" if meta["truth"].get("zero_variance_rois") else "raise"
    data = load_roi_connectivity(out_dir, out_dir / "phenotypic.csv", atlas=ATLAS,
                                 id_column="participant_id", n_rois=meta["params"]["n_rois"],
                                 zero_variance=zero)
    return SyntheticWorld(name=NAME, subjects={"group": data}, truth=meta["truth"],
                          params=meta["params"])
