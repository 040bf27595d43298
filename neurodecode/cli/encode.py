"""``neurodecode encode``: the four encoding-model studies (see :mod:`neurodecode.encoding`).

Bad input raises :class:`~neurodecode.errors.DataError`; the command line prints its message.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from neurodecode.errors import DataError

OUT = click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                   help="Folder for the outputs (created if needed).")
SEED = click.option("--seed", default=0, show_default=True, help="Seed of the world and the "
                    "resampling.")
QUIET = click.option("--quiet", is_flag=True, help="Print nothing but errors.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def encode() -> None:
    """Encoding models: predict brain responses from stimulus features, and four studies.

    \b
    seeg        SEEG multimodal sites (Subramaniam et al. 2024): vision-language features
                vs vision, language and their concatenation, event bootstrap + FDR.
    synthesize  Brain-guided synthesis (BrainDiVE): images that drive an ROI's predicted
                response, at several guidance scales.
    ablate      Network ablation: drop each functional network's voxels, re-evaluate a
                trained decoder, rank the networks.
    motion      Motion decoding: optical flow from brain responses vs zero/mean-flow
                baselines, and on shuffled data.
    """


def _prepare(out: Path) -> Path:
    from neurodecode._files import check_writable_dir

    return check_writable_dir(out)


def _write_json(path: Path, payload: dict) -> Path:
    from neurodecode._files import write_json

    return write_json(path, payload)


def _write_csv(frame, path: Path) -> Path:
    from neurodecode._files import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return path


def _echo(quiet: bool, message: str) -> None:
    if not quiet:
        click.echo(message)


# ----------------------------------------------------------------------------- seeg
@encode.command()
@click.option("--dataset", default="synthetic-seeg-movie", show_default=True,
              help="synthetic-seeg-movie, or a folder written by `neurodecode synth "
                   "synthetic-seeg-movie` (Brain Treebank layout).")
@click.option("--subject", default=None, help="Subject (default: all).")
@click.option("--features", "features_path", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="NPZ with arrays vision, language, multimodal (n_events x d each) aligned "
                   "to the events; default: the synthetic world's streams (vision, language, "
                   "and [vision, language, interaction] as the vision-language model).")
@click.option("--n-boot", default=1000, show_default=True, help="Event bootstraps.")
@click.option("--fdr", "fdr_level", default=0.05, show_default=True, help="FDR within each "
              "comparison.")
@SEED
@OUT
@QUIET
def seeg(dataset, subject, features_path, n_boot, fdr_level, seed, out, quiet):
    """Multimodal sites: where the vision-language model beats vision, language and concat."""
    from neurodecode.datasets import open_dataset
    from neurodecode.encoding.seeg import bin_responses, multimodal_sites, plot_site_map

    out = _prepare(out)
    world = open_dataset(dataset, seed=seed)  # a world name or folder (the one front door)
    if features_path is not None:
        with np.load(features_path, allow_pickle=False) as npz:
            missing = {"vision", "language", "multimodal"} - set(npz.files)
            if missing:
                raise DataError(f"{features_path}: missing arrays {sorted(missing)}")
            streams = {k: npz[k] for k in ("vision", "language", "multimodal")}
    else:
        f = world.truth["features"]
        streams = {"vision": f["vision"], "language": f["language"],
                   "multimodal": np.hstack([f["vision"], f["language"], f["interaction"]])}
    subjects = [subject] if subject else list(world.subjects)
    summary = {}
    for s in subjects:
        if s not in world.subjects:
            raise DataError(f"--subject {s}: not in {sorted(world.subjects)}")
        data = world.subjects[s]
        Y, targets = bin_responses(data)
        result = multimodal_sites(Y, streams, targets=targets, n_boot=n_boot, alpha=fdr_level,
                                  seed=seed)
        sites = result.sites(dict(zip(data.info["ch_names"], data.info["ch_pos"],
                                      strict=True)))
        _write_csv(result.table, out / f"sub-{s}_targets.csv")
        _write_csv(sites, out / f"sub-{s}_sites.csv")
        plot_site_map(sites, out / f"sub-{s}_site_map.png",
                      f"subject {s}: {int(sites['multimodal'].sum())} of {len(sites)} sites "
                      "multimodal")
        entry = {"n_sites": len(sites), "n_multimodal": int(sites["multimodal"].sum()),
                 "multimodal": sites.index[sites["multimodal"]].tolist()}
        planted = world.truth.get("multimodal_sites", {}).get(s)
        if planted is not None and features_path is None:
            found = set(entry["multimodal"])
            entry["planted"] = planted
            entry["recall"] = len(found & set(planted)) / max(len(planted), 1)
            entry["false_discovery"] = len(found - set(planted)) / max(len(found), 1)
        summary[s] = entry
        _echo(quiet, f"subject {s}: {entry['n_multimodal']} of {entry['n_sites']} sites "
                     "multimodal" + (f" (recall {entry['recall']:.2f}, false discovery "
                                     f"{entry['false_discovery']:.2f})" if "recall" in entry
                                     else ""))
    _write_json(out / "summary.json", {"subjects": summary, "protocol": result.protocol})


# ----------------------------------------------------------------------------- synthesize
@encode.command()
@click.option("--roi", required=True, help="A NIfTI mask or atlas (with --label), or "
              "ATTRIBUTE=VALUE of the synthetic world (e.g. shape=circle: the --roi-size voxels "
              "whose predicted response prefers it most).")
@click.option("--label", default=None, help="Atlas value (or name, with --labels) of the ROI.")
@click.option("--labels", "labels_json", default=None, help="JSON {name: value} of the atlas.")
@click.option("--roi-size", default=50, show_default=True)
@click.option("--scales", default="0,2,4,8", show_default=True, help="Guidance scales, comma "
              "separated (negative drives the response down).")
@click.option("--n-images", default=8, show_default=True)
@click.option("--steps", default=20, show_default=True, help="DDIM steps.")
@click.option("--subject", default="1", show_default=True)
@SEED
@OUT
@QUIET
def synthesize(roi, label, labels_json, roi_size, scales, n_images, steps, subject, seed, out,
               quiet):
    """Brain-guided synthesis with the embedded generator and a synthetic-vision encoder."""
    import torch

    from neurodecode.encoding.guidance import EmbeddedDiffusion, fit_image_encoder, roi_mask
    from neurodecode.reconstruct.embedded import load_codec
    from neurodecode.synth import vision

    try:
        scale_list = [float(s) for s in scales.split(",") if s.strip()]
    except ValueError as err:
        raise DataError(f"--scales {scales!r}: expected numbers separated by commas") from err
    if not scale_list:
        raise DataError("--scales: give at least one scale")
    out = _prepare(out)
    world = vision.make(n_subjects=int(subject), seed=seed)
    data = world.subjects[subject]
    codec = load_codec()
    encoder = fit_image_encoder(codec.encode, world.stimuli.images[data.stimulus_ids], data.X)
    if "=" in roi and not Path(roi).exists():
        key, value = roi.split("=", 1)
        attrs = world.stimuli.attributes
        if key not in attrs or value not in set(attrs[key].astype(str)):
            raise DataError(f"--roi {roi}: the world's attributes are {list(attrs.columns)} "
                            f"with values like {attrs.iloc[0].to_dict()}")
        with torch.no_grad():
            pred = encoder(torch.from_numpy(np.array(world.stimuli.images)).permute(0, 3, 1, 2)
                           / 255.0).numpy()
        sel = np.array(attrs[key].astype(str) == value)
        mask = np.zeros(pred.shape[1], bool)
        mask[np.argsort(pred[sel].mean(0) - pred[~sel].mean(0))[-roi_size:]] = True
    else:
        mask = roi_mask(data, roi, label=label,
                        labels=json.loads(labels_json) if labels_json else None)
    objective = encoder.objective(mask)
    sampler = EmbeddedDiffusion(world.truth["semantic"], codec=codec)
    rows, responses = [], {}
    for scale in scale_list:
        images, _ = sampler.sample(n_images, steps=steps, seed=seed, objective=objective,
                                   scale=scale)
        with torch.no_grad():
            r = objective(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
        responses[str(scale)] = {"mean": float(r.mean()), "per_image": r.tolist()}
        rows.append(images)
        _echo(quiet, f"scale {scale:g}: predicted ROI response {r.mean():.3f}")
    _save_grid(rows, [f"scale {s:g}" for s in scale_list], out / "synthesized.png")
    _write_json(out / "responses.json", {"roi": roi, "n_voxels": int(mask.sum()),
                                         "steps": steps, "seed": seed, "responses": responses})


def _save_grid(rows, titles, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from neurodecode._files import atomic_path

    n = len(rows[0])
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.2, len(rows) * 1.3), squeeze=False)
    for i, (images, title) in enumerate(zip(rows, titles, strict=True)):
        for j in range(n):
            axes[i, j].imshow(np.clip(images[j], 0, 1))
            axes[i, j].axis("off")
        axes[i, 0].set_title(title, fontsize=8, loc="left")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- ablate
@encode.command()
@click.option("--atlas", default=None, type=click.Path(dir_okay=False, exists=True,
                                                       path_type=Path),
              help="NIfTI label image of functional networks (e.g. Yeo 2011's 7 networks); "
                   "default: the planted networks of the test world, written to --out.")
@click.option("--labels", "labels_json", default=None, help="JSON {network: value} for --atlas.")
@SEED
@OUT
@QUIET
def ablate(atlas, labels_json, seed, out, quiet):
    """Network ablation of a ridge decoder on synthetic-vision with planted networks."""
    import nibabel as nib

    from neurodecode.data.splits import split_from_metadata
    from neurodecode.encoding.ablation import ablate_networks, network_masks, planted_networks
    from neurodecode.ridge import MultiRidgeCV
    from neurodecode.synth import vision

    out = _prepare(out)
    world = planted_networks(vision.make(n_subjects=1, seed=seed), seed=seed)
    data = world.subjects["1"]
    semantic = world.truth["semantic"]
    if atlas is None:
        atlas = out / "networks.nii.gz"
        nib.save(nib.Nifti1Image(world.truth["network_atlas"], data.info["affine"]), atlas)
        labels = world.truth["network_labels"]
    else:
        labels = json.loads(labels_json) if labels_json else None
    masks = network_masks(data, atlas, labels)
    train, test = split_from_metadata(data)
    decoder = MultiRidgeCV(cv=3).fit(train.X, semantic[train.stimulus_ids])
    ids = np.unique(test.stimulus_ids)
    X = np.stack([test.X[test.stimulus_ids == i].mean(0) for i in ids])
    table = ablate_networks(decoder, X, semantic[ids], masks)
    _write_csv(table, out / "ablation.csv")
    _write_json(out / "ablation.json", {"full_score": table.attrs["full"],
                                        "metric": "mean Pearson r over embedding dimensions",
                                        "ranking": list(table.index),
                                        "planted_order": world.truth["network_order"]})
    _echo(quiet, f"full score {table.attrs['full']:.3f}\n" + table.to_string())


# ----------------------------------------------------------------------------- motion
@encode.command()
@click.option("--model", "models", multiple=True, default=("ridge",), show_default=True,
              type=click.Choice(["ridge", "mlp"]), help="Flow decoder (repeatable).")
@SEED
@OUT
@QUIET
def motion(models, seed, out, quiet):
    """Decode optical flow on synthetic-motion; EPE and angular error vs baselines."""
    from neurodecode.encoding.motion import motion_decoding, results_table
    from neurodecode.synth import motion as motion_world

    out = _prepare(out)
    world = motion_world.make(seed=seed)
    rows = [motion_decoding(world, model=m, shuffle=sh, seed=seed)
            for m in models for sh in (False, True)]
    table = results_table(rows)
    _write_csv(table, out / "motion.csv")
    _write_json(out / "motion.json", {"rows": rows})
    _echo(quiet, table.round(3).to_string())
