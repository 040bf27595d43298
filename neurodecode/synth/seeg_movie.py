"""``synthetic-seeg-movie``: SEEG during a "movie" with known multimodal sites.

Modelled on Subramaniam et al. (2024), "Revealing vision-language integration in the brain with
multimodal networks" (ICML), which recorded SEEG from the Brain Treebank subjects (Wang et al.
2024) watching films and called an electrode *multimodal* when a vision-language network's
features predicted it better than unimodal vision, unimodal language and their concatenation.

The movie is a sequence of events (word onsets) with three feature streams:

- ``vision`` (``(n_events, d)``): what is on screen; scene content drifts slowly (AR(1));
- ``language`` (``(n_events, d)``): the word being heard;
- ``interaction`` (``(n_events, d)``): the vision-language interaction, the elementwise
  product of fixed projections of the two, standardised. It is not a linear function of
  ``[vision, language]``, so only a model that sees the interaction explains sites driven by it.

Each electrode is one of ``vision``, ``language``, ``multimodal`` or ``none``. Event ``t`` evokes
at electrode ``e`` a transient (Gamma-shaped, peak latency 150-300 ms) scaled by
``w_e · f_t``: ``f`` is the vision stream for vision sites, language for language sites and
interaction (plus weaker unimodal parts) for multimodal sites; ``none`` sites only carry noise.
Noise is 1/f background plus white amplifier noise. The multimodal sites are the truth
(``truth["site_type"]``, ``truth["multimodal_sites"]``).

Files (Brain Treebank layout, via :func:`neurodecode.data.treebank.write_brain_treebank`): per
subject one HDF5 session with ``data/electrode_i``, electrode labels JSON, a trigger-timing
CSV (a trigger per second of movie time; one playback pause per session); plus
``movie/words.csv`` (word onsets in movie time), ``movie/features.npz`` (the three streams, no
pickles) and ``world.json``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path, write_json
from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.data.errors import DataError
from neurodecode.synth import SyntheticWorld
from neurodecode.synth._sensor import colored_noise, evoked_kernel, read_manifest, subject_rng

NAME = "synthetic-seeg-movie"
STREAMS = ("vision", "language", "interaction")
SITE_TYPES = ("vision", "language", "multimodal", "none")
#: Share of electrodes of each type (multimodal ~13% as reported by Subramaniam et al.).
SITE_SHARES = {"vision": 0.25, "language": 0.25, "multimodal": 0.15, "none": 0.35}
CONTACT_SPACING = 0.0035  # m between neighbouring contacts on a shaft
RESPONSE = 20e-6  # V, evoked amplitude for a unit feature drive
NOISE = {"background": 15e-6, "white": 3e-6}  # V
SESSION = 1  # the Brain Treebank "trial" number of the single viewing
TMIN, TMAX = -0.125, 0.5  # s, epoch window around each event


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_events: int = 240,
    n_electrodes: int = 40,
    n_features: int = 6,
    sfreq: float = 512.0,
    effect: float = 1.0,
) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, default 2
        Subjects ``"1"``...; all watch the same movie (the Brain Treebank has 10 subjects).
    seed : int
        Everything is deterministic in ``seed``; subject ``s`` is the same whatever
        ``n_subjects``.
    n_events : int
        Word onsets in the movie, 0.4-0.8 s apart.
    n_electrodes : int
        Contacts per subject, on shafts of 8 (labels ``A1``..``A8``, ``B1``...).
    n_features : int
        Dimension of each feature stream.
    sfreq : float
        Sampling rate (Hz). The Brain Treebank records at 2048 Hz; the default is lower to
        keep the world small.
    effect : float
        Scales every evoked response (0 plants nothing).

    Returns
    -------
    SyntheticWorld
        ``subjects[s].X`` is ``(n_events, n_electrodes, n_times)`` volts, epochs from -0.125 to
        0.5 s around each word onset (``metadata``: ``start`` in movie time, ``event``, recording
        ``sample``); ``stimulus_ids`` the event index; ``truth`` holds the
        feature streams, each site's type, the multimodal site labels and the continuous
        recordings (``"recordings"``: subject → ``(n_electrodes, n_samples)``).
    """
    n_subjects = 2 if n_subjects is None else int(n_subjects)
    if min(n_subjects, n_events, n_electrodes, n_features) < 1:
        raise DataError(f"{NAME}: n_subjects, n_events, n_electrodes and n_features must be >= 1")
    rng = np.random.default_rng(seed)
    features = movie_features(rng, n_events, n_features)
    # Word onsets in movie time (s), on the sample grid so that alignment is exact.
    onsets = np.rint((0.5 + np.cumsum(rng.uniform(0.4, 0.8, n_events))) * sfreq) / sfreq
    window = np.arange(int(round(TMIN * sfreq)), int(round(TMAX * sfreq)) + 1)
    subjects: dict[str, TrialData] = {}
    truth: dict = {
        "features": features,
        "site_type": {},
        "multimodal_sites": {},
        "triggers": {},
        "recordings": {},
    }
    for s in range(1, n_subjects + 1):
        srng = subject_rng(seed, s)
        labels, pos = electrode_layout(srng, n_electrodes)
        types = srng.permutation(_site_types(n_electrodes))
        playback = _playback(srng, onsets[-1] + TMAX + 1.0)
        samples = _movie_samples(onsets, playback, sfreq)
        end = np.array([playback["movie_end"] + 1.0])  # the recording runs on 1 s after
        n_samples = int(_movie_samples(end, playback, sfreq)[0])
        drive = _site_drive(srng, types, features)  # (n_electrodes, n_events)
        data = _record(srng, drive * effect, samples, n_samples, sfreq)
        meta = pd.DataFrame({"start": onsets, "event": np.arange(n_events), "sample": samples})
        subjects[str(s)] = TrialData(
            X=data[:, samples[:, None] + window[None]].transpose(1, 0, 2),
            subject=str(s),
            modality="seeg",
            stimulus_ids=np.arange(n_events),
            metadata=meta,
            info={
                "sfreq": float(sfreq),
                "ch_names": labels,
                "ch_types": ["seeg"] * n_electrodes,
                "ch_pos": pos,
                "tmin": window[0] / sfreq,
            },
        )
        truth["site_type"][str(s)] = types.tolist()
        truth["multimodal_sites"][str(s)] = [
            lab for lab, kind in zip(labels, types, strict=True) if kind == "multimodal"
        ]
        truth["triggers"][str(s)] = _trigger_table(playback, sfreq)
        truth["recordings"][str(s)] = data
    stimuli = StimulusSet(ids=np.arange(n_events), attributes=pd.DataFrame({"start": onsets}))
    params = dict(
        n_subjects=n_subjects,
        seed=seed,
        n_events=n_events,
        n_electrodes=n_electrodes,
        n_features=n_features,
        sfreq=sfreq,
        effect=effect,
    )
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=stimuli, truth=truth, params=params)


def _playback(rng: np.random.Generator, movie_end: float) -> dict[str, float]:
    """When the recording started before the movie, and one pause: where and how long (s)."""
    return {
        "offset": float(rng.integers(2, 5)),
        "pause_at": float(np.floor(movie_end * rng.uniform(0.3, 0.7))),
        "pause_length": float(rng.integers(3, 8)),
        "movie_end": float(np.ceil(movie_end)),
    }


def _movie_samples(times: np.ndarray, playback: dict, sfreq: float) -> np.ndarray:
    """Recording samples at which movie times ``times`` (s) were on screen."""
    shift = np.where(times > playback["pause_at"], playback["pause_length"], 0.0)
    return np.rint((playback["offset"] + times + shift) * sfreq).astype(np.int64)


def _trigger_table(playback: dict, sfreq: float) -> pd.DataFrame:
    """A trigger every second of movie time, plus the row where playback paused.

    After the pause the movie resumes at the same movie time, ``pause_length`` seconds later
    in the recording.
    """
    movie_time = np.arange(0.0, playback["movie_end"] + 1.0)
    index = _movie_samples(movie_time, playback, sfreq)
    at = playback["pause_at"]
    resume = (playback["offset"] + at + playback["pause_length"]) * sfreq
    index[movie_time == at] = int(round(resume))
    table = pd.DataFrame({"type": "trigger", "movie_time": movie_time, "index": index})
    pause = pd.DataFrame(
        {
            "type": ["pause"],
            "movie_time": [at],
            "index": [int(round((playback["offset"] + at) * sfreq))],
        }
    )
    return pd.concat([table, pause]).sort_values("index", kind="stable").reset_index(drop=True)


def movie_features(rng: np.random.Generator, n_events: int, dim: int) -> dict[str, np.ndarray]:
    """The three feature streams of the movie, each ``(n_events, dim)``, standardised."""
    vision = np.zeros((n_events, dim))
    vision[0] = rng.standard_normal(dim)
    for t in range(1, n_events):  # scenes drift slowly
        vision[t] = 0.6 * vision[t - 1] + 0.8 * rng.standard_normal(dim)
    language = rng.standard_normal((n_events, dim))
    a = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    b = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    interaction = (vision @ a) * (language @ b)
    return {
        name: _standardise(x)
        for name, x in zip(STREAMS, (vision, language, interaction), strict=True)
    }


def electrode_layout(rng: np.random.Generator, n_electrodes: int) -> tuple[list[str], np.ndarray]:
    """Contact labels (``A1``...) and head-frame positions (m) on straight shafts of 8.

    Each shaft enters from a random point on a 7-cm sphere and points towards the centre.
    """
    n_shafts = -(-n_electrodes // 8)
    labels, pos = [], []
    for k in range(n_shafts):
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        entry = 0.07 * direction
        for c in range(min(8, n_electrodes - 8 * k)):
            labels.append(f"{chr(ord('A') + k)}{c + 1}")
            pos.append(entry - (0.01 + c * CONTACT_SPACING) * direction)
    return labels, np.array(pos)


def _site_types(n: int) -> np.ndarray:
    counts = {t: int(round(share * n)) for t, share in SITE_SHARES.items()}
    counts["none"] = n - sum(v for t, v in counts.items() if t != "none")
    return np.concatenate([np.full(c, t, dtype=object) for t, c in counts.items()]).astype(str)


def _site_drive(rng: np.random.Generator, types: np.ndarray, features: dict) -> np.ndarray:
    """Per electrode, the event-by-event response amplitude ``(n_electrodes, n_events)``."""
    n_events, dim = features["vision"].shape
    drive = np.zeros((len(types), n_events))
    for e, kind in enumerate(types):
        w = {name: rng.standard_normal(dim) / np.sqrt(dim) for name in STREAMS}
        if kind in ("vision", "language"):
            drive[e] = features[kind] @ w[kind]
        elif kind == "multimodal":
            drive[e] = features["interaction"] @ w["interaction"] + 0.3 * (
                features["vision"] @ w["vision"] + features["language"] @ w["language"]
            )
    return drive


def _record(
    rng: np.random.Generator,
    drive: np.ndarray,
    event_samples: np.ndarray,
    n_samples: int,
    sfreq: float,
) -> np.ndarray:
    """Continuous recording ``(n_electrodes, n_samples)`` volts: evoked transients + noise."""
    n_electrodes = drive.shape[0]
    kernel_times = np.arange(int(0.6 * sfreq)) / sfreq
    impulses = np.zeros((n_electrodes, n_samples))
    impulses[:, event_samples] = drive
    data = np.empty((n_electrodes, n_samples))
    for e in range(n_electrodes):
        kernel = evoked_kernel(kernel_times, rng.uniform(0.15, 0.3), 0.06)
        data[e] = np.convolve(impulses[e], kernel)[:n_samples]
    data *= RESPONSE
    data += NOISE["background"] * colored_noise(rng, n_electrodes, n_samples, sfreq)
    data += NOISE["white"] * rng.standard_normal(data.shape)
    return data.astype(np.float32)


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / x.std(0)


# ----------------------------------------------------------------------------- files
def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write every subject's session in the Brain Treebank layout, the movie, ``world.json``.

    The movie goes to ``movie/words.csv`` (word onsets ``start`` in movie time, ``event``) and
    ``movie/features.npz`` (the three streams, ``(n_events, d)`` each).
    """
    from neurodecode.data.treebank import write_brain_treebank

    out_dir = Path(out_dir)
    if "recordings" not in world.truth:
        raise DataError(
            f"{NAME}: this world has no continuous recordings (a world read back from files); "
            "write the world returned by make()"
        )
    paths: list[Path] = []
    for subject, data in world.subjects.items():
        paths += write_brain_treebank(
            out_dir,
            SESSION,
            world.truth["recordings"][subject],
            data.info["sfreq"],
            data.info["ch_names"],
            world.truth["triggers"][subject],
            ch_pos=data.info["ch_pos"],
            subject=subject,
        )
    words = out_dir / "movie" / "words.csv"
    with atomic_path(words) as tmp:
        pd.DataFrame(
            {"start": world.stimuli.attributes["start"], "event": world.stimuli.ids}
        ).to_csv(tmp, index=False)
    features = out_dir / "movie" / "features.npz"
    with atomic_path(features) as tmp:
        np.savez(tmp, **world.truth["features"])
    manifest = {
        "name": NAME,
        "params": world.params,
        "truth": {k: world.truth[k] for k in ("site_type", "multimodal_sites")},
    }
    return [*paths, words, features, write_json(out_dir / "world.json", manifest)]


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through
    :func:`~neurodecode.data.treebank.load_brain_treebank` (movie-time words aligned through
    the trigger tables, pauses included)."""
    from neurodecode.data.treebank import load_brain_treebank

    directory = Path(directory)
    manifest = read_manifest(directory, NAME)
    params = manifest["params"]
    movie = directory / "movie"
    for path in (movie / "words.csv", movie / "features.npz"):
        if not path.is_file():
            raise DataError(
                f"{path}: not found; rewrite the folder with `neurodecode synth {NAME}`"
            )
    words = pd.read_csv(movie / "words.csv")
    with np.load(movie / "features.npz", allow_pickle=False) as npz:
        features = {name: npz[name] for name in STREAMS}
    subjects = {}
    for s in range(1, params["n_subjects"] + 1):
        data = load_brain_treebank(
            directory, str(s), SESSION, words, tmin=TMIN, tmax=TMAX, stimulus_column="event"
        )
        subjects[str(s)] = replace(data, y=None)
    return SyntheticWorld(
        name=NAME,
        subjects=subjects,
        stimuli=StimulusSet(ids=words["event"].to_numpy(), attributes=words[["start"]]),
        truth={"features": features, **manifest["truth"]},
        params=params,
    )
