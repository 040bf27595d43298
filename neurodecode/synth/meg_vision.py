"""``synthetic-meg-vision``: evoked MEG to the stimulus world of ``synthetic-vision``.

Modelled on THINGS-MEG (Hebart et al. 2023, eLife 12:e82580) as used by Benchetrit, Banville &
King (ICLR 2024): every subject sees the same training images once and a shared test set
several times, on a 275-channel CTF system. The images, captions and semantic embedding come
from :func:`neurodecode.synth.vision.make_stimuli`, so MEG and fMRI decoders can share
targets.

The brain is a few latent sources with known time courses:

- **early** (occipital, peak ~100 ms) sources driven by *low-level* image content: mean
  red, green, blue and luminance in a 4 x 4 grid of image blocks, projected at random;
- **late** (bilateral temporal, peak 250-400 ms) sources driven by the *semantic* embedding
  (``tanh`` of random projections), as image category is decoded later than low-level
  features in MEG (Cichy et al. 2014, Nat. Neurosci. 17:455);
- a stimulus-independent onset response on the early sources.

Each subject sees the sources through its own dipolar field patterns on real sensor
positions (MNE's ``CTF-275`` layout; positions are projected onto a 12-cm sphere for 3-D),
jittered around the region's centre. Noise: 1/f background activity of many random
sources, trial-to-trial gain changes, white sensor noise. Amplitudes are in tesla (100 fT
scale).

Files: per subject a FIF raw file (``sub-<s>/meg/sub-<s>_task-things_raw.fif``) with a
trigger channel ``UPPT001`` whose value is the stimulus id + 1, a BIDS-like events table
(``..._events.tsv``: onset, value, stimulus_id, split, repetition); the stimuli as PNG files
with a TSV of captions and attributes; ``world.json``.
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
from neurodecode.synth._sensor import (
    colored_noise,
    evoked_kernel,
    gaussian_pattern,
    read_manifest,
    subject_rng,
)

NAME = "synthetic-meg-vision"
LAYOUT = "CTF-275"
TRIGGER = "UPPT001"  # the trigger channel of CTF systems (THINGS-MEG)
HEAD_RADIUS = 0.12  # m, sphere the layout is projected onto
TMIN, TMAX = -0.1, 0.6  # s, epoch window
SOURCES = {
    # region: (number of sources, layout centre (x, y), peak latency range (s), width (s))
    "early": (4, (0.5, 0.15), (0.09, 0.12), 0.03),
    "late_left": (4, (0.17, 0.45), (0.25, 0.4), 0.07),
    "late_right": (4, (0.83, 0.45), (0.25, 0.4), 0.07),
}
AMPLITUDE = {"evoked": 1.5e-13, "onset": 1e-13, "background": 1.5e-13, "sensor": 2e-14}  # T
N_BACKGROUND = 30
EVENT_COLUMNS = ("trial", "stimulus_id", "split", "repetition")  # events.tsv, after onset, value


def sensor_layout() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Channel names, 2-D layout positions and 3-D head-frame positions of the CTF-275.

    Returns
    -------
    names : list of str
        ``MLC11``..., MNE's ``CTF-275`` layout names without the system suffix.
    pos2d : array, shape (275, 2)
        Layout centres (layout units, nose up).
    pos3d : array, shape (275, 3)
        Positions (m) on a sphere of radius :data:`HEAD_RADIUS`, by inverting the azimuthal
        equidistant projection of the layout (x right, y anterior, z up).
    """
    import mne

    layout = mne.channels.read_layout(LAYOUT)
    names = [n.split("-")[0] for n in layout.names]
    pos2d = layout.pos[:, :2] + layout.pos[:, 2:] / 2
    centred = pos2d - (pos2d.min(0) + pos2d.max(0)) / 2
    radius = np.hypot(*centred.T)
    theta = radius / radius.max() * np.deg2rad(100)
    phi = np.arctan2(centred[:, 1], centred[:, 0])
    pos3d = HEAD_RADIUS * np.column_stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
    )
    return names, pos2d, pos3d


#: Sensor systems a subject can be recorded with (``make(systems=...)``): MNE's layouts of the
#: CTF-275 and Neuromag Vectorview (306: 102 magnetometers, 204 planar gradiometers) helmets,
#: and the BioSemi 64-electrode EEG montage.
SYSTEMS = ("CTF-275", "Vectorview-all", "biosemi64")
EEG_SCALE = 1e7  # T -> V: 100 fT-scale fields become 1 uV-scale potentials


def system_sensors(system: str) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Channel names, MNE channel types, 2-D layout positions and 3-D positions (m) of a
    sensor system of :data:`SYSTEMS`.

    MEG layouts have no 3-D positions: they are projected onto a 12-cm sphere as in
    :func:`sensor_layout`. EEG positions come from MNE's standard montage (head frame), the
    2-D positions from the layout MNE builds for them (``make_eeg_layout``).
    """
    import mne

    if system == LAYOUT:
        names, pos2d, pos3d = sensor_layout()
        return names, ["mag"] * len(names), pos2d, pos3d
    if system == "Vectorview-all":
        layout = mne.channels.read_layout(system)
        pos2d = layout.pos[:, :2] + layout.pos[:, 2:] / 2
        types = ["mag" if n.endswith("1") else "grad" for n in layout.names]
        return list(layout.names), types, pos2d, _sphere_positions(pos2d)
    if system == "biosemi64":
        montage = mne.channels.make_standard_montage(system)
        info = mne.create_info(montage.ch_names, 100.0, "eeg")
        info.set_montage(montage)
        layout = mne.channels.find_layout(info, ch_type="eeg")
        pos2d = layout.pos[:, :2] + layout.pos[:, 2:] / 2
        pos3d = np.array([ch["loc"][:3] for ch in info["chs"]])
        return list(montage.ch_names), ["eeg"] * len(montage.ch_names), pos2d, pos3d
    raise DataError(f"{NAME}: unknown sensor system {system!r}; choose from {SYSTEMS}")


def _sphere_positions(pos2d: np.ndarray) -> np.ndarray:
    """Invert the azimuthal equidistant projection of a 2-D layout onto the head sphere."""
    centred = pos2d - (pos2d.min(0) + pos2d.max(0)) / 2
    radius = np.hypot(*centred.T)
    theta = radius / radius.max() * np.deg2rad(100)
    phi = np.arctan2(centred[:, 1], centred[:, 0])
    return HEAD_RADIUS * np.column_stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
    )


def meg_info(sfreq: float):
    """:class:`mne.Info` of a CTF-275-like system: axial gradiometers (MNE type ``mag``) at the
    :func:`sensor_layout` positions, radial orientation, plus the ``UPPT001`` trigger channel."""
    import mne
    from mne.io.constants import FIFF

    names, _, pos3d = sensor_layout()
    info = mne.create_info(names + [TRIGGER], float(sfreq), ["mag"] * len(names) + ["stim"])
    for ch, p in zip(info["chs"][: len(pos3d)], pos3d, strict=True):  # trigger keeps zeros
        normal = p / np.linalg.norm(p)
        ex = np.cross([0.0, 0.0, 1.0], normal)
        ex = ex / np.linalg.norm(ex) if np.linalg.norm(ex) > 1e-9 else np.array([1.0, 0, 0])
        ch["coil_type"] = FIFF.FIFFV_COIL_CTF_GRAD
        ch["loc"][:] = np.concatenate([p, ex, np.cross(normal, ex), normal])
    return info


def low_level_features(images: np.ndarray, grid: int = 4) -> np.ndarray:
    """Mean R, G, B and luminance in ``grid x grid`` image blocks, ``(n, grid*grid*4)``, in
    [0, 1]."""
    n, h, w, _ = images.shape
    rgb = images.astype(np.float64) / 255.0
    rgbl = np.concatenate([rgb, rgb.mean(-1, keepdims=True)], axis=-1)
    blocks = rgbl[:, : h - h % grid, : w - w % grid].reshape(n, grid, h // grid, grid, w // grid, 4)
    return blocks.mean(axis=(2, 4)).reshape(n, -1)


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_train: int = 120,
    n_test: int = 20,
    test_repetitions: int = 4,
    sfreq: float = 120.0,
    soa: tuple[float, float] = (0.9, 1.1),
    image_size: int = 32,
    effect: float = 1.0,
    systems: dict[str, str] | None = None,
) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, default 4
        Subjects ``"1"``... (THINGS-MEG has 4). Subject ``s`` is the same whatever
        ``n_subjects``.
    seed : int
        Everything is deterministic in ``seed``.
    n_train : int
        Training images, each shown once to every subject (stimulus ids ``n_test``...).
    n_test : int
        Shared test images (ids ``0..n_test-1``), each shown ``test_repetitions`` times.
    sfreq : float
        Sampling rate (Hz); Benchetrit et al. downsample THINGS-MEG to 120 Hz.
    soa : (float, float)
        Range of stimulus onset asynchronies (s); THINGS-MEG used 1.5 +- 0.2 s.
    image_size : int
        Side of the rendered images (pixels).
    effect : float
        Scales the stimulus-specific responses (0: only the onset response remains).
    systems : dict, optional
        Subject → sensor system of :data:`SYSTEMS` (default ``CTF-275`` for everyone), e.g.
        ``{"4": "Vectorview-all", "5": "biosemi64"}``: the same sources seen through another
        sensor set (EEG potentials scaled to volts by :data:`EEG_SCALE`; the field maps are
        the same dipolar maps on the layout, not a forward model of each sensor type). Worlds
        with other systems than CTF-275 are not written to files.

    Returns
    -------
    SyntheticWorld
        ``subjects[s].X`` is ``(n_trials, 275, n_times)`` in T, epochs from -0.1 to 0.6 s;
        ``stimulus_ids`` index ``stimuli``; ``metadata`` has trial, onset (s), split,
        repetition. ``truth`` holds the semantic embedding, low-level features, source
        time courses and the continuous recordings (``"recordings"``).
    """
    from neurodecode.synth.vision import make_stimuli

    n_subjects = 4 if n_subjects is None else int(n_subjects)
    if min(n_subjects, n_train + n_test, test_repetitions) < 1:
        raise DataError(f"{NAME}: need n_subjects >= 1, some images and test_repetitions >= 1")
    rng = np.random.default_rng(seed)
    stimuli, semantic = make_stimuli(n_test + n_train, seed=seed, image_size=image_size)
    low = _standardise(low_level_features(stimuli.images))
    sem = _standardise(semantic)
    drives = _source_drives(rng, low, sem)  # (n_stimuli, n_sources)
    kernels_t = np.arange(int(round(TMAX * sfreq)) + 1) / sfreq
    latencies, kernels = _source_kernels(rng, kernels_t)
    names, pos2d, _ = sensor_layout()
    info = meg_info(sfreq)
    window = np.arange(int(round(TMIN * sfreq)), int(round(TMAX * sfreq)) + 1)
    subjects: dict[str, TrialData] = {}
    recordings: dict[str, np.ndarray] = {}
    for s in range(1, n_subjects + 1):
        srng = subject_rng(seed, s)
        ids = np.concatenate(
            [np.arange(n_test, n_test + n_train), np.repeat(np.arange(n_test), test_repetitions)]
        )
        ids = ids[srng.permutation(len(ids))]
        # Repetitions in presentation order, 0 for the first showing (as neurodecode.data.nsd).
        repetition = pd.Series(ids).groupby(ids).cumcount().to_numpy()
        onsets = 2.0 + np.concatenate([[0.0], np.cumsum(srng.uniform(*soa, len(ids) - 1))])
        samples = np.rint(onsets * sfreq).astype(np.int64)
        n_samples = int(samples[-1] + (TMAX + 2.0) * sfreq)
        system = (systems or {}).get(str(s), LAYOUT)
        if system == LAYOUT:
            s_names, s_types, s_pos2d = names, ["mag"] * len(names), pos2d
            # FIF stores positions in float32
            s_pos3d = np.array([ch["loc"][:3] for ch in info["chs"][: len(names)]],
                               dtype=np.float32).astype(float)
        else:
            s_names, s_types, s_pos2d, s_pos3d = system_sensors(system)
            s_pos3d = s_pos3d.astype(np.float32).astype(float)
        patterns = _patterns(srng, s_pos2d)  # (n_channels, n_sources)
        data = _record(
            srng, patterns, s_pos2d, drives[ids] * effect, kernels, samples, n_samples, sfreq
        )
        if s_types[0] == "eeg":
            data *= EEG_SCALE
        meta = pd.DataFrame(
            {
                "trial": np.arange(len(ids)),
                "onset": samples / sfreq,
                "stimulus_id": ids,
                "split": np.where(ids < n_test, "test", "train"),
                "repetition": repetition,
            }
        )
        subjects[str(s)] = TrialData(
            X=data[:, samples[:, None] + window[None]].transpose(1, 0, 2),
            subject=str(s),
            modality="meg",
            stimulus_ids=ids,
            metadata=meta,
            info={
                "sfreq": float(sfreq),
                "ch_names": list(s_names),
                "ch_types": list(s_types),
                # FIF stores positions in float32
                "ch_pos": s_pos3d,
                "tmin": window[0] / sfreq,
            },
        )
        recordings[str(s)] = data
    params = dict(
        n_subjects=n_subjects,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        test_repetitions=test_repetitions,
        sfreq=sfreq,
        soa=list(soa),
        image_size=image_size,
        effect=effect,
        systems=dict(systems or {}),
    )
    truth = {
        "semantic": semantic,
        "low_level": low,
        "source_region": [r for r, (k, *_) in SOURCES.items() for _ in range(k)],
        "source_latency": latencies,
        "test_ids": np.arange(n_test),
        "recordings": recordings,
    }
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=stimuli, truth=truth, params=params)


def distractor_stimuli(world: SyntheticWorld, n: int):
    """``n`` images from the world's stimulus distribution that no subject ever saw (drawn
    from a separate seed; ids start after the world's): the extra candidates of the large
    retrieval set."""
    from neurodecode.data.containers import StimulusSet
    from neurodecode.synth.vision import make_stimuli

    seed = int(world.params.get("seed", 0)) + 7919
    extra, _ = make_stimuli(int(n), seed=seed, image_size=int(world.params["image_size"]))
    start = int(np.max(world.stimuli.ids)) + 1
    return StimulusSet(ids=extra.ids + start, images=extra.images, captions=extra.captions,
                       attributes=extra.attributes)


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / (x.std(0) + 1e-9)


def _source_drives(rng: np.random.Generator, low: np.ndarray, sem: np.ndarray) -> np.ndarray:
    """Stimulus-by-source amplitudes ``(n_stimuli, n_sources)``, unit variance per source.

    Early sources: random projections of the low-level features; late sources: ``tanh`` of
    random projections of the semantic embedding. Shared by all subjects.
    """
    columns = []
    for region, (k, *_rest) in SOURCES.items():
        feats = low if region == "early" else sem
        w = rng.standard_normal((feats.shape[1], k)) / np.sqrt(feats.shape[1])
        x = feats @ w
        columns.append(x if region == "early" else np.tanh(x))
    return _standardise(np.hstack(columns))


def _source_kernels(rng: np.random.Generator, times: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Peak latencies (s) and response kernels ``(n_sources, n_times)`` from stimulus onset."""
    latencies, kernels = [], []
    for k, _centre, (lo, hi), width in SOURCES.values():
        for _ in range(k):
            latency = float(rng.uniform(lo, hi))
            latencies.append(latency)
            kernels.append(evoked_kernel(times, latency, width))
    return latencies, np.array(kernels)


def _dipole(pos2d: np.ndarray, centre: np.ndarray, angle: float, width: float) -> np.ndarray:
    """A dipolar field map: a positive and a negative lobe either side of ``centre``."""
    offset = 0.6 * width * np.array([np.cos(angle), np.sin(angle)])
    field = gaussian_pattern(pos2d, centre + offset, width) - gaussian_pattern(
        pos2d, centre - offset, width
    )
    return field / np.abs(field).max()


def _patterns(rng: np.random.Generator, pos2d: np.ndarray) -> np.ndarray:
    """One subject's field maps of the latent sources ``(n_channels, n_sources)``."""
    maps = []
    for k, centre, _lat, _width in SOURCES.values():
        for _ in range(k):
            c = np.asarray(centre) + rng.normal(0, 0.04, 2)
            maps.append(_dipole(pos2d, c, rng.uniform(0, 2 * np.pi), rng.uniform(0.07, 0.1)))
    return np.array(maps).T


def _record(
    rng: np.random.Generator,
    patterns: np.ndarray,
    pos2d: np.ndarray,
    drives: np.ndarray,
    kernels: np.ndarray,
    samples: np.ndarray,
    n_samples: int,
    sfreq: float,
) -> np.ndarray:
    """Continuous recording ``(n_channels, n_samples)`` in T, float32."""
    from scipy.signal import fftconvolve

    n_sources = patterns.shape[1]
    gain = np.exp(0.2 * rng.standard_normal(len(samples)))  # trial-to-trial excitability
    impulses = np.zeros((n_sources, n_samples))
    impulses[:, samples] = (AMPLITUDE["evoked"] * drives * gain[:, None]).T
    n_early = SOURCES["early"][0]
    impulses[:n_early, samples] += AMPLITUDE["onset"] * gain
    sources = fftconvolve(impulses, kernels, axes=1)[:, :n_samples]
    data = patterns @ sources
    centres = rng.uniform(pos2d.min(0), pos2d.max(0), (N_BACKGROUND, 2))
    background = np.array([_dipole(pos2d, c, rng.uniform(0, 2 * np.pi), 0.15) for c in centres]).T
    data += (
        AMPLITUDE["background"] * background @ colored_noise(rng, N_BACKGROUND, n_samples, sfreq)
    )
    data += AMPLITUDE["sensor"] * rng.standard_normal(data.shape)
    return data.astype(np.float32)


# ----------------------------------------------------------------------------- files
def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write per subject a FIF raw file with a trigger channel and a BIDS-like events table,
    the stimulus table (``stimuli/stimuli.tsv``: id, caption, attributes) and ``world.json``.

    Images are not written: they are rebuilt exactly by
    :func:`neurodecode.synth.vision.make_stimuli` from the parameters in ``world.json``
    (``neurodecode synth synthetic-vision`` writes them as PNG files).
    """
    import mne

    from neurodecode.data.sensors import write_raw

    if "recordings" not in world.truth:
        raise DataError(
            f"{NAME}: this world has no continuous recordings (a world read back from files); "
            "write the world returned by make()"
        )
    other = {s: v for s, v in (world.params.get("systems") or {}).items() if v != LAYOUT}
    if other:
        raise DataError(f"{NAME}: only CTF-275 subjects are written to files; subjects "
                        f"{sorted(other)} use {sorted(set(other.values()))}")
    out_dir = Path(out_dir)
    info = meg_info(world.params["sfreq"])
    paths: list[Path] = []
    for subject, data in world.subjects.items():
        continuous = world.truth["recordings"][subject]
        trigger = np.zeros((1, continuous.shape[1]))
        samples = np.rint(data.metadata["onset"].to_numpy() * info["sfreq"]).astype(int)
        for offset in range(3):  # 25-ms trigger pulses
            trigger[0, samples + offset] = data.stimulus_ids + 1
        raw = mne.io.RawArray(np.vstack([continuous, trigger]), info.copy(), verbose="error")
        stem = out_dir / f"sub-{subject}" / "meg" / f"sub-{subject}_task-things"
        paths.append(write_raw(raw, stem.with_name(stem.name + "_raw.fif")))
        events = data.metadata.assign(value=data.stimulus_ids + 1)
        events_path = stem.with_name(stem.name + "_events.tsv")
        with atomic_path(events_path) as tmp:
            events[["onset", "value", *EVENT_COLUMNS]].to_csv(tmp, sep="\t", index=False)
        paths.append(events_path)
    table = world.stimuli.attributes.assign(
        stimulus_id=world.stimuli.ids, caption=world.stimuli.captions
    )
    with atomic_path(out_dir / "stimuli" / "stimuli.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    paths.append(out_dir / "stimuli" / "stimuli.tsv")
    truth = {k: world.truth[k] for k in ("source_region", "source_latency", "test_ids")}
    paths.append(
        write_json(out_dir / "world.json", {"name": NAME, "params": world.params, "truth": truth})
    )
    return paths


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through
    :func:`~neurodecode.data.sensors.load_raw_epochs` (events from the trigger channel, trial
    metadata from the events tables)."""
    from neurodecode.data.sensors import load_raw_epochs
    from neurodecode.synth.vision import make_stimuli

    directory = Path(directory)
    manifest = read_manifest(directory, NAME)
    params = manifest["params"]
    n_stimuli = params["n_test"] + params["n_train"]
    stimuli, semantic = make_stimuli(
        n_stimuli, seed=params["seed"], image_size=params["image_size"]
    )
    table_path = directory / "stimuli" / "stimuli.tsv"
    if not table_path.is_file():
        raise DataError(
            f"{table_path}: not found; rewrite the folder with `neurodecode synth {NAME}`"
        )
    table = pd.read_csv(table_path, sep="\t")
    if table["caption"].tolist() != stimuli.captions:
        raise DataError(
            f"{table_path}: captions differ from the stimuli rebuilt by "
            "neurodecode.synth.vision.make_stimuli (written by another neurodecode version?); "
            f"rewrite the folder with `neurodecode synth {NAME}`"
        )
    subjects = {}
    for s in range(1, params["n_subjects"] + 1):
        stem = directory / f"sub-{s}" / "meg" / f"sub-{s}_task-things"
        events_path = stem.with_name(stem.name + "_events.tsv")
        if not events_path.is_file():
            raise DataError(f"{events_path}: events table not found for subject {s}")
        events = pd.read_csv(events_path, sep="\t").sort_values("onset", kind="stable")
        data = load_raw_epochs(
            stem.with_name(stem.name + "_raw.fif"),
            subject=str(s),
            event_id={f"stim_{v - 1}": int(v) for v in np.unique(events["value"])},
            tmin=TMIN,
            tmax=TMAX,
            stimulus_ids=events["stimulus_id"].to_numpy(),
            metadata=events[["trial", "onset", "stimulus_id", "split", "repetition"]],
            expected_sfreq=params["sfreq"],
        )
        subjects[str(s)] = replace(data, y=None, metadata=data.metadata.drop(columns="event_code"))
    truth = {"semantic": semantic, "low_level": _standardise(low_level_features(stimuli.images))}
    return SyntheticWorld(
        name=NAME,
        subjects=subjects,
        stimuli=stimuli,
        truth={**truth, **manifest["truth"]},
        params=params,
    )
