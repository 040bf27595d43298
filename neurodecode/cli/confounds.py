"""``neurodecode confounds fit|transform|sample``: DemoVAE on ROI time series folders."""

from __future__ import annotations

from pathlib import Path

import click

from neurodecode.cli._checks import writable_dir, writable_file

_data_options = [
    click.option("--dataset", default=None,
                 help="A connectivity dataset by name or folder (`neurodecode data list`; "
                      "the bring-your-own format with modality fc), instead of --data."),
    click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False),
                 help="Folder of <id>_rois_<atlas>.1D files."),
    click.option("--phenotypic", type=click.Path(exists=True, dir_okay=False),
                 help="CSV with one row per participant (demographics)."),
    click.option("--atlas", help="Atlas name in the file names, e.g. cc200."),
    click.option("--id-column", default="FILE_ID", show_default=True,
                 help="Phenotypic column holding the file-name ids."),
]


def data_options(func):
    for option in reversed(_data_options):
        func = option(func)
    return func


def _load(dataset: str | None, data_dir: str | None, phenotypic: str | None,
          atlas: str | None, id_column: str):
    """The participants' connectivity (one ``fc`` TrialData), from --dataset or the folder
    options, through :func:`neurodecode.datasets.open_dataset`."""
    from neurodecode.datasets import open_dataset
    from neurodecode.errors import DataError

    if (dataset is None) == (data_dir is None):
        raise click.UsageError("give exactly one of --dataset and --data")
    if dataset is None:
        missing = [n for n, v in (("--phenotypic", phenotypic), ("--atlas", atlas)) if not v]
        if missing:
            raise click.UsageError(f"--data needs {' and '.join(missing)}")
        opened = open_dataset(data_dir, phenotypic=phenotypic, atlas=atlas,
                              id_column=id_column)
    else:
        opened = open_dataset(dataset)
    groups = [d for d in opened.subjects.values() if d.modality == "fc"]
    if len(groups) != 1:
        raise DataError(f"{dataset or data_dir}: expected one connectivity (fc) group, found "
                        f"{[(s, d.modality) for s, d in opened.subjects.items()]}")
    return groups[0]


@click.group()
def confounds() -> None:
    """Demographic confound removal for connectivity (DemoVAE)."""


@confounds.command()
@data_options
@click.option("--continuous", multiple=True, help="Continuous demographic column (repeatable).")
@click.option("--categorical", multiple=True, help="Categorical demographic column (repeatable).")
@click.option("--latent-dim", default=16, show_default=True,
              help="Keep it small next to the number of participants (DemoVAE notes).")
@click.option("--hidden-dim", default=128, show_default=True)
@click.option("--epochs", default=100, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, callback=writable_dir, type=click.Path(file_okay=False),
              help="Folder for model.safetensors + config.json.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit(dataset, data_dir, phenotypic, atlas, id_column, continuous, categorical, latent_dim,
        hidden_dim, epochs, seed, device, out, quiet) -> None:
    """Fit a DemoVAE on all participants of a folder and save it."""
    from neurodecode.confounds.demovae import DemoVAE

    data = _load(dataset, data_dir, phenotypic, atlas, id_column)
    model = DemoVAE(continuous=continuous, categorical=categorical, latent_dim=latent_dim,
                    hidden_dim=hidden_dim, n_epochs=epochs, random_state=seed, device=device,
                    verbose=not quiet)
    model.fit(data.X, demographics=data.metadata)
    for path in model.save(out):
        click.echo(f"wrote {path}")


@confounds.command()
@data_options
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, callback=writable_file, type=click.Path(dir_okay=False),
              help="CSV of latents, one row per participant.")
def transform(dataset, data_dir, phenotypic, atlas, id_column, model_dir, out) -> None:
    """Write the latents of every participant of a folder."""
    import pandas as pd

    from neurodecode._files import write_text
    from neurodecode.confounds.demovae import DemoVAE

    model = DemoVAE.load(model_dir)
    data = _load(dataset, data_dir, phenotypic, atlas, id_column)
    latents = model.transform(data.X, demographics=data.metadata)
    table = pd.DataFrame(latents, columns=model.get_feature_names_out())
    ids = (data.metadata[id_column].to_numpy() if id_column in data.metadata
           else data.metadata.index.to_numpy())
    table.insert(0, id_column, ids)
    click.echo(f"wrote {write_text(out, table.to_csv(index=False))}")


@confounds.command()
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--n", "n_samples", type=click.IntRange(min=1),
              help="Samples, demographics resampled from training.")
@click.option("--demographics", type=click.Path(exists=True, dir_okay=False),
              help="CSV of demographics, one sample per row.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, callback=writable_dir, type=click.Path(file_okay=False),
              help="Folder for synthetic_edges.npy and synthetic_demographics.csv.")
def sample(model_dir, n_samples, demographics, seed, out) -> None:
    """Sample synthetic connectivity (upper-triangle edges) for given demographics."""
    import numpy as np
    import pandas as pd

    from neurodecode._files import atomic_path, write_text
    from neurodecode.confounds.demovae import DemoVAE

    if (n_samples is None) == (demographics is None):
        raise click.UsageError("give exactly one of --n and --demographics")
    model = DemoVAE.load(model_dir)
    request = n_samples if demographics is None else pd.read_csv(demographics)
    edges, used = model.sample(request, random_state=seed)
    out = Path(out)
    with atomic_path(out / "synthetic_edges.npy") as tmp:
        np.save(tmp, edges)
    write_text(out / "synthetic_demographics.csv", used.to_csv(index=False))
    click.echo(f"wrote {len(edges)} samples to {out}")
