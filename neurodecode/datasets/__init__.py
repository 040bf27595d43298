"""The one front door for data: ``open_dataset(name_or_path, subjects=None, **params)``.

Every command (``train``, ``adapt``, ``reconstruct``, ``benchmark``, ``rsa``, ``confounds``)
opens its ``--dataset NAME|PATH`` here and gets one type, :class:`~neurodecode.data.Dataset`:
subjects → :class:`~neurodecode.data.TrialData`, the stimuli, the data card and, for
synthetic worlds, their planted ground truth.

A NAME is a data card (``neurodecode data list``). The card's ``loader:`` names the function
that reads the files, and it is real code: :func:`open_dataset` imports it through
:func:`neurodecode.data.cards.resolve_loader` and calls it, but only when the name is on the
allow-list :data:`OPENERS` (which also says how to call it for a whole dataset). Synthetic
worlds are datasets too: ``open_dataset("synthetic-vision", seed=0)`` builds the world in
memory; ``open_dataset(FOLDER)`` reads a world folder written by ``neurodecode synth``.

A PATH is recognised by its layout:

==========================================  ==================================================
layout (what the folder holds)              read by
==========================================  ==================================================
``dataset.yaml``                            the bring-your-own format (:mod:`neurodecode.data.folder`)
``world.json``                              the synthetic world it names (its card's loader)
``nsddata/experiments/nsd/nsd_expdesign.mat``  NSD as released (:func:`~neurodecode.data.nsd.load_nsd_subject`)
``dataset_description.json``                BIDS MEG/EEG/iEEG via mne-bids (``task=`` needed)
``sub_<s>_trial<NNN>.h5``                   Brain Treebank SEEG (``events=`` needed)
``<id>_rois_<atlas>.1D`` files              ABIDE-style ROI time series (``phenotypic=``, ``atlas=``)
``DREAMER.mat`` (or a folder holding it)    DREAMER (:func:`~neurodecode.data.dreamer.load_dreamer`)
a raw file (FIF, EDF, BDF, vhdr, set)       one subject's epochs (:func:`~neurodecode.data.load_raw_epochs`)
==========================================  ==================================================

MOABB datasets (``BNCI2014_001``, ``PhysionetMI``, ...) open from the ``MNE_DATA`` cache
offline as epochs of their events (MOABB's own paradigm preprocessing stays in
``neurodecode.benchmark``). A card name plus ``path=`` reads a real dataset from where you keep
it (``open_dataset("NSD", path="~/data/nsd", subjects=[1], sessions=[1, 2])``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from neurodecode.data.dataset import Dataset
from neurodecode.errors import DataError
from neurodecode.synth import WORLDS

Subjects = Sequence[str | int] | None


# ----------------------------------------------------------------------------- openers
def _open_world(card: dict, loader: Callable, path, subjects: Subjects, params: dict) -> Dataset:
    """A synthetic world: read from a folder (the card's ``read``) or built in memory."""
    from neurodecode import synth

    name = card.get("world", card["name"])
    if path is not None:
        world = loader(Path(path))
    else:
        world = synth.make(name, n_subjects=params.pop("n_subjects", None),
                           seed=params.pop("seed", 0), **params)
    world = replace(world, card=card, source=None if path is None else str(path))
    return world.select_subjects(subjects)


def _open_nsd(card: dict, loader: Callable, path, subjects: Subjects, params: dict) -> Dataset:
    """NSD as released: one lazy TrialData per subject + lazy images of the shown stimuli."""
    import numpy as np

    from neurodecode.data import nsd

    root = _need_path(card, path)
    if not nsd.is_nsd_layout(root):
        if (root / nsd.TRIAL_TABLE).exists() or any(root.glob("betas_session*.hdf5")):
            data = loader(root, subject=str(params.pop("subject", (subjects or ["1"])[0])),
                          **params)  # neurodecode's NSD-style folder of one subject
            return Dataset(card["name"], {data.subject: data}, card=card, source=str(root))
        raise DataError(f"{root}: not NSD's layout (no {nsd.NSD_EXPDESIGN})")
    design = nsd.read_nsd_expdesign(root / nsd.NSD_EXPDESIGN)
    if subjects is None:
        found = sorted((root / "nsddata_betas" / "ppdata").glob("subj*"))
        subjects = [int(p.name.removeprefix("subj")) for p in found]
    out = {}
    for s in subjects:
        d = nsd.load_nsd_subject(root, s, design=design, **params)
        out[d.subject] = d
    ids = np.concatenate([d.stimulus_ids for d in out.values()])
    stimuli = nsd.nsd_stimuli(root, ids) if (root / nsd.NSD_STIMULI).exists() else None
    return Dataset(card["name"], out, stimuli=stimuli, params=params, card=card,
                   source=str(root))


def _open_sensors(card: dict, loader: Callable, path, subjects: Subjects,
                  params: dict) -> Dataset:
    """A raw file (one subject) with ``path=``, else the MOABB dataset of the card's name."""
    if path is None:
        from neurodecode.datasets.moabb import open_moabb

        return open_moabb(card["name"], subjects, card=card, **params)
    path = Path(path)
    subject = str((subjects or [params.pop("subject", path.stem)])[0])
    data = loader(path, subject=subject, **params)
    return Dataset(card["name"], {subject: data}, params=params, card=card, source=str(path))


def _open_bids(card: dict, loader: Callable, path, subjects: Subjects, params: dict) -> Dataset:
    """Each subject's epochs of one BIDS task via mne-bids (``task=`` required)."""
    root = _need_path(card, path)
    if "task" not in params:
        raise DataError(f"{root}: a BIDS dataset needs task= (the BIDS task entity)")
    if subjects is None:
        import mne_bids

        subjects = mne_bids.get_entity_vals(root, "subject")
    out = {str(s): loader(root, subject=str(s), **params) for s in subjects}
    return Dataset(card["name"], out, params=params, card=card, source=str(root))


def _open_things_meg(card: dict, loader: Callable, path, subjects: Subjects,
                     params: dict) -> Dataset:
    from neurodecode.data.things_meg import open_things_meg

    return open_things_meg(card, loader, path, subjects, params)


def _open_treebank(card: dict, loader: Callable, path, subjects: Subjects,
                   params: dict) -> Dataset:
    """Brain Treebank sessions (``session=`` and ``events=`` movie times needed)."""
    root = _need_path(card, path)
    for key in ("session", "events"):
        if key not in params:
            raise DataError(f"{root}: Brain Treebank needs {key}= (see load_brain_treebank)")
    if subjects is None:
        subjects = sorted({p.name.split("_")[1] for p in root.glob("sub_*_trial*.h5")})
    out = {str(s): loader(root, str(s), **params) for s in subjects}
    kept = {k: v for k, v in params.items() if k != "events"}
    return Dataset(card["name"], out, params=kept, card=card, source=str(root))


def _open_roi(card: dict, loader: Callable, path, subjects: Subjects, params: dict) -> Dataset:
    """ABIDE-style ROI time series → one ``fc`` TrialData (participants as trials).

    ``phenotypic=`` (default the folder's only ``*.csv``) and ``atlas=`` (default from the
    file names); ``missing=`` and ``zero_variance=`` choose what happens to absent files and
    constant ROIs (see :func:`~neurodecode.data.load_roi_connectivity`).
    """
    root = _need_path(card, path)
    if "atlas" not in params:
        atlases = sorted({p.name.split("_rois_")[1].removesuffix(".1D")
                          for p in root.glob("*_rois_*.1D")})
        if len(atlases) != 1:
            raise DataError(f"{root}: give atlas= (files name atlases {atlases})")
        params["atlas"] = atlases[0]
    if "phenotypic" not in params:
        tables = sorted(root.glob("*.csv"))
        if len(tables) != 1:
            raise DataError(f"{root}: give phenotypic= (CSV tables here: "
                            f"{[t.name for t in tables]})")
        params["phenotypic"] = tables[0]
    group = str((subjects or ["group"])[0])
    data = loader(root, subject=group, **params)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in params.items()}
    return Dataset(card["name"], {group: data}, params=params, card=card, source=str(root))


def _open_fmri_runs(card: dict, loader: Callable, path, subjects: Subjects,
                    params: dict) -> Dataset:
    """BIDS-style BOLD runs → single-trial betas per subject.

    Each subject's ``sub-<s>/**/func/*_bold.nii[.gz]`` (``task=`` narrows them) with the
    ``*_events.tsv`` beside each run (same name up to ``_bold``; fMRIPrep's ``space-``/
    ``desc-`` entities are dropped to find it, also under the raw root ``events_root=``);
    ``t_r`` from the run's JSON sidecar (``RepetitionTime``) unless given; the mask from
    ``mask_img=`` or computed with nilearn.
    """
    import re

    root = _need_path(card, path)
    task = params.pop("task", None)
    events_root = Path(params.pop("events_root", root))
    if subjects is None:
        subjects = sorted(p.name.removeprefix("sub-") for p in root.glob("sub-*") if p.is_dir())
    out = {}
    for s in subjects:
        pattern = f"sub-{s}/**/func/sub-{s}_*{'task-' + task + '_' if task else ''}*bold.nii*"
        bolds = sorted(root.glob(pattern))
        if not bolds:
            raise DataError(f"{root}: no BOLD runs match {pattern}")
        events, t_r = [], params.get("t_r")
        for bold in bolds:
            stem = re.sub(r"_(space|desc|res)-[^_]+", "", bold.name.split("_bold")[0])
            found = sorted(events_root.glob(f"**/{stem}_events.tsv"))
            if not found:
                raise DataError(f"{bold}: no {stem}_events.tsv under {events_root}")
            events.append(found[0])
            sidecar = bold.with_name(bold.name.split(".nii")[0] + ".json")
            if t_r is None and sidecar.exists():
                t_r = json.loads(sidecar.read_text()).get("RepetitionTime")
        if t_r is None:
            raise DataError(f"{bolds[0]}: no RepetitionTime in a JSON sidecar; give t_r=")
        rest = {k: v for k, v in params.items() if k not in ("t_r", "mask_img")}
        out[str(s)] = loader([str(b) for b in bolds], [str(e) for e in events],
                             params.get("mask_img"), subject=str(s), t_r=float(t_r), **rest)
    return Dataset(card["name"], out, params={"task": task, **params}, card=card,
                   source=str(root))


def _open_dreamer(card: dict, loader: Callable, path, subjects: Subjects,
                  params: dict) -> Dataset:
    """DREAMER.mat (the file, or the folder holding it) → 1-s windows per participant."""
    root = _need_path(card, path)
    file = root / "DREAMER.mat" if root.is_dir() else root
    return replace(loader(file, subjects=subjects, **params), card=card)


def _need_path(card: dict, path) -> Path:
    if path is None:
        raise DataError(
            f"{card['name']} is not downloaded by neurodecode; give the folder you keep it in "
            f"(open_dataset({card['name']!r}, path=...) or --dataset PATH). How to obtain it: "
            f"{card.get('how_to_obtain', 'see its data card')}")
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: not found ({card['name']})")
    return path


#: The allow-list: card ``loader`` → how a whole dataset is opened with it. A card whose
#: loader is not listed here is refused (no arbitrary imports from YAML).
OPENERS: dict[str, Callable[..., Dataset]] = {
    # every registered synthetic world's ``read`` (neurodecode.synth.WORLDS)
    **{f"{module}.read": _open_world for module in WORLDS.values()},
    "neurodecode.data.nsd.load_nsd_betas": _open_nsd,
    "neurodecode.data.sensors.load_raw_epochs": _open_sensors,
    "neurodecode.data.bids.load_bids_epochs": _open_bids,
    "neurodecode.data.things_meg.load_things_meg": _open_things_meg,
    "neurodecode.data.treebank.load_brain_treebank": _open_treebank,
    "neurodecode.data.connectivity.load_roi_connectivity": _open_roi,
    "neurodecode.data.fmri.load_fmri_runs": _open_fmri_runs,
    "neurodecode.data.dreamer.load_dreamer": _open_dreamer,
}

#: Cards used for folders recognised by their layout (no card of their own).
_LAYOUT_CARDS = {
    "nsd": "NSD",
    "treebank": "Brain Treebank",
    "roi": "ABIDE (PCP)",
    "dreamer": "DREAMER",
}
_BIDS_CARD = {"name": "BIDS", "loader": "neurodecode.data.bids.load_bids_epochs"}
_RAW_SUFFIXES = (".fif", ".fif.gz", ".edf", ".bdf", ".vhdr", ".set", ".gdf", ".cnt")


def _by_card(card: dict, path, subjects: Subjects, params: dict) -> Dataset:
    from neurodecode.data.cards import resolve_loader

    opener = OPENERS.get(card["loader"])
    if opener is None:
        raise DataError(
            f"card {card['name']!r}: loader {card['loader']!r} is not on the allow-list of "
            f"neurodecode.datasets.OPENERS ({sorted(OPENERS)})")
    try:
        return opener(card, resolve_loader(card), path, subjects, params)
    except TypeError as err:  # an option the loader does not take
        if "unexpected keyword argument" not in str(err):
            raise
        raise DataError(f"{card['name']}: {err.args[0].split('() ')[-1]}; see "
                        f"help({card['loader']})") from None


def detect_layout(path: str | os.PathLike) -> str:
    """The layout of ``path``: ``folder``, ``world``, ``nsd``, ``bids``, ``treebank``,
    ``roi`` or ``raw``; DataError naming what was looked for otherwise."""
    from neurodecode.data import nsd
    from neurodecode.data.folder import is_trial_folder

    path = Path(path)
    if path.is_file():
        if path.name.lower().endswith(_RAW_SUFFIXES):
            return "raw"
        if path.name.lower() == "dreamer.mat":
            return "dreamer"
        raise DataError(f"{path}: a file must be a raw recording ({', '.join(_RAW_SUFFIXES)})")
    if not path.is_dir():
        raise DataError(f"{path}: no such folder, and not a dataset name either "
                        "(`neurodecode data list` shows the names)")
    if is_trial_folder(path):
        return "folder"
    if (path / "world.json").is_file():
        return "world"
    if nsd.is_nsd_layout(path) or ((path / nsd.TRIAL_TABLE).is_file()
                                   and any(path.glob("betas_session*.hdf5"))):
        return "nsd"  # as released, or one subject written by write_nsd_betas
    if (path / "dataset_description.json").is_file():
        return "bids"
    if any(path.glob("sub_*_trial*.h5")):
        return "treebank"
    if any(path.glob("*_rois_*.1D")):
        return "roi"
    if (path / "DREAMER.mat").is_file():
        return "dreamer"
    raise DataError(
        f"{path}: not a layout neurodecode knows. Expected one of: dataset.yaml (the "
        "bring-your-own format, see `neurodecode data check --help`), world.json (a synthetic "
        "world), nsddata/experiments/nsd/nsd_expdesign.mat (NSD), dataset_description.json "
        "(BIDS), sub_<s>_trial<NNN>.h5 (Brain Treebank), <id>_rois_<atlas>.1D (ABIDE-style). "
        "`neurodecode data convert` writes the bring-your-own format")


def open_dataset(name_or_path: str | os.PathLike | Dataset, subjects: Subjects = None,
                 **params: Any) -> Dataset:
    """Open any dataset neurodecode knows, by card name or by path.

    Parameters
    ----------
    name_or_path : str, path or Dataset
        A data card name (``synthetic-vision``, ``NSD``, ``BNCI2014_001``...; case-insensitive)
        or a folder/file in one of the layouts of the module docstring. A Dataset is returned
        as is (restricted to ``subjects``).
    subjects : sequence, optional
        Subjects to open (default all); their order is kept.
    **params
        Passed on: world parameters (``seed``, ``n_subjects``, ...) for synthetic worlds,
        ``path=`` for a card whose files you keep somewhere, and loader options (``sessions``,
        ``roi``, ``task``, ``event_id``, ``tmin``, ...).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Unknown name (the known ones are listed), unknown layout, missing subjects, or any
        problem of the files (naming the file).
    """
    if isinstance(name_or_path, Dataset):
        return name_or_path.select_subjects(subjects)
    from neurodecode.data.cards import get_card

    params = dict(params)
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, os.PathLike) or os.sep in text or Path(
        text).expanduser().exists()
    if not looks_like_path:
        card = get_card(text)
        return _by_card(card, params.pop("path", None), subjects, params)
    path = Path(text).expanduser()
    layout = detect_layout(path)
    if layout == "folder":
        from neurodecode.data.folder import read_trial_folder

        return read_trial_folder(path, subjects)
    if layout == "world":
        manifest = json.loads((path / "world.json").read_text())
        if "name" not in manifest:
            raise DataError(f"{path / 'world.json'}: names no world")
        return _by_card(get_card(manifest["name"]), path, subjects, params)
    if layout == "bids":
        description = json.loads((path / "dataset_description.json").read_text() or "{}")
        card = dict(_BIDS_CARD, name=str(description.get("Name") or path.name))
        from neurodecode.data.bids import load_bids_epochs

        return _open_bids(card, load_bids_epochs, path, subjects, params)
    if layout == "raw":
        card = {"name": path.stem, "loader": "neurodecode.data.sensors.load_raw_epochs"}
        return _by_card(card, path, subjects, params)
    return _by_card(get_card(_LAYOUT_CARDS[layout]), path, subjects, params)


__all__ = ["OPENERS", "Dataset", "detect_layout", "open_dataset"]
