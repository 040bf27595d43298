"""Small folders written in published layouts, with known contents (shared by the data and
CLI tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.data import Dataset, StimulusSet, TrialData
from neurodecode.data.nsd import write_nsd_layout

SHAPE = (6, 5, 4)  # X, Y, Z
AFFINE = np.diag([1.8, 1.8, 1.8, 1.0])


def nsd_world(seed: int = 0, n_images: int = 60, n_subject_images: int = 40, n_shared: int = 10,
              per_session: int = 30, n_sessions: int = 2, size: int = 16):
    """Everything a tiny NSD release holds, plus the truth behind it.

    Subject 1 sees ``n_subject_images`` of the ``n_images`` (73k ids 1..n_images); the first
    ``n_shared`` of them are the shared test images, shown three times; the others once.
    Betas are a fixed linear map of the image's mean colour plus noise (percent signal
    change), so decoding has something to find.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_images, size, size, 3), dtype=np.uint8)
    subjectim = np.stack([rng.permutation(np.arange(1, n_images + 1))[:n_subject_images]
                          for _ in range(8)])
    sharedix = subjectim[0, :n_shared].copy()
    subjectim[:, :n_shared] = sharedix  # every subject's first images are the shared ones
    n_trials = per_session * n_sessions
    order = np.concatenate([np.repeat(np.arange(1, n_shared + 1), 3),
                            np.arange(n_shared + 1, n_subject_images + 1)])[:n_trials]
    order = rng.permutation(order)
    roi = np.full(SHAPE, -1, dtype=np.int16)
    roi[1:5, 1:4, 1:3] = 0
    roi[1:5, 1:4, 1] = 1  # 12 ROI voxels; the rest of the brain is 0, outside -1
    weights = rng.normal(size=(3, *SHAPE))
    ids = subjectim[0, order - 1]
    colour = images[ids - 1].reshape(len(ids), -1, 3).mean(1) / 255.0
    vols = np.einsum("tc,cxyz->xyzt", colour - 0.5, weights) + 0.05 * rng.normal(
        size=(*SHAPE, n_trials))
    sessions = [vols[..., k * per_session:(k + 1) * per_session] for k in range(n_sessions)]
    return dict(images=images, subjectim=subjectim, sharedix=sharedix, masterordering=order,
                roi=roi, betas={1: sessions}, ids=ids, vols=vols)


def write_nsd(root: Path, fmt: str = "hdf5", **kwargs) -> dict:
    world = nsd_world(**kwargs)
    write_nsd_layout(root, world["betas"], AFFINE, world["roi"], world["images"],
                     world["masterordering"], world["subjectim"], world["sharedix"], fmt=fmt)
    return world


def own_dataset(modality: str = "fmri", n_subjects: int = 2, seed: int = 0,
                n_stimuli: int = 24, n_test: int = 6) -> Dataset:
    """A small labelled dataset with images, betas tied to the image colour (fMRI/features),
    class-dependent band power (EEG), or demographics-driven edges (fc)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_stimuli, 16, 16, 3), dtype=np.uint8)
    stimuli = StimulusSet(ids=np.arange(100, 100 + n_stimuli), images=images,
                          captions=[f"image {i}" for i in range(n_stimuli)])
    subjects = {}
    if modality == "fc":
        n = 60
        age = rng.uniform(10, 40, n)
        X = rng.normal(size=(n, 45)) + np.outer(age - 25, rng.normal(size=45)) * 0.05
        meta = pd.DataFrame({"age": age, "sex": rng.choice(["F", "M"], n)})
        subjects["group"] = TrialData(X=X.astype(np.float32), subject="group", modality="fc",
                                      metadata=meta)
        return Dataset("own-fc", subjects)
    for s in range(1, n_subjects + 1):
        ids = np.concatenate([np.repeat(stimuli.ids[:n_test], 2), stimuli.ids[n_test:]])
        ids = rng.permutation(ids)
        split = np.where(np.isin(ids, stimuli.ids[:n_test]), "test", "train")
        colour = images[ids - 100].reshape(len(ids), -1, 3).mean(1) / 255.0
        labels = np.where(colour[:, 0] > np.median(colour[:, 0]), "warm", "cool")
        meta = pd.DataFrame({"split": split, "session": 1, "run": np.arange(len(ids)) % 2 + 1,
                             "condition": [f"c{i % 4}" for i in ids]})
        if modality == "eeg":
            import mne

            sfreq, n_ch, n_t = 100.0, 4, 100
            t = np.arange(n_t) / sfreq
            X = rng.normal(size=(len(ids), n_ch, n_t)) * 1e-6
            X[labels == "warm", 0] += 3e-6 * np.sin(2 * np.pi * 10 * t)
            info = mne.create_info([f"C{i}" for i in range(n_ch)], sfreq, "eeg")
            epochs = mne.EpochsArray(X, info, verbose="error")
            td = TrialData.from_epochs(epochs, str(s), stimulus_ids=ids)
            td.y, td.metadata = labels, meta
        else:
            W = rng.normal(size=(3, 30))
            X = (colour - 0.5) @ W + 0.05 * rng.normal(size=(len(ids), 30))
            td = TrialData(X=X.astype(np.float32), subject=str(s), modality=modality,
                           y=labels, stimulus_ids=ids, metadata=meta)
        subjects[str(s)] = td
    return Dataset(f"own-{modality}", subjects, stimuli=stimuli)
