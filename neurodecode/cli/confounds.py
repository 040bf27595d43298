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
                 help="Phenotypic column holding the file-name ids (the join key between "
                      "the table and the <id>_rois_<atlas>.1D files)."),
    click.option("--missing", type=click.Choice(["error", "skip"]), default="error",
                 show_default=True,
                 help="Participants without a time series file, or (fit) without a value "
                      "of a declared demographic: stop with an error, or leave them out."),
    click.option("--zero-variance", type=click.Choice(["error", "zero", "drop"]),
                 default="error", show_default=True,
                 help="ROIs with a constant time series (outside the field of view): stop, "
                      "give them zero connectivity, or drop them from every participant."),
]


class LatentDim(click.ParamType):
    """``--latent-dim``: a positive integer, or ``auto`` (the sample-size-aware choice of
    ``DemoVAE(latent_dim="auto")``: the largest of :func:`~neurodecode.confounds.demovae.
    auto_latent_dims` whose inner cross-fitted latents keep every demographic at chance)."""

    name = "integer|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip()
        if text.lower() == "auto":
            return "auto"
        try:
            number = int(text)
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"{value!r} is not a positive integer or 'auto'", param, ctx)
        return number


def data_options(func):
    for option in reversed(_data_options):
        func = option(func)
    return func


def _load(dataset: str | None, data_dir: str | None, phenotypic: str | None,
          atlas: str | None, id_column: str, missing: str = "error",
          zero_variance: str = "error", continuous=(), categorical=()):
    """The participants' connectivity (one ``fc`` TrialData), from --dataset or the folder
    options, through :func:`neurodecode.datasets.open_dataset`. With declared demographics,
    their columns are checked (and with ``--missing skip`` participants lacking a value are
    left out)."""
    import numpy as np

    from neurodecode.data.connectivity import check_demographics
    from neurodecode.datasets import open_dataset
    from neurodecode.errors import DataError

    missing = "raise" if missing == "error" else missing
    zero_variance = "raise" if zero_variance == "error" else zero_variance
    if (dataset is None) == (data_dir is None):
        raise click.UsageError("give exactly one of --dataset and --data")
    if dataset is None:
        absent = [n for n, v in (("--phenotypic", phenotypic), ("--atlas", atlas)) if not v]
        if absent:
            raise click.UsageError(f"--data needs {' and '.join(absent)}")
        opened = open_dataset(data_dir, phenotypic=phenotypic, atlas=atlas,
                              id_column=id_column, missing=missing,
                              zero_variance=zero_variance)
    else:
        opened = open_dataset(dataset)
    groups = [d for d in opened.subjects.values() if d.modality == "fc"]
    if len(groups) != 1:
        raise DataError(f"{dataset or data_dir}: expected one connectivity (fc) group, found "
                        f"{[(s, d.modality) for s, d in opened.subjects.items()]}")
    data = groups[0]
    info = data.info or {}
    if info.get("skipped"):
        click.echo(f"left out {len(info['skipped'])} participants without a time series file",
                   err=True)
    if info.get("dropped_rois"):
        click.echo(f"dropped {len(info['dropped_rois'])} zero-variance ROIs: "
                   f"{info['dropped_rois']}", err=True)
    if continuous or categorical:
        ids = data.metadata[id_column] if id_column in data.metadata else None
        keep = check_demographics(data.metadata, continuous, categorical, missing=missing,
                                  source=str(phenotypic or dataset), ids=ids)
        if not keep.all():
            click.echo(f"left out {int((~keep).sum())} participants lacking a demographic "
                       "value", err=True)
            data = data.select(np.flatnonzero(keep))
    return data


@click.group()
def confounds() -> None:
    """Demographic confound removal for connectivity (DemoVAE)."""


@confounds.command()
@data_options
@click.option("--continuous", multiple=True,
              help="Continuous demographic column, e.g. age (repeatable; standardised).")
@click.option("--categorical", multiple=True,
              help="Categorical demographic column, e.g. sex, site (repeatable; one-hot; "
                   "numeric codes such as SEX 1/2 are fine).")
@click.option("--latent-dim", type=LatentDim(), default="16", show_default=True,
              help="Latent size: an integer, kept small next to the number of participants "
                   "(DemoVAE notes), or 'auto': chosen by held-out leakage inside the training "
                   "data among 2, 4, ..., 64 (sizes above the number of demographic directions "
                   "projected out, at most half the participants; 3 inner fits per size, so "
                   "slower). The chosen size is printed and saved in config.json.")
@click.option("--hidden-dim", default=128, show_default=True)
@click.option("--epochs", default=100, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, callback=writable_dir, type=click.Path(file_okay=False),
              help="Folder for model.safetensors + config.json.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance, continuous,
        categorical, latent_dim, hidden_dim, epochs, seed, device, out, quiet) -> None:
    """Fit a DemoVAE on all participants of a folder and save it."""
    from neurodecode.confounds.connectivity import edge_layout
    from neurodecode.confounds.demovae import DemoVAE

    data = _load(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance,
                 continuous, categorical)
    model = DemoVAE(continuous=continuous, categorical=categorical, latent_dim=latent_dim,
                    hidden_dim=hidden_dim, n_epochs=epochs, random_state=seed, device=device,
                    verbose=not quiet)
    model.fit(data.X, demographics=data.metadata)
    if latent_dim == "auto":
        tried = model.size_selection_
        click.echo(f"--latent-dim auto: chose {model.latent_dim_} of sizes "
                   f"{tried['size'].tolist()} (worst band excess "
                   f"{[round(float(w), 2) for w in tried['worst']]})", err=True)
    # which ROIs the edges join (after --zero-variance drop): transform checks new data
    model.edge_layout_ = edge_layout(data.info, zero_variance)
    for path in model.save(out):
        click.echo(f"wrote {path}")


@confounds.command()
@data_options
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, callback=writable_file, type=click.Path(dir_okay=False),
              help="CSV of latents, one row per participant.")
def transform(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance,
              model_dir, out) -> None:
    """Write the cleaned latents of every participant of a folder.

    Reads no demographics (the table only lists the participants), so new participants are
    cleaned without their labels. Use the --zero-variance choice the model was fitted with.
    """
    import pandas as pd

    from neurodecode._files import write_text
    from neurodecode.confounds.connectivity import check_edge_layout
    from neurodecode.confounds.demovae import DemoVAE
    from neurodecode.errors import DataError

    model = DemoVAE.load(model_dir)
    data = _load(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance)
    check_edge_layout(model.edge_layout_, data.info, zero_variance,
                      source=str(dataset or data_dir), model=f"the model in {model_dir}")
    if data.X.shape[1] != model.n_features_in_:
        raise DataError(f"{dataset or data_dir}: {data.X.shape[1]} edges, the model in "
                        f"{model_dir} was fitted on {model.n_features_in_}; use the same "
                        "atlas and --zero-variance choice as for fitting")
    demographics = data.metadata if model.conditional_encoder else None
    latents = model.transform(data.X, demographics=demographics)
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


@confounds.command()
@data_options
@click.option("--continuous", multiple=True, help="Continuous demographic to remove.")
@click.option("--categorical", multiple=True, help="Categorical demographic to remove.")
@click.option("--signal", "signals", multiple=True,
              help="Column that should survive cleaning, e.g. a diagnosis (repeatable).")
@click.option("--site", help="The categorical column ComBat harmonises (omit: no ComBat).")
@click.option("--method", "methods", multiple=True,
              type=click.Choice(["combat", "projection", "combat+projection", "demovae"]),
              help="Methods to compare (default all).")
@click.option("--permutations", default=200, show_default=True)
@click.option("--out", required=True, callback=writable_file,
              help="CSV: one row per method and target.")
def compare(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance, continuous,
            categorical, signals, site, methods, permutations, out) -> None:
    """Which method removes what: DemoVAE, ComBat and a projection, each cross-fitted
    (5 folds: every participant cleaned by a model fitted on the others), judged by held-out
    leakage with chance bands; signals report their retention.

    ComBat needs each held-out participant's --site (known at acquisition); the other
    methods read no demographics of the participants they clean.
    """
    from neurodecode._files import write_text
    from neurodecode.confounds.selection import METHODS, cleaning_report
    from neurodecode.data.connectivity import check_demographics

    data = _load(dataset, data_dir, phenotypic, atlas, id_column, missing, zero_variance,
                 continuous, categorical)
    if signals:
        check_demographics(data.metadata, (), signals, missing="raise",
                           source=str(phenotypic or dataset), max_levels=1.0)
    report = cleaning_report(data.X, data.metadata, continuous, categorical, signals,
                             site=site, methods=methods or METHODS,
                             n_permutations=permutations)
    for row in report.itertuples():
        kept = "" if row.role == "demographic" else f"  retention {row.retention:.2f}"
        click.echo(f"{row.method:18s} {row.target:12s} {row.metric:17s} {row.score:6.3f} "
                   f"[{row.chance_low:.3f}, {row.chance_high:.3f}] {row.status}{kept}")
    click.echo(f"wrote {write_text(out, report.to_csv(index=False))}")
