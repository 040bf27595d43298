"""``synthetic-mi``: EEG motor imagery in two named models, ``physiological`` (default) and
``temporal``.

Both mix cortical sources into 22 channels of the 10-20 system (the BNCI2014_001 layout,
positions from MNE's standard montage) through a subject-specific leadfield, with four task
sources (right hand under C3, left hand under C4, feet under Cz, tongue under FCz).

``model="physiological"`` (the default) is the standard motor-imagery physiology
(Pfurtscheller & Lopes da Silva, 1999):

- **ERD/ERS**: imagining a hand lowers the mu (~10 Hz) and beta (~20 Hz) amplitude of the
  contralateral hand area by ``erd`` (less on the ipsilateral one), imagining the feet lowers it
  over the vertex, and the areas not involved rise by ``ers`` (focal ERD / surround ERS); the
  strength varies from trial to trial and every trial's rhythms wax and wane together
  (``variability``), so classes overlap as in real recordings;
- **volume conduction**: broad leadfields (``spread`` metres), a strong class-independent
  posterior alpha, and 1/f background sources anywhere on the head;
- **artefacts**: eye blinks over frontal channels, muscle (EMG) bursts over temporal
  channels and electrode pops, in random trials regardless of class (``artefacts`` scales
  their rates);
- **common average reference** (``reference="average"``): the data are rank-deficient (rank
  = channels - 1), as real average-referenced EEG.

Everything a zero-lag covariance pipeline needs is there, and nothing favours one pipeline
by construction. ``model="temporal"`` is the earlier world: besides a small ERD, imagery
shifts the mu frequency of the class's source by ``freq_shift`` Hz *at unchanged variance*,
which only lagged (delay-embedded) covariances can see; it exists to test the augmented
covariance and favours it by design. Benchmarks name the model (``synthetic-mi:physiological``).

Sessions differ by channel gains, a small perturbation of the leadfield and the noise level.
Signals are in volts (rhythms of ~10 µV) and rounded to float32 so that writing to FIF and
reading back is exact.

References
----------
Pfurtscheller, G. & Lopes da Silva, F. H. (1999). Event-related EEG/MEG synchronization and
desynchronization: basic principles. Clin. Neurophysiol. 110(11), 1842-1857.
Nunez, P. L. & Srinivasan, R. (2006). Electric Fields of the Brain (volume conduction).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from neurodecode._files import write_json
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.synth import SyntheticWorld
from neurodecode.synth._sensor import gaussian_pattern, read_manifest, subject_rng

NAME = "synthetic-mi"
CLASSES = ("left_hand", "right_hand", "feet", "tongue")
CHANNELS = (
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2",
    "C4", "C6", "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz",
)  # fmt: skip
# The cortical source each class modulates (contralateral hand, midline feet, tongue).
TASK_SOURCES = {"left_hand": "C4", "right_hand": "C3", "feet": "Cz", "tongue": "FCz"}
MODELS = ("physiological", "temporal")
DEFAULTS: dict[str, Any] = dict(
    model="physiological",
    channels=CHANNELS,
    n_sessions=2,
    n_runs=2,
    n_trials_per_class=24,
    sfreq=128.0,
    duration=3.0,
    erd=0.3,
    freq_shift=None,
    noise=1.0,
    n_background=6,
    ers=0.15,
    variability=0.3,
    spread=0.05,
    artefacts=1.0,
    reference="average",
)
# freq_shift=None means: 1.5 Hz in the temporal model, none in the physiological one.
_FREQ_SHIFT = {"temporal": 1.5, "physiological": 0.0}
_SCALE = 1e-5  # volts per unit source amplitude
_BURN_IN = 256  # samples discarded so autoregressive sources start stationary


def montage_positions() -> dict[str, np.ndarray]:
    """Head-frame positions (m) of every 10-20 electrode, from MNE's standard montage."""
    import mne

    name = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else (
        "standard_1020"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pos = mne.channels.make_standard_montage(name).get_positions()["ch_pos"]
    return {ch: np.asarray(xyz, dtype=float) for ch, xyz in pos.items()}


def make(n_subjects: int | None = None, seed: int = 0, **params: Any) -> SyntheticWorld:
    """Build the world: one :class:`TrialData` per subject, all sessions concatenated.

    Parameters
    ----------
    n_subjects : int, optional
        Number of subjects (default 4).
    seed : int
        Everything is deterministic in ``seed``.
    **params
        Override :data:`DEFAULTS`: ``n_sessions``, ``n_runs`` (per session),
        ``n_trials_per_class`` (per session), ``sfreq`` (Hz), ``duration`` (s per trial),
        ``erd`` (fractional amplitude drop of the class's source), ``freq_shift`` (Hz, mu
        peak shift of the class's source at constant variance), ``noise`` (sensor noise
        relative to a rhythm), ``n_background`` (class-independent rhythms).

    Returns
    -------
    SyntheticWorld
        ``subjects[s].X`` is ``(n_trials, 22, n_times)`` volts, ``y`` class names,
        ``metadata`` has ``session`` and ``run``; ``truth`` holds the per-subject mu
        frequencies and task-source leadfields.
    """
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise DataError(f"{NAME}: unknown parameters {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    p["channels"] = list(p["channels"])
    if p["model"] not in MODELS:
        raise DataError(f"{NAME}: model must be one of {MODELS}, got {p['model']!r}")
    if p["reference"] not in ("average", "none"):
        raise DataError(f"{NAME}: reference must be 'average' or 'none', got {p['reference']!r}")
    if p["freq_shift"] is None:
        p["freq_shift"] = _FREQ_SHIFT[p["model"]]
    n_subjects = 4 if n_subjects is None else int(n_subjects)
    if n_subjects < 1 or p["n_sessions"] < 1 or p["n_runs"] < 1 or p["n_trials_per_class"] < 1:
        raise DataError(f"{NAME}: subjects, sessions, runs and trials must be positive, got {p}")
    positions = montage_positions()
    missing = [ch for ch in p["channels"] if ch not in positions]
    if missing:
        raise DataError(f"{NAME}: channels {missing} are not 10-20 electrode names")
    ch_pos = np.stack([positions[ch] for ch in p["channels"]])
    subjects: dict[str, TrialData] = {}
    truth: dict[str, Any] = {"classes": list(CLASSES), "task_sources": TASK_SOURCES, "subjects": {}}
    for s in range(1, n_subjects + 1):
        rng = subject_rng(seed, s)
        build = _subject if p["model"] == "temporal" else _physiological_subject
        data, subject_truth = build(rng, str(s), p, ch_pos, positions)
        subjects[str(s)] = data
        truth["subjects"][str(s)] = subject_truth
    return SyntheticWorld(
        name=NAME, subjects=subjects, truth=truth, params={"n_subjects": n_subjects, "seed": seed, **p}
    )


def _subject(
    rng: np.random.Generator, subject: str, p: dict, ch_pos: np.ndarray, positions: dict
) -> tuple[TrialData, dict]:
    sfreq, n_times = float(p["sfreq"]), int(round(p["duration"] * p["sfreq"]))
    task_pos = np.stack([positions[TASK_SOURCES[c]] for c in CLASSES])
    task_pos = task_pos + rng.normal(0, 0.008, task_pos.shape)  # subject anatomy
    n_channels = len(ch_pos)
    bg_pos = ch_pos[rng.choice(n_channels, min(p["n_background"], n_channels), replace=False)]
    leadfield = np.stack(
        [gaussian_pattern(ch_pos, c, 0.035) for c in np.concatenate([task_pos, bg_pos])], axis=1
    )
    leadfield *= 1 + 0.2 * rng.standard_normal(leadfield.shape)
    mu = rng.uniform(9.0, 11.0, len(CLASSES))
    beta = rng.uniform(18.0, 24.0, len(CLASSES))
    bg_freq = rng.uniform(8.0, 13.0, len(bg_pos))  # alpha: the dominant rhythm of EEG
    X, y, sessions, runs = [], [], [], []
    for session in range(1, p["n_sessions"] + 1):
        gains = 1 + 0.1 * rng.standard_normal(n_channels)
        mixing = gains[:, None] * leadfield * (1 + 0.05 * rng.standard_normal(leadfield.shape))
        noise = p["noise"] * rng.uniform(0.8, 1.25)
        labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), p["n_trials_per_class"]))
        sources = _sources(rng, labels, n_times, sfreq, mu, beta, bg_freq, p)
        sensors = np.einsum("cs,nst->nct", mixing, sources)
        sensors += noise * _pink(rng, sensors.shape)
        X.append(sensors)
        y.extend(CLASSES[k] for k in labels)
        sessions += [str(session)] * len(labels)
        runs += [str(r) for r in np.arange(len(labels)) * p["n_runs"] // len(labels)]
    data = _trials(X, y, sessions, runs, subject, p["channels"], ch_pos, sfreq)
    truth = {
        "mu_hz": mu.tolist(),
        "beta_hz": beta.tolist(),
        "task_leadfield": leadfield[:, : len(CLASSES)].tolist(),
    }
    return data, truth


def _physiological_subject(
    rng: np.random.Generator, subject: str, p: dict, ch_pos: np.ndarray, positions: dict
) -> tuple[TrialData, dict]:
    """One subject of the physiological model (see the module docstring)."""
    sfreq, n_times = float(p["sfreq"]), int(round(p["duration"] * p["sfreq"]))
    n_channels = len(ch_pos)
    task_pos = np.stack([positions[TASK_SOURCES[c]] for c in CLASSES])
    task_pos = task_pos + rng.normal(0, 0.008, task_pos.shape)  # subject anatomy
    alpha_pos = np.stack([positions[c] for c in ("POz", "O1", "O2")])
    alpha_pos = alpha_pos + rng.normal(0, 0.01, alpha_pos.shape)
    head = np.stack(list(positions.values()))
    bg_pos = head[rng.choice(len(head), p["n_background"], replace=False)]
    centres = np.concatenate([task_pos, alpha_pos, bg_pos])
    leadfield = np.stack([gaussian_pattern(ch_pos, c, p["spread"]) for c in centres], axis=1)
    leadfield *= 1 + 0.2 * rng.standard_normal(leadfield.shape)
    eye = gaussian_pattern(ch_pos, positions["Fpz"] + np.array([0.0, 0.03, -0.03]), 0.08)
    temporal = np.maximum(gaussian_pattern(ch_pos, positions["T7"], 0.03),
                          gaussian_pattern(ch_pos, positions["T8"], 0.03))  # fmt: skip
    mu = rng.uniform(9.0, 12.0, len(CLASSES))
    beta = rng.uniform(18.0, 24.0, len(CLASSES))
    alpha = rng.uniform(8.5, 11.5, len(alpha_pos))
    X, y, sessions, runs = [], [], [], []
    for session in range(1, p["n_sessions"] + 1):
        gains = 1 + 0.1 * rng.standard_normal(n_channels)
        mixing = gains[:, None] * leadfield * (1 + 0.05 * rng.standard_normal(leadfield.shape))
        noise = p["noise"] * rng.uniform(0.8, 1.25)
        labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), p["n_trials_per_class"]))
        n = len(labels)
        gain = _erd_ers(rng, labels, p)  # (n, n_task) amplitude of each task source
        sources = np.empty((n, len(centres), n_times))
        for k in range(len(CLASSES)):
            rhythm = _oscillation(rng, n, n_times, mu[k], sfreq)
            rhythm += 0.5 * _oscillation(rng, n, n_times, beta[k], sfreq)
            sources[:, k] = gain[:, k, None] * rhythm
        state = np.exp(p["variability"] * rng.standard_normal(n))  # alertness, per trial
        for j, f in enumerate(alpha):
            sources[:, len(CLASSES) + j] = 1.5 * state[:, None] * _oscillation(
                rng, n, n_times, f, sfreq)  # fmt: skip
        first_bg = len(CLASSES) + len(alpha)
        sources[:, first_bg:] = 0.8 * _pink(rng, (n, len(bg_pos), n_times), rho=0.95)
        sensors = np.einsum("cs,nst->nct", mixing, sources)
        sensors += noise * (0.7 * _pink(rng, sensors.shape) + 0.3 * rng.standard_normal(sensors.shape))
        _add_artefacts(rng, sensors, eye, temporal, sfreq, p["artefacts"])
        if p["reference"] == "average":
            sensors -= sensors.mean(axis=1, keepdims=True)
        X.append(sensors)
        y.extend(CLASSES[k] for k in labels)
        sessions += [str(session)] * n
        runs += [str(r) for r in np.arange(n) * p["n_runs"] // n]
    data = _trials(X, y, sessions, runs, subject, p["channels"], ch_pos, sfreq)
    truth = {
        "model": "physiological",
        "mu_hz": mu.tolist(),
        "beta_hz": beta.tolist(),
        "task_leadfield": leadfield[:, : len(CLASSES)].tolist(),
        "rank": n_channels - 1 if p["reference"] == "average" else n_channels,
    }
    return data, truth


def _erd_ers(rng: np.random.Generator, labels: np.ndarray, p: dict) -> np.ndarray:
    """Per-trial amplitude of each task source: ERD where the imagined body part is
    represented, weaker ERD on the other hand area, ERS elsewhere; strengths vary by trial."""
    hands = {CLASSES.index("left_hand"), CLASSES.index("right_hand")}
    n, k = len(labels), len(CLASSES)
    strength = np.clip(rng.normal(1.0, 0.5, n), 0.0, 2.0)  # how well each trial was imagined
    gain = np.ones((n, k))
    for i, c in enumerate(labels):
        for j in range(k):
            if j == c:
                gain[i, j] = 1 - p["erd"] * strength[i]
            elif c in hands and j in hands:
                gain[i, j] = 1 - 0.3 * p["erd"] * strength[i]
            else:
                gain[i, j] = 1 + p["ers"] * strength[i]
    jitter = np.exp(0.5 * p["variability"] * rng.standard_normal((n, k)))
    common = np.exp(p["variability"] * rng.standard_normal((n, 1)))
    return np.clip(gain, 0.05, None) * jitter * common


def _add_artefacts(rng: np.random.Generator, X: np.ndarray, eye: np.ndarray,
                   temporal: np.ndarray, sfreq: float, rate: float) -> None:  # fmt: skip
    """Add blinks, EMG bursts and electrode pops to random trials of ``X`` in place."""
    n, n_channels, n_times = X.shape
    t = np.arange(n_times) / sfreq
    for i in np.flatnonzero(rng.random(n) < 0.3 * rate):  # blinks: ~0.2-s bumps, frontal
        for t0 in rng.uniform(0, t[-1], rng.integers(1, 3)):
            X[i] += 25.0 * eye[:, None] * np.exp(-0.5 * ((t - t0) / 0.07) ** 2)[None, :]
    for i in np.flatnonzero(rng.random(n) < 0.2 * rate):  # EMG: broadband bursts, temporal
        length = int(rng.uniform(0.3, 1.0) * sfreq)
        start = rng.integers(0, max(1, n_times - length))
        burst = np.diff(rng.standard_normal((n_channels, length + 1)), axis=1)  # high-passed
        X[i, :, start:start + length] += 3.0 * temporal[:, None] * burst
    for i in np.flatnonzero(rng.random(n) < 0.05 * rate):  # electrode pops: step and decay
        c, start = rng.integers(n_channels), rng.integers(n_times)
        X[i, c, start:] += 20.0 * np.exp(-(t[start:] - t[start]) / 0.3)


def _sources(
    rng: np.random.Generator, labels: np.ndarray, n_times: int, sfreq: float,
    mu: np.ndarray, beta: np.ndarray, bg_freq: np.ndarray, p: dict,
) -> np.ndarray:  # fmt: skip
    """Source time courses, shape (n_trials, n_task + n_background, n_times)."""
    n = len(labels)
    out = np.empty((n, len(CLASSES) + len(bg_freq), n_times))
    for k in range(len(CLASSES)):
        active = labels == k
        amp = np.where(active, 1.0 - p["erd"], 1.0)[:, None]
        freq = np.where(active, mu[k] + p["freq_shift"], mu[k])
        rhythm = np.empty((n, n_times))
        for f in np.unique(freq):
            rows = freq == f
            rhythm[rows] = _oscillation(rng, rows.sum(), n_times, f, sfreq)
        rhythm += 0.5 * _oscillation(rng, n, n_times, beta[k], sfreq)
        out[:, k] = amp * rhythm
    for j, f in enumerate(bg_freq):
        out[:, len(CLASSES) + j] = 0.7 * _oscillation(rng, n, n_times, f, sfreq)
    return out


def _oscillation(
    rng: np.random.Generator, n: int, n_times: int, freq: float, sfreq: float, r: float = 0.97
) -> np.ndarray:
    """Unit-variance AR(2) rhythm peaking at ``freq`` Hz (pole radius ``r``), (n, n_times)."""
    theta = 2 * np.pi * freq / sfreq
    a1, a2 = 2 * r * np.cos(theta), -(r**2)
    var = (1 - a2) / ((1 + a2) * ((1 - a2) ** 2 - a1**2))  # stationary variance, unit drive
    drive = rng.standard_normal((n, n_times + _BURN_IN)) / np.sqrt(var)
    return lfilter([1.0], [1.0, -a1, -a2], drive, axis=-1)[:, _BURN_IN:]


def _pink(rng: np.random.Generator, shape: tuple, rho: float = 0.9) -> np.ndarray:
    """Unit-variance AR(1) noise (a 1/f-like background), shape ``shape``."""
    drive = rng.standard_normal(shape[:-1] + (shape[-1] + _BURN_IN,)) * np.sqrt(1 - rho**2)
    return lfilter([1.0], [1.0, -rho], drive, axis=-1)[..., _BURN_IN:]


_GAP = 1.0  # seconds of background between trials in the written recordings


def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write one FIF recording per subject and session, trials marked by annotations.

    Files are ``sub-<s>/eeg/sub-<s>_ses-<session>_task-imagery_eeg.fif``: trials laid end to
    end with :data:`_GAP` seconds of background noise before each, one annotation per trial
    (description = class name, duration = trial length), electrode positions in the head
    frame; plus ``world.json`` (parameters and truth).
    """
    import mne

    from neurodecode.data.sensors import write_raw

    out_dir = Path(out_dir)
    paths: list[Path] = []
    for subject, data in world.subjects.items():
        info = mne.create_info(data.info["ch_names"], data.info["sfreq"], "eeg")
        info.set_montage(
            mne.channels.make_dig_montage(
                dict(zip(data.info["ch_names"], np.asarray(data.info["ch_pos"]), strict=True)),
                coord_frame="head",
            )
        )
        sessions = data.metadata["session"].to_numpy()
        for session in dict.fromkeys(sessions):
            trials = np.asarray(data.X)[sessions == session]
            labels = data.y[sessions == session]
            rng = np.random.default_rng([world.params["seed"], int(subject), int(session), 1])
            raw = _continuous(trials, labels, info, rng)
            name = f"sub-{subject}_ses-{session}_task-imagery_eeg.fif"
            paths.append(write_raw(raw, out_dir / f"sub-{subject}" / "eeg" / name))
    paths.append(
        write_json(
            out_dir / "world.json", {"name": NAME, "params": world.params, "truth": world.truth}
        )
    )
    return paths


def _continuous(trials: np.ndarray, labels: np.ndarray, info, rng: np.random.Generator):
    """Trials ``(n, n_channels, n_times)`` joined with background gaps, as ``mne.io.RawArray``."""
    import mne

    n, n_channels, n_times = trials.shape
    gap = int(round(_GAP * info["sfreq"]))
    scale = trials.std()
    blocks = []
    for trial in trials:
        background = (scale * _pink(rng, (n_channels, gap))).astype(np.float32)
        blocks += [background.astype(np.float64), trial]
    onsets = (gap + np.arange(n) * (gap + n_times)) / info["sfreq"]
    raw = mne.io.RawArray(np.concatenate(blocks, axis=1), info.copy(), verbose="error")
    raw.set_annotations(
        mne.Annotations(onsets, n_times / info["sfreq"], [str(v) for v in labels])
    )
    return raw


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through
    :func:`~neurodecode.data.sensors.load_raw_epochs` (trials from the annotations)."""
    from neurodecode.data.sensors import load_raw_epochs

    directory = Path(directory)
    manifest = read_manifest(directory, NAME)
    p = manifest["params"]
    n_times = int(round(p["duration"] * p["sfreq"]))
    subjects = {}
    for s in range(1, p["n_subjects"] + 1):
        parts = []
        for session in range(1, p["n_sessions"] + 1):
            path = directory / f"sub-{s}" / "eeg" / f"sub-{s}_ses-{session}_task-imagery_eeg.fif"
            n = p["n_trials_per_class"] * len(CLASSES)
            meta = pd.DataFrame(
                {"session": [str(session)] * n,
                 "run": [str(r) for r in np.arange(n) * p["n_runs"] // n]}
            )  # fmt: skip
            parts.append(
                load_raw_epochs(
                    path, subject=str(s), event_id={c: i + 1 for i, c in enumerate(CLASSES)},
                    tmin=0.0, tmax=(n_times - 1) / p["sfreq"], baseline=None, metadata=meta,
                    expected_sfreq=p["sfreq"],
                )  # fmt: skip
            )
        first = parts[0]
        subjects[str(s)] = TrialData(
            X=np.concatenate([d.X for d in parts]), subject=str(s), modality="eeg",
            y=np.concatenate([d.y for d in parts]),
            metadata=pd.concat([d.metadata[["session", "run"]] for d in parts],
                               ignore_index=True),
            info=first.info,
        )  # fmt: skip
    return SyntheticWorld(name=NAME, subjects=subjects, truth=manifest["truth"], params=p)


def _trials(X: list, y: list, sessions: list, runs: list, subject: str, channels,
            ch_pos, sfreq: float) -> TrialData:
    """One subject's sessions as EEG TrialData (volts, stored at float32 precision)."""
    X = (np.concatenate(X) * _SCALE).astype(np.float32).astype(np.float64)
    info = dict(sfreq=sfreq, ch_names=list(channels), ch_types=["eeg"] * len(channels),
                ch_pos=ch_pos, tmin=0.0)
    return TrialData(X=X, subject=subject, modality="eeg", y=np.array(y),
                     metadata=pd.DataFrame({"session": sessions, "run": runs}), info=info)
