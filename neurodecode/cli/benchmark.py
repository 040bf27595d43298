"""``neurodecode benchmark``: MOABB-style evaluations of YAML pipelines."""

from __future__ import annotations

import os

import click
import yaml

from neurodecode.cli._checks import writable_dir


class _Many(click.Option):
    """A repeatable option that also takes several values at once: ``--subjects 1 2 3``.

    Values are read until the next token that starts with ``-``. (click has no variadic
    options; this wraps its parser's per-option callback and falls back to plain repetition
    if click's parser changes.)
    """

    def add_to_parser(self, parser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        table = {**getattr(parser, "_long_opt", {}), **getattr(parser, "_short_opt", {})}
        for name in self.opts:
            option = table.get(name)
            if option is None:
                continue
            single = option.process

            def process(value, state, single=single) -> None:
                single(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    single(state.rargs.pop(0), state)

            option.process = process


def _param(ctx: click.Context, option: click.Parameter, values: tuple[str, ...]) -> dict:
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx, option)
        params[key] = yaml.safe_load(value)
    return params


def _allow_download(ctx: click.Context, option: click.Parameter, value: bool) -> bool:
    """Downloads are opt-in; the switch is an environment variable so that worker processes
    see it too (:func:`neurodecode.benchmark.datasets.downloads_allowed`)."""
    if value:
        os.environ["NEURODECODE_ALLOW_DOWNLOAD"] = "1"
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pipelines", "pipelines", cls=_Many, multiple=True, required=True,
              type=click.Path(exists=True), help="Pipeline YAML files or folders.")
@click.option("--dataset", required=True, help="Synthetic world (synthetic-mi), MOABB code, "
              "or a local folder/file (`neurodecode data check PATH`).")
@click.option("--subjects", cls=_Many, multiple=True, help="Subjects, e.g. 1 2 3 (default all).")
@click.option("--paradigm", type=click.Choice(["LeftRightImagery", "MotorImagery", "P300",
                                                "SSVEP"]), help="Paradigm (default: dataset's).")
@click.option("--events", cls=_Many, multiple=True, help="Events to classify, e.g. left_hand feet.")
@click.option("--evaluation", default="within-session", show_default=True,
              type=click.Choice(["within-session", "cross-session", "cross-subject"]))
@click.option("--n-jobs", default=1, show_default=True, help="Parallel jobs (-1: all).")
@click.option("--backend", default="loky", show_default=True, type=click.Choice(["loky", "dask"]))
@click.option("--scheduler", help="dask.distributed scheduler address (with --backend dask).")
@click.option("--seed", default=42, show_default=True, help="Seed of folds and estimators.")
@click.option("--dataset-param", "dataset_params", multiple=True, callback=_param,
              help="Synthetic world parameter KEY=VALUE (YAML value; repeatable).")
@click.option("--paradigm-param", "paradigm_params", multiple=True, callback=_param,
              help="Preprocessing as MOABB's paradigm arguments, KEY=VALUE: fmin, fmax, tmin, "
                   "tmax, resample, channels, baseline (repeatable).")
@click.option("--compat", default="neurodecode", show_default=True,
              type=click.Choice(["neurodecode", "moabb"]),
              help="moabb: MOABB's behaviour where neurodecode differs on purpose (unseeded "
                   "estimators, failing grid candidates scored NaN).")
@click.option("--overwrite", is_flag=True, help="Recompute everything, ignoring stored results.")
@click.option("--out", required=True, type=click.Path(file_okay=False), callback=writable_dir,
              help="Output folder.")
@click.option("--allow-download", is_flag=True, expose_value=False, callback=_allow_download,
              help="Let MOABB download a dataset missing from MNE_DATA (off by default).")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def benchmark(pipelines, dataset, subjects, paradigm, events, evaluation, n_jobs, backend,
              scheduler, seed, dataset_params, paradigm_params, compat, overwrite, out,
              quiet) -> None:  # fmt: skip
    """Evaluate pipelines on a dataset; write OUT/results.csv, a resumable store and plots.

    Example: neurodecode benchmark --pipelines pipelines --dataset synthetic-mi
    --subjects 1 2 --events left_hand right_hand --out results/mi
    """
    from neurodecode.benchmark import run_benchmark, summary_table
    from neurodecode.data.errors import DataError

    try:
        results = run_benchmark(
            list(pipelines), dataset, out, subjects=list(subjects) or None, paradigm=paradigm,
            events=list(events) or None, evaluation=evaluation, n_jobs=n_jobs, backend=backend,
            scheduler=scheduler, seed=seed, dataset_params=dataset_params,
            paradigm_params=paradigm_params, compat=compat, overwrite=overwrite, quiet=quiet,
        )  # fmt: skip
    except DataError as err:
        raise click.ClickException(str(err)) from None
    if not quiet:
        click.echo(summary_table(results).to_string(float_format=lambda v: f"{v:.4f}"))
        click.echo(
            f"{results.attrs['n_computed']} job(s) computed, {results.attrs['n_cached']} from "
            f"the store; {results.attrs['n_failed']} failed fold(s); results (one row per "
            f"fold) in {out}/results.csv"
        )
