"""The bring-your-own folder format: your recordings, ready for every neurodecode command.

A folder in this format opens with ``neurodecode.datasets.open_dataset(PATH)`` and so works
with ``--dataset PATH`` in ``train``, ``reconstruct``, ``benchmark``, ``rsa`` and
``confounds``. ``neurodecode data check PATH`` validates it; ``neurodecode data convert SRC
OUT`` writes it from anything ``open_dataset`` opens::

    my-data/
      dataset.yaml          name: my-data
                            modality: fmri | meg | eeg | seeg | ecog | fc | features
                            description: ... (optional; any other keys are kept as params)
      sub-<id>/             one folder per subject (or per group, e.g. sub-group for fc)
        trials.tsv          one row per trial, in the order of the data file's rows:
                              stimulus_id  (optional) id of the stimulus shown, as in
                                           stimuli/stimuli.tsv
                              y            (optional) label (class or continuous target)
                              split        (optional) train | test; a stimulus is never in
                                           both
                              session, run, condition, ... (optional) any other columns
                                           become TrialData.metadata
        and exactly one data file:
        betas.npy           fmri / fc / features: float (n_trials, n_features), read
                            memory-mapped; optional mask.nii.gz (3-D) gives voxel positions
        betas.nii.gz        fmri: 4-D, one volume per trial, with mask.nii.gz (3-D, same grid)
        roi-<name>.nii.gz   fmri, optional, any number: a 3-D ROI mask on mask.nii.gz's grid
                            (same shape and affine), non-zero inside, as NSD ships its ROIs
                            (e.g. roi-early.nii.gz); read into TrialData.info["rois"][name]
                            as a bool per column; voxels outside mask.nii.gz are ignored.
                            Decoders with ``roi: <name>`` heads read only those voxels.
        epochs-epo.fif      meg / eeg / seeg / ecog: an MNE epochs file, one epoch per row
                            (MNE's whole Info travels: sensor positions, coil types, ...)
      stimuli/              (optional; needed by train / reconstruct)
        stimuli.tsv         stimulus_id, file (image path relative to stimuli/),
                            caption (optional), other columns = attributes
        *.png / *.jpg       the images

Everything is written through temporary names and renamed into place (``_files``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurodecode.data.containers import MODALITIES, TIMESERIES_MODALITIES, StimulusSet, TrialData
from neurodecode.data.dataset import Dataset
from neurodecode.errors import DataError

MANIFEST = "dataset.yaml"
TRIALS = "trials.tsv"
DATA_FILES = ("betas.npy", "betas.nii.gz", "epochs-epo.fif")
STIMULI = "stimuli"
STIMULUS_TABLE = "stimuli.tsv"


def is_trial_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


def _manifest(root: Path) -> dict:
    import yaml

    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: not found; a bring-your-own folder starts with {MANIFEST} "
                        "(name, modality); see `neurodecode data check --help`")
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise DataError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: must be a mapping with name and modality")
    return meta


def _subject_dirs(root: Path) -> dict[str, Path]:
    return {p.name.removeprefix("sub-"): p for p in sorted(root.glob("sub-*")) if p.is_dir()}


def _n_rows(path: Path) -> int:
    """Rows (trials) of a data file, reading headers only."""
    if path.name.endswith(".npy"):
        return int(np.load(path, mmap_mode="r").shape[0])
    if path.name.endswith(".nii.gz"):
        import nibabel as nib

        shape = nib.load(path).shape
        return int(shape[3]) if len(shape) == 4 else -1
    import mne

    from neurodecode.data.sensors import reading

    with reading(path, "MNE epochs file"):
        return len(mne.read_epochs(path, preload=False, verbose="warning"))


def check_trial_folder(path: str | os.PathLike) -> list[str]:
    """Every problem of a bring-your-own folder (empty when it is valid).

    Checks the manifest, that each subject has a trial table and exactly one data file with
    as many rows as the table has trials (headers only: nothing large is read), ``split``
    values and stimuli (ids unique, every trial's stimulus listed, image files present, no
    stimulus in both train and test).
    """
    root = Path(path)
    if not root.is_dir():
        return [f"{root}: folder not found"]
    problems: list[str] = []
    try:
        meta = _manifest(root)
    except DataError as err:
        return [str(err)]
    modality = meta.get("modality")
    if modality not in MODALITIES:
        problems.append(f"{root / MANIFEST}: modality must be one of {MODALITIES}, got "
                        f"{modality!r}")
    if not isinstance(meta.get("name", root.name), str):
        problems.append(f"{root / MANIFEST}: name must be text")
    subjects = _subject_dirs(root)
    if not subjects:
        problems.append(f"{root}: no sub-<id>/ folders")
    stim_ids: set | None = None
    stim_dir = root / STIMULI
    if stim_dir.is_dir():
        table_path = stim_dir / STIMULUS_TABLE
        if not table_path.is_file():
            problems.append(f"{table_path}: not found (stimulus_id, file, caption)")
        else:
            table = pd.read_csv(table_path, sep="\t")
            if "stimulus_id" not in table:
                problems.append(f"{table_path}: needs a stimulus_id column; has {list(table)}")
            else:
                if table["stimulus_id"].duplicated().any():
                    dup = table["stimulus_id"][table["stimulus_id"].duplicated()].tolist()[:5]
                    problems.append(f"{table_path}: duplicate stimulus ids {dup}")
                stim_ids = set(table["stimulus_id"].tolist())
            if "file" in table:
                missing = [f for f in table["file"].astype(str) if not (stim_dir / f).is_file()]
                if missing:
                    problems.append(f"{stim_dir}: {len(missing)} image files listed in "
                                    f"{STIMULUS_TABLE} are missing, e.g. {missing[:3]}")
    for folder in subjects.values():
        trials = folder / TRIALS
        files = [folder / f for f in DATA_FILES if (folder / f).exists()]
        if len(files) != 1:
            problems.append(f"{folder}: needs exactly one data file of {list(DATA_FILES)}, "
                            f"found {[f.name for f in files]}")
        if not trials.is_file():
            problems.append(f"{trials}: not found (one row per trial)")
            continue
        try:
            table = pd.read_csv(trials, sep="\t", na_values=["n/a", ""], keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            problems.append(f"{trials}: cannot parse ({err})")
            continue
        if len(files) == 1:
            f = files[0]
            if f.name == "epochs-epo.fif" and modality not in TIMESERIES_MODALITIES:
                problems.append(f"{f}: epochs need a sensor modality, the manifest says "
                                f"{modality!r}")
            if f.name.startswith("betas") and modality in TIMESERIES_MODALITIES:
                problems.append(f"{f}: {modality} data are epochs (epochs-epo.fif), not betas")
            if f.name == "betas.nii.gz" and not (folder / "mask.nii.gz").is_file():
                problems.append(f"{folder / 'mask.nii.gz'}: not found (betas.nii.gz needs it)")
            try:
                n = _n_rows(f)
            except Exception as err:  # noqa: BLE001 - every unreadable file is one problem
                problems.append(f"{f}: unreadable ({err})")
            else:
                if n != len(table):
                    problems.append(f"{trials}: {len(table)} trial rows for {n} trials in "
                                    f"{f.name}")
        if "split" in table:
            bad = sorted(set(table["split"].astype(str)) - {"train", "test"})
            if bad:
                problems.append(f"{trials}: split must be train or test, found {bad}")
            elif "stimulus_id" in table:
                both = set(table.loc[table["split"] == "train", "stimulus_id"]) & set(
                    table.loc[table["split"] == "test", "stimulus_id"])
                if both:
                    problems.append(f"{trials}: stimuli {sorted(both)[:5]} are in both train "
                                    "and test")
        if "stimulus_id" in table and stim_ids is not None:
            unknown = sorted(set(table["stimulus_id"].tolist()) - stim_ids)
            if unknown:
                problems.append(f"{trials}: stimulus ids {unknown[:5]} are not in "
                                f"{STIMULI}/{STIMULUS_TABLE}")
    return problems


def read_trial_folder(path: str | os.PathLike, subjects=None) -> Dataset:
    """Open a bring-your-own folder as a :class:`Dataset` (``X`` memory-mapped or lazy).

    Raises
    ------
    DataError
        Listing every problem :func:`check_trial_folder` finds.
    """
    root = Path(path)
    problems = check_trial_folder(root)
    if problems:
        raise DataError(f"{root}: not a valid neurodecode data folder:\n  - "
                        + "\n  - ".join(problems))
    meta = _manifest(root)
    folders = _subject_dirs(root)
    wanted = list(folders) if subjects is None else [str(s) for s in subjects]
    missing = [s for s in wanted if s not in folders]
    if missing:
        raise DataError(f"{root}: subjects {missing} not found; available: {list(folders)}")
    out = {s: _read_subject(folders[s], s, meta["modality"]) for s in wanted}
    params = {k: v for k, v in meta.items() if k not in ("name", "modality", "description")}
    return Dataset(name=str(meta.get("name", root.name)), subjects=out,
                   stimuli=read_stimuli(root / STIMULI), params=params, source=str(root))


def _read_subject(folder: Path, subject: str, modality: str) -> TrialData:
    from neurodecode.data.fmri import fmri_info, split_trial_table

    table = pd.read_csv(folder / TRIALS, sep="\t", na_values=["n/a", ""],
                        keep_default_na=False)
    if (folder / "epochs-epo.fif").exists():
        from neurodecode.data.sensors import read_epochs

        data = read_epochs(folder / "epochs-epo.fif", subject, modality=modality)
        fields = split_trial_table(table)
        return TrialData(X=data.X, subject=subject, modality=modality,
                         y=fields["y"] if fields["y"] is not None else data.y,
                         stimulus_ids=fields["stimulus_ids"], metadata=fields["metadata"],
                         info=data.info)
    if (folder / "betas.nii.gz").exists():
        from neurodecode.data.fmri import _load_mask, load_beta_series, read_roi_masks

        data = load_beta_series(folder / "betas.nii.gz", folder / "mask.nii.gz", subject,
                                trials=table)
        img, mask, name = _load_mask(folder / "mask.nii.gz")
        rois = read_roi_masks(folder, img, mask, name)
        return replace(data, info={**data.info, "rois": rois}) if rois else data
    X = np.load(folder / "betas.npy", mmap_mode="r")
    if X.ndim != 2:
        raise DataError(f"{folder / 'betas.npy'}: must be (trials, features), found {X.shape}")
    info: dict[str, Any] = {}
    if (folder / "mask.nii.gz").exists():
        from neurodecode.data.fmri import _load_mask

        img, mask, name = _load_mask(folder / "mask.nii.gz")
        if int(mask.sum()) != X.shape[1]:
            raise DataError(f"{name}: mask has {int(mask.sum())} voxels, betas.npy has "
                            f"{X.shape[1]} columns")
        info = fmri_info(mask, img.affine)
        from neurodecode.data.fmri import read_roi_masks

        rois = read_roi_masks(folder, img, mask, name)  # roi-<name>.nii.gz beside the betas
        if rois:
            info["rois"] = rois
    return TrialData(X=X, subject=subject, modality=modality, info=info,
                     **split_trial_table(table))


def read_stimuli(folder: str | os.PathLike) -> StimulusSet | None:
    """``stimuli/stimuli.tsv`` (+ images, read lazily) as a StimulusSet; None if absent."""
    folder = Path(folder)
    path = folder / STIMULUS_TABLE
    if not path.is_file():
        return None
    table = pd.read_csv(path, sep="\t", keep_default_na=False)
    extra = [c for c in table if c not in ("stimulus_id", "file", "caption")]
    return StimulusSet(
        ids=table["stimulus_id"].to_numpy(),
        images=[folder / f for f in table["file"].astype(str)] if "file" in table else None,
        captions=table["caption"].astype(str).tolist() if "caption" in table else None,
        attributes=table[extra] if extra else None,
    )


def write_trial_folder(dataset: Dataset, out: str | os.PathLike,
                       description: str | None = None) -> list[Path]:
    """Write ``dataset`` in the bring-your-own format (what ``neurodecode data convert``
    does). Sensor data go through MNE's FIF writer, betas to ``betas.npy`` (plus
    ``mask.nii.gz`` when the voxel grid is known), the images the subjects saw to PNG. Every file is written under
    a temporary name and renamed into place; the manifest is written last."""
    import nibabel as nib
    import yaml

    from neurodecode._files import atomic_path, write_text
    from neurodecode.data.fmri import trial_table, write_table
    from neurodecode.data.sensors import write_epochs

    root = Path(out)
    if (root / MANIFEST).exists() or any(root.glob("sub-*")):
        raise DataError(f"{root}: already holds a data folder; write into a new folder")
    paths: list[Path] = []
    modalities = {d.modality for d in dataset.subjects.values()}
    if len(modalities) != 1:
        raise DataError(f"{dataset.name}: subjects mix modalities {sorted(modalities)}")
    (modality,) = modalities
    for name, data in dataset.subjects.items():
        folder = root / f"sub-{name}"
        # the fields win over metadata columns of the same name (some worlds keep both)
        data = replace(data, metadata=data.metadata.drop(
            columns=[c for c in ("stimulus_id", "y") if c in data.metadata]))
        table = trial_table(data)
        with atomic_path(folder / TRIALS) as tmp:
            write_table(table, tmp)
        paths.append(folder / TRIALS)
        if data.is_timeseries:
            paths.append(write_epochs(data, folder / "epochs-epo.fif"))
            continue
        with atomic_path(folder / "betas.npy") as tmp:
            np.save(tmp, np.asarray(data.X, dtype=np.float32))
        paths.append(folder / "betas.npy")
        if "mask" in data.info and "affine" in data.info:
            with atomic_path(folder / "mask.nii.gz") as tmp:
                nib.save(nib.Nifti1Image(np.asarray(data.info["mask"], np.uint8),
                                         np.asarray(data.info["affine"], float)), tmp)
            paths.append(folder / "mask.nii.gz")
            from neurodecode.data.fmri import roi_images

            for name, img in roi_images(data).items():
                with atomic_path(folder / name) as tmp:
                    nib.save(img, tmp)
                paths.append(folder / name)
    if dataset.stimuli is not None:
        stimuli = dataset.stimuli
        shown = [d.stimulus_ids for d in dataset.subjects.values()]
        if all(ids is not None for ids in shown):  # only what these subjects saw
            seen = set(np.concatenate(shown).tolist())
            stimuli = stimuli.subset([i for i in stimuli.ids.tolist() if i in seen])
        paths += write_stimuli(stimuli, root / STIMULI)
    meta = {"name": dataset.name, "modality": modality}
    if description or dataset.card:
        meta["description"] = description or str(dataset.card.get("description", ""))
    meta.update({k: v for k, v in dataset.params.items() if _plain(v)})
    paths.append(write_text(root / MANIFEST, yaml.safe_dump(meta, sort_keys=False)))
    return paths


def _plain(value) -> bool:
    return isinstance(value, str | int | float | bool | type(None)) or (
        isinstance(value, list | tuple) and all(_plain(v) for v in value))


def write_stimuli(stimuli: StimulusSet, folder: Path) -> list[Path]:
    from PIL import Image

    from neurodecode._files import atomic_path
    from neurodecode.data.fmri import write_table

    table = pd.DataFrame({"stimulus_id": stimuli.ids})
    paths = []
    if stimuli.images is not None:
        files = []
        for sid in stimuli.ids.tolist():
            name = f"stim-{sid}.png"
            image = stimuli.get_images([sid])[0]
            with atomic_path(folder / name) as tmp:
                Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp)
            files.append(name)
            paths.append(folder / name)
        table["file"] = files
    if stimuli.captions is not None:
        table["caption"] = stimuli.captions
    if stimuli.attributes is not None:
        for col in stimuli.attributes:
            if col not in table:
                table[col] = stimuli.attributes[col].to_numpy()
    with atomic_path(folder / STIMULUS_TABLE) as tmp:
        write_table(table, tmp)
    return [*paths, folder / STIMULUS_TABLE]
