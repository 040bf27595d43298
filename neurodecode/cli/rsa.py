"""``neurodecode rsa``: RDMs, comparisons, region identification and searchlights.

Bad input raises :class:`~neurodecode.errors.DataError`; the command line catches it once
(``neurodecode.cli.LazyGroup``) and prints its message."""

from __future__ import annotations

from pathlib import Path

import click

from neurodecode.cli._checks import writable_dir
from neurodecode.errors import DataError

OUT = click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                   callback=writable_dir, help="Folder for the outputs (created if needed).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def rsa() -> None:
    """Representational similarity analysis and topological RSA (tRSA)."""


def _betas(betas: Path | None, mask: Path | None, dataset: str | None, subject: str | None):
    """One subject's trials: a beta-series NIfTI + mask, or ``--dataset`` (any name or folder
    :func:`neurodecode.datasets.open_dataset` opens) and ``--subject``."""
    if (betas is None) == (dataset is None):
        raise click.UsageError("give either BETAS (with --mask) or --dataset (with --subject)")
    if betas is not None:
        if mask is None:
            raise click.UsageError("BETAS needs --mask")
        from neurodecode.data.fmri import load_beta_series

        return load_beta_series(betas, mask, subject=betas.name.split("_")[0])
    from neurodecode.datasets import open_dataset

    opened = open_dataset(dataset, subjects=None if subject is None else [subject])
    if subject is None and len(opened) != 1:
        raise click.UsageError(f"--dataset {dataset} has subjects {list(opened)}: give --subject")
    return next(iter(opened.subjects.values()))


DATASET = click.option("--dataset", default=None, help="A dataset name or folder "
                       "(`neurodecode data list`, `neurodecode data check PATH`) instead of "
                       "BETAS.")
SUBJECT = click.option("--subject", default=None, help="Subject of --dataset.")


def _read_rdm(path: Path):
    import pandas as pd

    from neurodecode.rsa import RDMs

    return RDMs.from_frame(pd.read_csv(path, sep="\t", index_col=0))


def _write_tsv(frame, path: Path) -> Path:
    from neurodecode._files import atomic_path

    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t")
    return path


@rsa.command("rdm")
@click.argument("betas", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", type=click.Path(exists=True, path_type=Path),
              help="3-D mask NIfTI of the beta series.")
@DATASET
@SUBJECT
@OUT
@click.option("--method", default="crossnobis", show_default=True,
              type=click.Choice(["euclidean", "correlation", "mahalanobis", "crossnobis"]))
@click.option("--conditions", default="condition", show_default=True,
              help="Trial-table column holding the condition of each volume.")
@click.option("--runs", default=None, help="Trial-table column of the crossnobis runs.")
@click.option("--noise", type=click.Choice(["none", "diag", "shrinkage"]), default="none",
              show_default=True, help="Noise normalisation (from residuals).")
def rdm_command(betas: Path | None, mask: Path | None, dataset: str | None,
                subject: str | None, out: Path, method: str, conditions: str,
                runs: str | None, noise: str) -> None:
    """RDM of a beta-series NIfTI (trial table beside it) or of one subject of --dataset:
    rdm.tsv, rdm.png, mds.png."""
    from neurodecode.rsa import calc_rdm, noise_precision
    from neurodecode.rsa.plots import plot_mds, plot_rdms

    data = _betas(betas, mask, dataset, subject)
    precision = None if noise == "none" else noise_precision(data, conditions, noise)
    rdm = calc_rdm(data, method, conditions=conditions, runs=runs, noise=precision)
    _write_tsv(rdm.to_frame(), out / "rdm.tsv")
    plot_rdms(rdm, titles=[method], path=out / "rdm.png")
    plot_mds(rdm, path=out / "mds.png")
    click.echo(f"wrote {out / 'rdm.tsv'} ({rdm.n_cond} conditions, {method}), rdm.png, mds.png")


@rsa.command("compare")
@click.argument("rdm_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("rdm_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--method", default="corr", show_default=True,
              type=click.Choice(["cosine", "corr", "spearman", "tau-a", "rho-a",
                                 "cosine-whitened", "corr-whitened"]))
@click.option("--transform", default="rdm", show_default=True,
              help="Apply to both first: rdm, geodesic or a GT preset (e.g. topology-sensitive).")
def compare_command(rdm_a: Path, rdm_b: Path, method: str, transform: str) -> None:
    """Similarity of two RDM tables (square TSV, as `rsa rdm` writes)."""
    from neurodecode.rsa import compare
    from neurodecode.rsa.identify import apply_transform

    a, b = _read_rdm(rdm_a), _read_rdm(rdm_b)
    value = compare(apply_transform(a.dissimilarities, transform),
                    apply_transform(b.dissimilarities, transform), method)[0, 0]
    click.echo(f"{method}: {value:.6f}")


@rsa.command("identify")
@click.argument("folder", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@DATASET
@OUT
@click.option("--method", default="crossnobis", show_default=True,
              type=click.Choice(["euclidean", "correlation", "crossnobis"]))
@click.option("--transform", "transforms", multiple=True,
              default=("rdm", "geometry-sensitive", "geo-topological", "topology-sensitive",
                       "geodesic"), show_default=True, help="Transforms to compare (repeatable).")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=200,
              show_default=True, help="Bootstrap samples over subjects and stimuli (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
def identify_command(folder: Path | None, dataset: str | None, out: Path, method: str,
                     transforms: tuple[str, ...], n_bootstrap: int, seed: int) -> None:
    """Leave-one-subject-out region identification, for several RDM transforms:
    identification.json. FOLDER or --dataset: any dataset whose trials have ``region`` and
    ``condition`` metadata (e.g. `neurodecode synth synthetic-rsa`, or your own folder)."""
    import numpy as np

    from neurodecode._files import write_json
    from neurodecode.datasets import open_dataset
    from neurodecode.rsa.identify import identification_bootstrap
    from neurodecode.rsa.rdm import calc_rdms

    if (folder is None) == (dataset is None):
        raise click.UsageError("give either FOLDER or --dataset")
    world = open_dataset(folder if dataset is None else dataset)
    rdms = calc_rdms(world.subjects, method, by="region", conditions="condition")
    boot = identification_bootstrap(rdms, {t: t for t in transforms},
                                    n_bootstrap=max(n_bootstrap, 1), seed=seed)
    low, high = np.quantile(boot["accuracy"], [0.025, 0.975], axis=0)
    rows = [{"transform": t, "accuracy": boot["point"][i],
             **({"ci95": [low[i], high[i]]} if n_bootstrap else {})}
            for i, t in enumerate(transforms)]
    write_json(out / "identification.json",
               {"method": method, "chance": 1 / len(np.unique(rdms.rdm_descriptors["region"])),
                "bootstrap": n_bootstrap, "results": rows})
    for row in rows:
        click.echo(f"{row['transform']:<20} {row['accuracy']:.3f}")


def model_keys(models: tuple[Path, ...]) -> dict[str, Path]:
    """One unique name per model RDM file: its stem, or ``<folder>-<stem>`` where stems
    collide (two ``rdm.tsv`` from different folders must not collapse into one map)."""
    stems = [m.stem.removesuffix(".nii") for m in models]
    keys = {}
    for m, stem in zip(models, stems, strict=True):
        key = stem if stems.count(stem) == 1 else f"{m.resolve().parent.name}-{stem}"
        if key in keys:
            raise DataError(f"--model {m}: the same RDM as --model {keys[key]} (or one whose "
                            f"map would also be {key}_map.nii.gz); rename one of them")
        keys[key] = m
    return keys


@rsa.command("searchlight")
@click.argument("betas", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", type=click.Path(exists=True, path_type=Path))
@DATASET
@SUBJECT
@click.option("--model", "models", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model RDM table (square TSV over the sorted conditions); repeatable.")
@OUT
@click.option("--radius", type=float, default=6.0, show_default=True, help="Sphere radius, mm.")
@click.option("--method", default="correlation", show_default=True,
              type=click.Choice(["euclidean", "correlation", "crossnobis"]))
@click.option("--comparison", default="spearman", show_default=True)
@click.option("--conditions", default="condition", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def searchlight_command(betas: Path | None, mask: Path | None, dataset: str | None,
                        subject: str | None, models: tuple[Path, ...], out: Path,
                        radius: float, method: str, comparison: str, conditions: str,
                        quiet: bool) -> None:
    """Searchlight RSA of a beta-series NIfTI (or one fMRI subject of --dataset with a voxel
    grid): one map per model (<model>_map.nii.gz)."""
    from neurodecode._files import atomic_path
    from neurodecode.rsa.searchlight import searchlight

    data = _betas(betas, mask, dataset, subject)
    maps = searchlight(data, {k: _read_rdm(m).dissimilarities
                              for k, m in model_keys(models).items()},
                       radius=radius, method=method, comparison=comparison,
                       conditions=conditions, progress=not quiet)
    for name, img in maps.items():
        with atomic_path(out / f"{name}_map.nii.gz") as tmp:
            img.to_filename(tmp)
    click.echo(f"wrote {len(maps)} maps to {out}")
