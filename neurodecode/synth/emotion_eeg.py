"""``synthetic-emotion-eeg``: DREAMER-like EEG with ordinal valence and arousal ratings.

Like DREAMER (Katsigiannis & Ramzan 2018, IEEE JBHI 22:98-107), every subject watches a set
of film clips with a 14-channel Emotiv EPOC headset at 128 Hz and rates each clip's valence and
arousal on a 1-5 scale; the recordings are cut into 1-s segments that inherit the clip's
ratings (the protocol of HiSTN and most DREAMER decoders).

Planted effects (the truth a decoder must find):

- **valence ↔ frontal alpha asymmetry**: alpha (8-13 Hz) generators under the left (AF3, F3,
  F7, FC5) and right (AF4, F4, F8, FC6) frontal electrodes whose amplitudes scale as
  ``exp(∓ g_v (valence - 3) / 2)``: higher valence, less left alpha, i.e. more left frontal
  activation (Davidson's approach/withdrawal asymmetry);
- **arousal ↔ beta and gamma power**: 13-30 Hz and 30-45 Hz generators over the temporal and
  frontal sites whose amplitudes scale as ``exp(g_a (arousal - 3) / 2)``.

Nuisances: spatially smooth 1/f background, a posterior alpha generator whose power varies from
clip to clip independently of the ratings, clip-to-clip changes of overall alpha level,
subject-specific gains and source positions, white sensor noise. A subject's ratings are the
clip's intended ratings plus rating noise, so subjects disagree a little, as in DREAMER.

Files: one EDF per subject (``sub-<s>/sub-<s>_task-films_eeg.edf``) whose annotations mark each
1-s segment with its clip (``clip_01``...), a ``ratings.tsv`` (subject, clip, valence,
arousal) and ``world.json``. DREAMER itself is distributed as one MATLAB file; EDF is used here
because it is a real EEG format that MNE reads, so the generic sensor loader is tested end to
end.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path, write_json
from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.synth import SyntheticWorld
from neurodecode.synth._sensor import colored_noise, gaussian_pattern, read_manifest, subject_rng

NAME = "synthetic-emotion-eeg"
EMOTIV_CHANNELS = (
    "AF3",
    "F7",
    "F3",
    "FC5",
    "T7",
    "P7",
    "O1",
    "O2",
    "P8",
    "T8",
    "FC6",
    "F4",
    "F8",
    "AF4",
)
LEFT_FRONTAL = ("AF3", "F3", "F7", "FC5")
RIGHT_FRONTAL = ("AF4", "F4", "F8", "FC6")
POSTERIOR = ("O1", "O2", "P7", "P8")
TEMPORAL = ("T7", "T8", "F7", "F8")
RATINGS = (1, 2, 3, 4, 5)
BANDS = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}
# Source amplitudes at a neutral rating (volts).
AMPLITUDE = {"background": 10e-6, "alpha": 8e-6, "beta": 6e-6, "gamma": 3e-6, "sensor": 1e-6}


def emotiv_info(sfreq: float = 128.0):
    """:class:`mne.Info` of the Emotiv EPOC's 14 channels with 10-20 positions from MNE.

    Positions come from MNE's template 10-20 montage (``standard_1020``, called
    ``colin27_1020`` from MNE 1.13 on).
    """
    import mne

    names = mne.channels.get_builtin_montages()
    montage = mne.channels.make_standard_montage(
        "colin27_1020" if "colin27_1020" in names else "standard_1020"
    )
    info = mne.create_info(list(EMOTIV_CHANNELS), float(sfreq), "eeg")
    info.set_montage(montage)
    return info


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_clips: int = 18,
    segments_per_clip: int = 10,
    sfreq: float = 128.0,
    rating_noise: float = 0.4,
    effect: float = 1.0,
) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, default 4
        Subjects ``"1"``...; DREAMER has 23.
    seed : int
        Everything is deterministic in ``seed``; subject ``s`` is the same whatever
        ``n_subjects``.
    n_clips : int
        Film clips per subject (DREAMER: 18); intended ratings cycle through 1-5 so every
        rating occurs when ``n_clips >= 5``.
    segments_per_clip : int
        1-s segments per clip.
    sfreq : float
        Sampling rate (Hz); the Emotiv EPOC samples at 128 Hz.
    rating_noise : float
        Standard deviation (rating steps) of a subject's rating around the clip's intended one.
    effect : float
        Scales the planted gains ``g_v`` and ``g_a`` (0 plants nothing).

    Returns
    -------
    SyntheticWorld
        ``subjects[s].X`` is ``(n_clips * segments_per_clip, 14, sfreq)`` in volts, ``y`` the
        valence rating; ``metadata`` has subject, session (``"1"``), clip, segment, valence,
        arousal, onset (s).
    """
    n_subjects = 4 if n_subjects is None else int(n_subjects)
    if n_subjects < 1 or n_clips < 1 or segments_per_clip < 1:
        raise DataError(
            f"{NAME}: n_subjects, n_clips and segments_per_clip must be >= 1, got "
            f"{n_subjects}, {n_clips}, {segments_per_clip}"
        )
    rng = np.random.default_rng(seed)
    intended_valence = rng.permutation(np.resize(RATINGS, n_clips))
    intended_arousal = rng.permutation(np.resize(RATINGS, n_clips))
    info = emotiv_info(sfreq)
    pos = np.array([ch["loc"][:3] for ch in info["chs"]])
    n_times = int(round(sfreq))
    subjects: dict[str, TrialData] = {}
    gains: dict[str, dict[str, float]] = {}
    for s in range(1, n_subjects + 1):
        srng = subject_rng(seed, s)
        valence = _rate(srng, intended_valence, rating_noise)
        arousal = _rate(srng, intended_arousal, rating_noise)
        gain = {
            "valence": effect * srng.uniform(0.5, 0.7),
            "arousal": effect * srng.uniform(0.5, 0.7),
        }
        data = _record(srng, pos, valence, arousal, gain, segments_per_clip * n_times, sfreq)
        X = data.reshape(len(EMOTIV_CHANNELS), -1, n_times).transpose(1, 0, 2)
        clip = np.repeat(np.arange(1, n_clips + 1), segments_per_clip)
        meta = pd.DataFrame(
            {
                "subject": str(s),
                "session": "1",
                "clip": clip,
                "segment": np.tile(np.arange(segments_per_clip), n_clips),
                "valence": valence[clip - 1],
                "arousal": arousal[clip - 1],
                "onset": np.arange(len(clip)) * n_times / sfreq,
            }
        )
        subjects[str(s)] = TrialData(
            X=X,
            subject=str(s),
            modality="eeg",
            y=meta["valence"].to_numpy(),
            metadata=meta,
            info=_trial_info(info),
        )
        gains[str(s)] = gain
    params = dict(
        n_subjects=n_subjects,
        seed=seed,
        n_clips=n_clips,
        segments_per_clip=segments_per_clip,
        sfreq=sfreq,
        rating_noise=rating_noise,
        effect=effect,
    )
    truth = {
        "intended_valence": intended_valence.tolist(),
        "intended_arousal": intended_arousal.tolist(),
        "gains": gains,
        "valence_feature": "alpha (8-13 Hz) log power, right minus left frontal",
        "arousal_feature": "beta (13-30 Hz) and gamma (30-45 Hz) log power, temporal/frontal",
        "left_frontal": list(LEFT_FRONTAL),
        "right_frontal": list(RIGHT_FRONTAL),
    }
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=None, truth=truth, params=params)


def _rate(rng: np.random.Generator, intended: np.ndarray, noise: float) -> np.ndarray:
    """A subject's ordinal ratings: intended rating + Gaussian noise, rounded into 1-5."""
    noisy = intended + noise * rng.standard_normal(len(intended))
    return np.clip(np.rint(noisy), RATINGS[0], RATINGS[-1]).astype(int)


def _record(
    rng: np.random.Generator,
    pos: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray,
    gain: dict[str, float],
    n_times: int,
    sfreq: float,
) -> np.ndarray:
    """One subject's recording, clip after clip: ``(n_channels, n_clips * n_times)`` volts."""
    names = list(EMOTIV_CHANNELS)

    def pattern(group: tuple[str, ...], width: float) -> np.ndarray:
        centre = pos[[names.index(c) for c in group]].mean(0) + rng.normal(0, 0.005, 3)
        return gaussian_pattern(pos, centre, width)

    smooth = np.exp(-np.sum((pos[:, None] - pos[None]) ** 2, -1) / (2 * 0.04**2))
    smooth /= np.linalg.norm(smooth, axis=1, keepdims=True)
    patterns = {
        "alpha_left": pattern(LEFT_FRONTAL, 0.03),
        "alpha_right": pattern(RIGHT_FRONTAL, 0.03),
        "alpha_posterior": pattern(POSTERIOR, 0.04),
        "fast": pattern(TEMPORAL, 0.06) + 0.5 * pattern(LEFT_FRONTAL + RIGHT_FRONTAL, 0.05),
    }
    clips = []
    for v, a in zip(valence, arousal, strict=True):
        alpha_level = np.exp(0.2 * rng.standard_normal())  # clip-to-clip alpha state
        asym = gain["valence"] * (v - 3) / 2
        fast = np.exp(gain["arousal"] * (a - 3) / 2)
        alpha = colored_noise(rng, 3, n_times, sfreq, 0.0, BANDS["alpha"])
        beta = colored_noise(rng, 1, n_times, sfreq, 0.0, BANDS["beta"])[0]
        gamma = colored_noise(rng, 1, n_times, sfreq, 0.0, BANDS["gamma"])[0]
        x = AMPLITUDE["background"] * smooth @ colored_noise(rng, len(names), n_times, sfreq)
        x += (
            AMPLITUDE["alpha"]
            * alpha_level
            * (
                np.exp(-asym) * np.outer(patterns["alpha_left"], alpha[0])
                + np.exp(asym) * np.outer(patterns["alpha_right"], alpha[1])
                + np.exp(0.4 * rng.standard_normal())
                * np.outer(patterns["alpha_posterior"], alpha[2])
            )
        )
        x += fast * np.outer(
            patterns["fast"], AMPLITUDE["beta"] * beta + AMPLITUDE["gamma"] * gamma
        )
        x += AMPLITUDE["sensor"] * rng.standard_normal(x.shape)
        clips.append(x)
    return np.concatenate(clips, axis=1)


def _trial_info(info) -> dict:
    """The TrialData ``info`` of 1-s segments recorded with ``info``."""
    return {
        "sfreq": float(info["sfreq"]),
        "ch_names": list(info["ch_names"]),
        "ch_types": ["eeg"] * len(info["ch_names"]),
        "ch_pos": np.array([ch["loc"][:3] for ch in info["chs"]]),
        "tmin": 0.0,
    }


# ----------------------------------------------------------------------------- files
def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write one EDF per subject (segments annotated by clip), ``ratings.tsv``, ``world.json``.

    Returns
    -------
    list of Path
        The files written, every one atomically.
    """
    import mne

    from neurodecode.data.sensors import write_raw

    out_dir = Path(out_dir)
    info = emotiv_info(world.params["sfreq"])
    paths: list[Path] = []
    ratings = []
    for subject, data in world.subjects.items():
        X = np.asarray(data.X)
        raw = mne.io.RawArray(np.concatenate(list(X), axis=1), info.copy(), verbose="error")
        meta = data.metadata
        raw.set_annotations(
            mne.Annotations(
                onset=meta["onset"].to_numpy(),
                duration=np.full(len(meta), X.shape[-1] / info["sfreq"]),
                description=[_clip_name(c) for c in meta["clip"]],
            )
        )
        paths.append(write_raw(raw, out_dir / f"sub-{subject}" / _edf_name(subject)))
        ratings.append(meta.drop_duplicates("clip")[["subject", "clip", "valence", "arousal"]])
    with atomic_path(out_dir / "ratings.tsv") as tmp:
        pd.concat(ratings).to_csv(tmp, sep="\t", index=False)
    paths.append(out_dir / "ratings.tsv")
    paths.append(
        write_json(
            out_dir / "world.json", {"name": NAME, "params": world.params, "truth": world.truth}
        )
    )
    return paths


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through :func:`~neurodecode.data.load_raw_epochs`.

    Segment labels come from the annotations, ratings from ``ratings.tsv``.
    """
    from neurodecode.data.sensors import load_raw_epochs

    directory = Path(directory)
    manifest = read_manifest(directory, NAME)
    params = manifest["params"]
    ratings_path = directory / "ratings.tsv"
    if not ratings_path.is_file():
        raise DataError(
            f"{ratings_path}: not found; rewrite the folder with `neurodecode synth {NAME}`"
        )
    ratings = pd.read_csv(ratings_path, sep="\t", dtype={"subject": str})
    info = emotiv_info(params["sfreq"])
    ch_pos = {ch["ch_name"]: ch["loc"][:3] for ch in info["chs"]}
    n_times = int(round(params["sfreq"]))
    segments = params["segments_per_clip"]
    subjects: dict[str, TrialData] = {}
    for s in range(1, params["n_subjects"] + 1):
        subject = str(s)
        table = ratings[ratings["subject"] == subject].set_index("clip")
        clip = np.repeat(np.arange(1, params["n_clips"] + 1), segments)
        meta = pd.DataFrame(
            {
                "subject": subject,
                "session": "1",
                "clip": clip,
                "segment": np.tile(np.arange(segments), params["n_clips"]),
                "valence": table.loc[clip, "valence"].to_numpy(),
                "arousal": table.loc[clip, "arousal"].to_numpy(),
                "onset": np.arange(len(clip)) * n_times / params["sfreq"],
            }
        )
        data = load_raw_epochs(
            directory / f"sub-{subject}" / _edf_name(subject),
            subject=subject,
            event_id={_clip_name(c): int(c) for c in np.unique(clip)},
            tmin=0.0,
            tmax=(n_times - 1) / params["sfreq"],
            metadata=meta,
            modality="eeg",
            expected_sfreq=params["sfreq"],
            ch_pos=ch_pos,
        )
        subjects[subject] = replace(
            data, y=data.metadata["valence"].to_numpy(), metadata=data.metadata[list(meta)]
        )
    return SyntheticWorld(
        name=NAME, subjects=subjects, stimuli=None, truth=manifest["truth"], params=params
    )


def _clip_name(clip: int) -> str:
    return f"clip_{int(clip):02d}"


def _edf_name(subject: str) -> str:
    return f"sub-{subject}_task-films_eeg.edf"
