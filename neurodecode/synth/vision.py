"""``synthetic-vision``: an fMRI world of small images with known content.

The stimulus world renders one object per image from controlled attributes (shape, colour,
texture, background, position, size) and describes it in a caption. Its *semantic embedding*
(the ``world-embed`` target space) is the attribute vector: one-hot shape, colour, texture and
background plus standardised position and size.

The brain is a set of shared *cortical units* laid out in a 3-D volume: retinotopic units
(Gaussian receptive fields on opponent-colour channels, placed retinotopically: visual-field
position maps smoothly to cortical position) and semantic units (random tuning to the
embedding, in a separate "ventral" slab). Each subject sees the units through its own anatomy
and a random subset of grid voxels (so voxel counts differ), each voxel pooling the units near
it. Trial responses add Gaussian noise; betas are z-scored per session as in NSD (Allen et al.
2022). A shared test set is seen by every subject three times; training images are
subject-specific, shown 1-3 times.

Anatomy (``anatomy=``):

- ``"nonrigid"`` (default) — what separates real brains beyond a shift: a rotation of the
  unit map (10-25° either way about a random axis through the grid centre), an anisotropic
  scaling (0.8-1.25 per axis), an idiosyncratic local layout (a smooth random displacement
  field of up to 2.5 voxels, different in every subject) and a per-subject signal-to-noise ratio (trial noise
  × 0.7-1.4). Nothing in it matches any adapter's assumptions exactly: coordinate-based pooling
  (the ``anat`` adapter) sees misregistered units, voxel-index methods see different voxels.
- ``"rigid"`` — the earlier world: a random shift only, equal noise for all subjects (the
  ``anat`` adapter's assumption holds almost exactly).

Each subject's ``info["rois"]`` holds two voxel masks, ``early`` (voxels pooling mostly
retinotopic units, an "early visual cortex") and ``higher`` (mostly semantic units): the
regions of interest of Takagi & Nishimoto's recipe (early → image latent, higher → semantic).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import write_json
from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.synth import SyntheticWorld

NAME = "synthetic-vision"
SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond")
COLOURS = {
    "red": (0.9, 0.15, 0.1),
    "green": (0.1, 0.75, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.85, 0.1),
    "magenta": (0.85, 0.2, 0.8),
    "cyan": (0.1, 0.8, 0.85),
}
TEXTURES = ("solid", "striped", "dotted")
BACKGROUNDS = {"dark": (0.08, 0.08, 0.12), "light": (0.85, 0.85, 0.8)}
# nsdgeneral voxel counts of NSD subjects 1, 2, 5, 7 divided by ten (ANCHORS.md section 1).
VOXEL_COUNTS = (1572, 1428, 1304, 1268)
GRID_SHAPE = (20, 24, 12)  # the volume holding every subject's voxels (2 mm isotropic)
EMBED_DIM = len(SHAPES) + len(COLOURS) + len(TEXTURES) + len(BACKGROUNDS) + 3


# ----------------------------------------------------------------------------- stimuli
def sample_attributes(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Random object attributes for ``n`` images (positions and sizes in image fractions)."""
    return pd.DataFrame(
        {
            "shape": rng.choice(SHAPES, n),
            "colour": rng.choice(list(COLOURS), n),
            "texture": rng.choice(TEXTURES, n),
            "background": rng.choice(list(BACKGROUNDS), n),
            "x": rng.uniform(0.3, 0.7, n),
            "y": rng.uniform(0.3, 0.7, n),
            "size": rng.uniform(0.16, 0.3, n),
        }
    )


def render(attributes: pd.DataFrame, image_size: int = 32) -> np.ndarray:
    """Render images, uint8 ``(n, image_size, image_size, 3)``, from attribute rows."""
    n = len(attributes)
    grid = (np.arange(image_size) + 0.5) / image_size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    cx = attributes["x"].to_numpy()[:, None, None]
    cy = attributes["y"].to_numpy()[:, None, None]
    r = attributes["size"].to_numpy()[:, None, None]
    dx, dy = xx[None] - cx, yy[None] - cy
    dist = np.hypot(dx, dy)
    masks = {
        "circle": dist <= r,
        "square": np.maximum(abs(dx), abs(dy)) <= 0.8 * r,
        "triangle": (dy <= 0.8 * r) & (dy >= -r + 2 * abs(dx)),
        "cross": ((abs(dx) <= 0.3 * r) | (abs(dy) <= 0.3 * r)) & (np.maximum(abs(dx), abs(dy)) <= r),
        "ring": (dist <= r) & (dist >= 0.55 * r),
        "diamond": abs(dx) + abs(dy) <= r,
    }
    shape = attributes["shape"].to_numpy()[:, None, None]
    inside = np.zeros((n, image_size, image_size), dtype=bool)
    for name, mask in masks.items():
        inside |= (shape == name) & mask
    texture = attributes["texture"].to_numpy()[:, None, None]
    stripes = (np.floor((xx + yy) / 0.08) % 2 == 0)[None]
    dots = (np.hypot((xx / 0.125) % 1 - 0.5, (yy / 0.125) % 1 - 0.5) < 0.32)[None]
    shade = np.ones((n, image_size, image_size))
    shade[np.broadcast_to(texture == "striped", shade.shape) & ~stripes] = 0.45
    shade[np.broadcast_to(texture == "dotted", shade.shape) & ~dots] = 0.45
    colour = np.array([COLOURS[c] for c in attributes["colour"]])[:, None, None, :]
    background = np.array([BACKGROUNDS[b] for b in attributes["background"]])[:, None, None, :]
    images = np.where(inside[..., None], colour * shade[..., None], background)
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


def caption(row: pd.Series) -> str:
    """A sentence describing one image, e.g. ``"a large red striped circle at the top left"``."""
    size = "small" if row["size"] < 0.2 else "large" if row["size"] > 0.26 else "medium"
    vertical = "top" if row["y"] < 0.45 else "bottom" if row["y"] > 0.55 else "middle"
    horizontal = "left" if row["x"] < 0.45 else "right" if row["x"] > 0.55 else "centre"
    texture = "" if row["texture"] == "solid" else f"{row['texture']} "
    where = "centre" if vertical == "middle" and horizontal == "centre" else (
        f"{vertical} {horizontal}".replace("middle ", "").replace(" centre", "")
    )
    return (f"a {size} {row['colour']} {texture}{row['shape']} at the {where} "
            f"on a {row['background']} background")


def embed(attributes: pd.DataFrame) -> np.ndarray:
    """The world's semantic embedding, float32 ``(n, EMBED_DIM)``.

    One-hot shape, colour, texture and background, then x, y and size standardised to
    zero mean and unit variance under the sampling distribution.
    """
    parts = [
        (attributes["shape"].to_numpy()[:, None] == np.array(SHAPES)[None]),
        (attributes["colour"].to_numpy()[:, None] == np.array(list(COLOURS))[None]),
        (attributes["texture"].to_numpy()[:, None] == np.array(TEXTURES)[None]),
        (attributes["background"].to_numpy()[:, None] == np.array(list(BACKGROUNDS))[None]),
    ]
    uniform_sd = 1 / np.sqrt(12)
    continuous = np.column_stack(
        [
            (attributes["x"] - 0.5) / (0.4 * uniform_sd),
            (attributes["y"] - 0.5) / (0.4 * uniform_sd),
            (attributes["size"] - 0.23) / (0.14 * uniform_sd),
        ]
    )
    return np.column_stack([p.astype(float) for p in parts] + [continuous]).astype(np.float32)


def make_stimuli(
    n_stimuli: int, seed: int = 0, image_size: int = 32
) -> tuple[StimulusSet, np.ndarray]:
    """Render ``n_stimuli`` images with captions; return them and their semantic embedding."""
    rng = np.random.default_rng([seed, 1])
    attrs = sample_attributes(n_stimuli, rng)
    stimuli = StimulusSet(
        ids=np.arange(n_stimuli),
        images=render(attrs, image_size),
        captions=[caption(row) for _, row in attrs.iterrows()],
        attributes=attrs,
    )
    return stimuli, embed(attrs)


# ----------------------------------------------------------------------------- brain
def _opponent(images: np.ndarray) -> np.ndarray:
    """uint8 RGB images → opponent channels (luminance, red-green, blue-yellow), (n, H, W, 3)."""
    rgb = images.astype(np.float32) / 255.0
    lum = rgb.mean(-1)
    return np.stack([lum, rgb[..., 0] - rgb[..., 1], rgb[..., 2] - 0.5 * (rgb[..., 0] + rgb[..., 1])], -1)


def _cortex(rng: np.random.Generator, image_size: int, n_semantic: int):
    """Shared cortical units: receptive fields, semantic tuning and positions (grid index units)."""
    side = 10
    centres = (np.arange(side) + 0.5) / side
    cy, cx = [a.ravel() for a in np.meshgrid(centres, centres, indexing="ij")]
    n_ret = side * side * 3
    grid = (np.arange(image_size) + 0.5) / image_size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    sigma = 0.06 + 0.05 * rng.random(side * side)
    rf = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2)
                / (2 * sigma[:, None, None] ** 2))
    rf /= rf.sum((1, 2), keepdims=True)
    # (pixels*channels, units): unit (position p, channel c) pools channel c under RF p.
    weights = np.zeros((image_size * image_size, 3, n_ret), dtype=np.float32)
    for c in range(3):
        weights[:, c, c * side * side:(c + 1) * side * side] = rf.reshape(side * side, -1).T
    # Retinotopic map: visual field (x, y) → cortical (i, j) in the posterior slab; colour
    # channels stacked in depth.
    gx, gy, gz = GRID_SHAPE
    ret_pos = np.column_stack(
        [np.tile(cx, 3) * (gx - 1), np.tile(cy, 3) * (gy / 2 - 1), np.repeat([1.5, 5.5, 9.5], side * side)]
    )
    sem_pos = np.column_stack(
        [rng.uniform(0, gx - 1, n_semantic), rng.uniform(gy / 2, gy - 1, n_semantic),
         rng.uniform(0, gz - 1, n_semantic)]
    )
    sem_w = rng.standard_normal((EMBED_DIM, n_semantic)).astype(np.float32) / np.sqrt(EMBED_DIM)
    return weights.reshape(-1, n_ret), sem_w, np.vstack([ret_pos, sem_pos])


def unit_responses(images: np.ndarray, semantic: np.ndarray, cortex) -> np.ndarray:
    """Noise-free responses of the shared units to images, ``(n, n_units)``, unit variance."""
    ret_w, sem_w, _ = cortex
    ret = _opponent(images).reshape(len(images), -1) @ ret_w
    sem = np.tanh(semantic @ sem_w)
    ret = (ret - ret.mean(0)) / (ret.std(0) + 1e-6)
    sem = (sem - sem.mean(0)) / (sem.std(0) + 1e-6)
    return np.hstack([ret, sem]).astype(np.float32)


ANATOMIES = ("nonrigid", "rigid")


def nonrigid_warp(pos: np.ndarray, rng: np.random.Generator, max_rotation_deg: float = 25.0,
                  scale_range: tuple[float, float] = (0.8, 1.25), local: float = 2.5,
                  n_bumps: int = 6) -> tuple[np.ndarray, dict]:
    """Rotate, scale anisotropically and locally displace unit positions (grid units).

    Returns the warped positions and the warp's parameters (angle in degrees, axis, scales,
    local amplitude). The local displacement is a sum of ``n_bumps`` Gaussian bumps (width a
    quarter of the grid) with random directions, scaled so its largest shift is ``local``.
    """
    centre = (np.array(GRID_SHAPE) - 1) / 2
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(0.4, 1.0) * max_rotation_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k  # Rodrigues
    scales = rng.uniform(*scale_range, 3)
    out = (pos - centre) @ (rot * scales[None, :]).T + centre
    centres = rng.uniform(0, 1, (n_bumps, 3)) * (np.array(GRID_SHAPE) - 1)
    dirs = rng.normal(size=(n_bumps, 3))
    width = np.array(GRID_SHAPE) / 4
    bumps = np.exp(-(((out[:, None, :] - centres[None]) / width) ** 2).sum(-1) / 2)
    field = bumps @ dirs
    field *= local / (np.abs(field).max() + 1e-12)
    return out + field, {"rotation_deg": float(np.rad2deg(angle)), "axis": axis.tolist(),
                         "scales": scales.tolist(), "local_shift_max": float(local)}


def _subject_anatomy(rng: np.random.Generator, n_voxels: int, unit_pos: np.ndarray,
                     pool_width: float, warp_rng: np.random.Generator | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """A subject's mask, voxel grid indices, voxel×unit pooling weights and warp parameters
    (a rigid shift, then the non-rigid warp when ``warp_rng`` is given)."""
    shift = rng.normal(0, 1.0, 3)
    pos = unit_pos + shift
    warp = {"shift": shift.tolist()}
    if warp_rng is not None:
        pos, params = nonrigid_warp(pos, warp_rng)
        warp.update(params)
    flat = rng.choice(np.prod(GRID_SHAPE), size=n_voxels, replace=False)
    flat.sort()
    ijk = np.column_stack(np.unravel_index(flat, GRID_SHAPE)).astype(float)
    d2 = ((ijk[:, None, :] - pos[None]) ** 2).sum(-1)
    pool = np.exp(-d2 / (2 * pool_width**2))
    pool /= pool.sum(1, keepdims=True) + 1e-12
    mask = np.zeros(GRID_SHAPE, dtype=bool)
    mask.flat[flat] = True
    return mask, ijk, pool.astype(np.float32), warp


def make(
    n_subjects: int | None = None,
    seed: int = 0,
    n_train: int = 600,
    n_test: int = 100,
    n_shared_pool: int | None = None,
    image_size: int = 32,
    noise: float = 5.0,
    n_semantic_units: int = 120,
    pool_width: float = 1.2,
    sessions: int = 3,
    anatomy: str = "nonrigid",
    snr_range: tuple[float, float] = (0.7, 1.4),
) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, default 4
        Subjects 1..n; the first four have NSD-like voxel counts /10, later ones 1200-1600.
    n_train, n_test : int
        Training images per subject (subject-specific, drawn from a common pool) and shared
        test images (seen by all, three times each).
    noise : float
        Standard deviation of trial noise relative to the unit-variance signal (times each
        subject's noise factor in the non-rigid world).
    anatomy : {"nonrigid", "rigid"}
        How subjects' brains differ (module docstring).
    snr_range : (float, float)
        Range of the per-subject noise factor of the non-rigid world (drawn uniformly).
    """
    if anatomy not in ANATOMIES:
        from neurodecode.errors import DataError

        raise DataError(f"synthetic-vision: anatomy={anatomy!r}; choose from {ANATOMIES}")
    n_subjects = 4 if n_subjects is None else int(n_subjects)
    rng = np.random.default_rng(seed)
    pool = n_shared_pool or max(n_train * 2, n_train + 200)
    stimuli, semantic = make_stimuli(n_test + pool, seed=seed, image_size=image_size)
    cortex = _cortex(rng, image_size, n_semantic_units)
    units = unit_responses(stimuli.images, semantic, cortex)
    test_ids = np.arange(n_test)
    subjects = {}
    truth_anatomy = {}
    for s in range(1, n_subjects + 1):
        srng = np.random.default_rng([seed, s])
        n_vox = VOXEL_COUNTS[s - 1] if s <= len(VOXEL_COUNTS) else int(srng.integers(1200, 1600))
        warp_rng = np.random.default_rng([seed, s, 99]) if anatomy == "nonrigid" else None
        mask, ijk, pool_w, warp = _subject_anatomy(srng, n_vox, cortex[2], pool_width,
                                                   warp_rng)
        noise_factor = 1.0 if warp_rng is None else float(warp_rng.uniform(*snr_range))
        train_ids = n_test + np.sort(srng.choice(pool, n_train, replace=False))
        reps = np.concatenate([srng.integers(1, 4, n_train), np.full(n_test, 3)])
        ids = np.repeat(np.concatenate([train_ids, test_ids]), reps)
        ids = ids[srng.permutation(len(ids))]
        # Repetitions in presentation order, 0 for the first showing (as neurodecode.data.nsd).
        rep_index = pd.Series(ids).groupby(ids).cumcount().to_numpy()
        n_ret = cortex[0].shape[1]
        early = pool_w[:, :n_ret].sum(1) > 0.5  # voxels pooling mostly retinotopic units
        signal = units[ids] @ pool_w.T
        signal /= signal.std(0, keepdims=True) + 1e-6
        X = signal + noise * noise_factor * srng.standard_normal(signal.shape).astype(
            np.float32)
        session = np.arange(len(ids)) * sessions // len(ids)
        for k in range(sessions):  # z-score each voxel within each session (NSD convention)
            rows = session == k
            X[rows] = (X[rows] - X[rows].mean(0)) / (X[rows].std(0) + 1e-6)
        affine = np.diag([2.0, 2.0, 2.0, 1.0])
        affine[:3, 3] = -np.array(GRID_SHAPE) + 1.0  # centre the grid, millimetres
        meta = pd.DataFrame(
            {
                "session": session + 1,
                "trial": np.arange(len(ids)),
                "repetition": rep_index,
                "split": np.where(np.isin(ids, test_ids), "test", "train"),
            }
        )
        subjects[str(s)] = TrialData(
            X=X.astype(np.float32),
            subject=str(s),
            modality="fmri",
            stimulus_ids=ids,
            metadata=meta,
            info={
                "affine": affine,
                "mask": mask,
                "shape": GRID_SHAPE,
                "voxel_coords": (np.c_[ijk, np.ones(len(ijk))] @ affine.T)[:, :3],
                "rois": {"early": early, "higher": ~early},
            },
        )
        truth_anatomy[str(s)] = {"n_voxels": n_vox, "noise_factor": noise_factor, **warp}
    params = dict(n_subjects=n_subjects, seed=seed, n_train=n_train, n_test=n_test,
                  n_shared_pool=pool, image_size=image_size, noise=noise,
                  n_semantic_units=n_semantic_units, pool_width=pool_width, sessions=sessions,
                  anatomy=anatomy, snr_range=list(snr_range))
    return SyntheticWorld(
        name=NAME,
        subjects=subjects,
        stimuli=stimuli,
        truth={"semantic": semantic, "test_ids": test_ids, "anatomy": truth_anatomy},
        params=params,
    )


# ----------------------------------------------------------------------------- files
def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """Write NSD-style HDF5 betas + trial tables + masks per subject, the stimuli as PNG
    files with a captions/attributes TSV, and ``world.json``."""
    from PIL import Image

    from neurodecode._files import atomic_path
    from neurodecode.data.nsd import write_nsd_betas

    out_dir = Path(out_dir)
    paths: list[Path] = []
    for subject, data in world.subjects.items():
        paths += write_nsd_betas(data, out_dir / f"sub-{subject}")
    stim_dir = out_dir / "stimuli"
    for sid, image in zip(world.stimuli.ids, world.stimuli.images, strict=True):
        path = stim_dir / f"{int(sid):05d}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
        paths.append(path)
    table = world.stimuli.attributes.assign(
        stimulus_id=world.stimuli.ids, caption=world.stimuli.captions,
        file=[f"{int(i):05d}.png" for i in world.stimuli.ids],
    )
    with atomic_path(stim_dir / "stimuli.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    paths.append(stim_dir / "stimuli.tsv")
    paths.append(write_json(out_dir / "world.json", {"name": NAME, "params": world.params}))
    return paths


def read(directory: Path) -> SyntheticWorld:
    """Read a world written by :func:`write` through the NSD-style loader."""
    from neurodecode.data.errors import DataError
    from neurodecode.data.nsd import load_nsd_betas

    directory = Path(directory)
    manifest = directory / "world.json"
    if not manifest.exists():
        raise DataError(f"{manifest}: not found; is {directory} a synthetic-vision folder?")
    params = json.loads(manifest.read_text())["params"]
    table = pd.read_csv(directory / "stimuli" / "stimuli.tsv", sep="\t")
    stimuli = StimulusSet(
        ids=table["stimulus_id"].to_numpy(),
        images=[directory / "stimuli" / f for f in table["file"]],
        captions=table["caption"].tolist(),
        attributes=table[list(sample_attributes(0, np.random.default_rng(0)).columns)],
    )
    subjects = {
        str(s): load_nsd_betas(directory / f"sub-{s}", subject=str(s))
        for s in range(1, params["n_subjects"] + 1)
    }
    return SyntheticWorld(
        name=NAME, subjects=subjects, stimuli=stimuli,
        truth={"semantic": embed(stimuli.attributes),
               "test_ids": np.arange(params["n_test"])},
        params=params,
    )
