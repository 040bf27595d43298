"""``synthetic-motion``: fMRI responses to short video clips whose optical flow is known exactly.

Modelled on decoding studies of dynamic stimuli (Yeung et al., ANCHORS §7), which decode the
dense optical flow of a clip from fMRI and score it by end-point error against zero-flow and
mean-flow baselines. Here the flow is known by construction:

- each clip moves a smooth random texture (a sum of random gratings, defined at every real
  position) by one affine motion per frame about the image centre: translation
  ``(tx, ty)`` px/frame, rotation ``θ`` rad/frame and expansion ``s`` per frame. Point ``p``
  of a frame is at ``M(p) = (1 + s) R(θ) (p − c) + c + t`` in the next, so the forward flow is
  exactly ``u(p) = M(p) − p`` and frame ``k + 1`` sampled at ``p + u(p)`` gives back frame
  ``k`` at ``p``;
- voxels sit on a small retinotopic grid (like MT+): each pools the flow under a Gaussian
  receptive field, projects it on a preferred direction and rectifies it (``softplus``), a
  direction-selective motion-energy response; a quarter of the voxels respond to the first
  frame's local luminance instead (a static nuisance signal that carries no motion);
- trial betas add Gaussian noise and are z-scored per voxel. A shared test set of clips is
  seen twice, training clips once.

``truth["flow"]`` is ``(n_clips, flow_size, flow_size, 2)``: the flow averaged over blocks of
the image (``x`` then ``y`` component, px/frame), the decoding target; ``truth["flow_full"]``
holds it at full resolution and ``truth["motion"]`` the affine parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode._files import atomic_path, write_json
from neurodecode.data.containers import StimulusSet, TrialData
from neurodecode.data.errors import DataError
from neurodecode.synth import SyntheticWorld

NAME = "synthetic-motion"
GRID_SHAPE = (12, 12, 4)  # voxel grid (x, y follow the visual field; 2 mm isotropic)
MOTION_SD = {"tx": 1.5, "ty": 1.5, "rotation": 0.06, "expansion": 0.05}


def texture(rng: np.random.Generator, n_gratings: int = 12):
    """A smooth random texture ``f(x, y) -> [0, 1]`` defined at every real position (px)."""
    freq = rng.uniform(0.05, 0.25, n_gratings)  # cycles per pixel
    angle = rng.uniform(0, 2 * np.pi, n_gratings)
    phase = rng.uniform(0, 2 * np.pi, n_gratings)
    amp = rng.uniform(0.5, 1.0, n_gratings)
    kx, ky = freq * np.cos(angle) * 2 * np.pi, freq * np.sin(angle) * 2 * np.pi

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = np.tensordot(x, kx, 0) + np.tensordot(y, ky, 0) + phase
        return 0.5 + 0.5 * (amp * np.sin(s)).sum(-1) / amp.sum()

    return f


def affine(motion: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-frame motion ``M(p) = A p + b`` (pixel coordinates, centre ``c``)."""
    c = np.full(2, (size - 1) / 2)
    th, s = motion["rotation"], motion["expansion"]
    A = (1 + s) * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    b = c - A @ c + np.array([motion["tx"], motion["ty"]])
    return A, b


def render_clip(tex, motion: dict, size: int = 32, n_frames: int = 4
                ) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(n_frames, size, size)`` in [0, 1] and the forward flow ``(size, size, 2)``.

    Frame ``k`` shows the texture seen through ``M^-k``: ``I_k(p) = T(M^-k(p))``.
    """
    A, b = affine(motion, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    p = np.stack([xx, yy], -1)  # (H, W, 2): x, y
    flow = p @ A.T + b - p
    A_inv = np.linalg.inv(A)
    frames = []
    q = p
    for _ in range(n_frames):
        frames.append(tex(q[..., 0], q[..., 1]))
        q = (q - b) @ A_inv.T  # one more inverse step: M^-(k+1)(p) for frame k+1
    return np.stack(frames), flow


def block_mean(field: np.ndarray, out: int) -> np.ndarray:
    """Average ``(..., H, W, c)`` over ``H/out × W/out`` blocks → ``(..., out, out, c)``."""
    *lead, h, w, c = field.shape
    if h % out or w % out:
        raise DataError(f"flow of {h}x{w} px cannot be averaged to {out}x{out} blocks")
    return field.reshape(*lead, out, h // out, out, w // out, c).mean((-4, -2))


def make(n_subjects: int | None = None, seed: int = 0, n_train: int = 400, n_test: int = 80,
         size: int = 32, n_frames: int = 4, flow_size: int = 8, noise: float = 1.0,
         rf_width: float = 0.12) -> SyntheticWorld:
    """Build the world in memory.

    Parameters
    ----------
    n_subjects : int, default 1
        Subjects share the clips (training clips differ per subject) and have their own
        voxel tuning.
    n_train, n_test : int
        Training clips per subject (seen once) and shared test clips (seen twice each).
    size, n_frames : int
        Frame size (px) and frames per clip.
    flow_size : int
        Resolution of the decoding target (block-averaged flow).
    noise : float
        Trial noise s.d. relative to the unit-variance signal.
    rf_width : float
        Receptive-field s.d. as a fraction of the image.
    """
    n_subjects = 1 if n_subjects is None else int(n_subjects)
    if min(n_subjects, n_train, n_test) < 1 or size % flow_size:
        raise DataError(f"{NAME}: need n_subjects, n_train, n_test >= 1 and size divisible "
                        f"by flow_size (got {size}, {flow_size})")
    rng = np.random.default_rng(seed)
    n_clips = n_test + n_train * n_subjects
    motions = pd.DataFrame({k: rng.normal(0, sd, n_clips) for k, sd in MOTION_SD.items()})
    frames = np.empty((n_clips, n_frames, size, size), np.float32)
    flows = np.empty((n_clips, size, size, 2), np.float32)
    for i in range(n_clips):
        frames[i], flows[i] = render_clip(texture(rng), motions.iloc[i].to_dict(), size,
                                          n_frames)
    flow_small = block_mean(flows, flow_size)
    images = (np.repeat(frames[:, 0, ..., None], 3, -1) * 255).round().astype(np.uint8)
    stimuli = StimulusSet(ids=np.arange(n_clips), images=images, attributes=motions)
    affine_mm = np.diag([2.0, 2.0, 2.0, 1.0])
    subjects = {}
    for s in range(1, n_subjects + 1):
        srng = np.random.default_rng([seed, s])
        train = n_test + (s - 1) * n_train + np.arange(n_train)
        ids = np.concatenate([train, np.repeat(np.arange(n_test), 2)])
        ids = ids[srng.permutation(len(ids))]
        mask = srng.random(GRID_SHAPE) < 0.8
        ijk = np.argwhere(mask).astype(float)
        signal, kind = _responses(srng, ijk, frames, flows, rf_width)
        X = signal[ids] + noise * srng.standard_normal((len(ids), len(ijk)))
        X = (X - X.mean(0)) / X.std(0)
        subjects[str(s)] = TrialData(
            X=X.astype(np.float32), subject=str(s), modality="fmri", stimulus_ids=ids,
            metadata=pd.DataFrame({"session": 1, "trial": np.arange(len(ids)),
                                   "split": np.where(ids < n_test, "test", "train")}),
            info={"affine": affine_mm, "mask": mask, "shape": GRID_SHAPE,
                  "voxel_coords": (np.c_[ijk, np.ones(len(ijk))] @ affine_mm.T)[:, :3],
                  "rois": {"motion": kind == "motion", "static": kind == "static"}})
    params = dict(n_subjects=n_subjects, seed=seed, n_train=n_train, n_test=n_test, size=size,
                  n_frames=n_frames, flow_size=flow_size, noise=noise, rf_width=rf_width)
    truth = {"flow": flow_small, "flow_full": flows, "frames": frames, "motion": motions,
             "test_ids": np.arange(n_test)}
    return SyntheticWorld(name=NAME, subjects=subjects, stimuli=stimuli, truth=truth,
                          params=params)


def _responses(rng, ijk, frames, flows, rf_width):
    """Noise-free voxel responses ``(n_clips, n_voxels)`` (unit variance) and voxel kinds."""
    n_clips, _, size, _ = frames.shape
    # Retinotopy: grid (x, y) → visual field position (fraction of the image), jittered.
    centre = (ijk[:, :2] + 0.5) / np.array(GRID_SHAPE[:2]) + rng.normal(0, 0.03, (len(ijk), 2))
    grid = (np.arange(size) + 0.5) / size
    gx = np.exp(-((grid[None] - centre[:, :1]) ** 2) / (2 * rf_width**2))  # (v, W)
    gy = np.exp(-((grid[None] - centre[:, 1:]) ** 2) / (2 * rf_width**2))  # (v, H)
    rf = gy[:, :, None] * gx[:, None, :]
    rf /= rf.sum((1, 2), keepdims=True)
    kind = np.where(rng.random(len(ijk)) < 0.25, "static", "motion")
    phi = rng.uniform(0, 2 * np.pi, len(ijk))
    pooled = np.einsum("vhw,nhwc->nvc", rf, flows)  # RF-weighted flow (n, v, 2)
    drive = pooled[..., 0] * np.cos(phi) + pooled[..., 1] * np.sin(phi)
    motion = np.logaddexp(0, 2 * drive)  # softplus: direction-selective, rectified
    static = np.einsum("vhw,nhw->nv", rf, frames[:, 0])
    out = np.where(kind == "motion", motion, static)
    out = (out - out.mean(0)) / (out.std(0) + 1e-9)
    return out, kind


# ----------------------------------------------------------------------------- files
def write(world: SyntheticWorld, out_dir: Path) -> list[Path]:
    """NSD-style HDF5 betas + trial table + mask per subject (``sub-<s>/``), the clips as
    ``clips/clips.npz`` (frames, full and block flow, no pickles), motions TSV, world.json."""
    from neurodecode.data.nsd import write_nsd_betas

    out_dir = Path(out_dir)
    paths: list[Path] = []
    for subject, data in world.subjects.items():
        paths += write_nsd_betas(data, out_dir / f"sub-{subject}")
    clips = out_dir / "clips" / "clips.npz"
    with atomic_path(clips) as tmp:
        np.savez_compressed(tmp, frames=world.truth["frames"], flow=world.truth["flow"],
                            flow_full=world.truth["flow_full"])
    motions = out_dir / "clips" / "motions.tsv"
    with atomic_path(motions) as tmp:
        world.truth["motion"].to_csv(tmp, sep="\t", index=False)
    rois = {s: {k: np.flatnonzero(v).tolist() for k, v in d.info["rois"].items()}
            for s, d in world.subjects.items()}
    manifest = write_json(out_dir / "world.json", {"name": NAME, "params": world.params,
                                                   "rois": rois})
    return [*paths, clips, motions, manifest]


def read(directory: Path) -> SyntheticWorld:
    """Read a folder written by :func:`write` through the NSD-style loader."""
    from neurodecode.data.nsd import load_nsd_betas

    directory = Path(directory)
    manifest = directory / "world.json"
    clips = directory / "clips" / "clips.npz"
    for path in (manifest, clips):
        if not path.is_file():
            raise DataError(f"{path}: not found; is {directory} a {NAME} folder? (write it "
                            f"with `neurodecode synth {NAME} --out DIR`)")
    meta = json.loads(manifest.read_text())
    params = meta["params"]
    with np.load(clips, allow_pickle=False) as npz:
        frames, flow, flow_full = npz["frames"], npz["flow"], npz["flow_full"]
    motions = pd.read_csv(directory / "clips" / "motions.tsv", sep="\t")
    images = (np.repeat(frames[:, 0, ..., None], 3, -1) * 255).round().astype(np.uint8)
    subjects = {}
    for s in range(1, params["n_subjects"] + 1):
        data = load_nsd_betas(directory / f"sub-{s}", subject=str(s))
        n_vox = data.X.shape[1]
        rois = {k: np.isin(np.arange(n_vox), v) for k, v in meta["rois"][str(s)].items()}
        subjects[str(s)] = data
        data.info["rois"] = rois
    return SyntheticWorld(
        name=NAME, subjects=subjects,
        stimuli=StimulusSet(ids=np.arange(len(frames)), images=images, attributes=motions),
        truth={"flow": flow, "flow_full": flow_full, "frames": frames, "motion": motions,
               "test_ids": np.arange(params["n_test"])},
        params=params)
