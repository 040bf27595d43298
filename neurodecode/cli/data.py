"""``neurodecode data list|show|check|convert`` (data cards, the bring-your-own folder format)
and ``neurodecode synth`` (synthetic worlds)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from neurodecode.errors import DataError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Datasets: list and show the data cards; check and convert folders in the
    bring-your-own format (what every --dataset PATH reads)."""


@data.command("list")
def list_datasets() -> None:
    """Print a table of every dataset with a card: name, modality, subjects, loader."""
    from neurodecode.data.cards import list_cards

    cards = list_cards()
    columns = ("name", "modality", "subjects", "loader")
    rows = [
        [_cell(card[c]) if c == "subjects" else str(card[c]) for c in columns] for card in cards
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value, width: int = 30) -> str:
    """``value`` as text cut to ``width`` characters (``data show`` prints it in full)."""
    text = str(value)
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


@data.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the data card of dataset NAME (as listed by `neurodecode data list`)."""
    import yaml

    from neurodecode.data.cards import get_card

    try:
        card = get_card(name)
    except DataError as err:
        raise click.UsageError(str(err)) from None
    click.echo(yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100).rstrip())


def _folder_help() -> str:
    from neurodecode.data import folder

    text = folder.__doc__.split("::", 1)[1].split("Everything is written", 1)[0]
    return textwrap.dedent(text).strip("\n")


@data.command("check", help="Validate a folder in the bring-your-own format (or any layout "
              "`--dataset PATH` reads) and summarise it. The format:\n\n\b\n"
              + _folder_help())
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def check(path: Path) -> None:
    from neurodecode.data.folder import check_trial_folder, is_trial_folder
    from neurodecode.datasets import detect_layout, open_dataset

    if is_trial_folder(path):
        problems = check_trial_folder(path)
        if problems:
            raise click.ClickException(
                f"{path}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    layout = detect_layout(path)
    opened = open_dataset(path)
    click.echo(f"{path}: valid ({layout} layout) - {opened.name}")
    for name, d in opened.subjects.items():
        parts = [f"{d.n_trials} trials", f"{d.modality} {'x'.join(map(str, d.X.shape[1:]))}"]
        if d.y is not None:
            parts.append(f"{len(set(d.y.tolist()))} labels")
        if "split" in d.metadata:
            counts = d.metadata["split"].value_counts().to_dict()
            parts.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        click.echo(f"  subject {name}: " + "; ".join(parts))
    if opened.stimuli is not None:
        click.echo(f"  stimuli: {len(opened.stimuli)}"
                   + (" with images" if opened.stimuli.images is not None else ""))


@data.command("convert")
@click.argument("source")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--subjects", default=None, help="Subjects to convert, comma-separated.")
@click.option("--param", "params", multiple=True,
              help="Option of the source, KEY=VALUE (YAML value; repeatable), e.g. "
                   "sessions=[1,2], task=audiovisual, seed=0.")
def convert(source: str, out: Path, subjects: str | None, params: tuple[str, ...]) -> None:
    """Write SOURCE (a dataset name or any folder `--dataset` reads) to OUT in the
    bring-your-own format (see `neurodecode data check --help`)."""
    import yaml

    from neurodecode.data.folder import check_trial_folder, write_trial_folder
    from neurodecode.datasets import open_dataset

    options = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--param expects KEY=VALUE, got {item!r}")
        options[key] = yaml.safe_load(value)
    wanted = None if subjects is None else [s.strip() for s in subjects.split(",")]
    opened = open_dataset(source, subjects=wanted, **options)
    paths = write_trial_folder(opened, out)
    problems = check_trial_folder(out)
    if problems:  # pragma: no cover - a writer bug, reported rather than hidden
        raise click.ClickException("the written folder does not validate: " + "; ".join(problems))
    click.echo(f"wrote {len(paths)} files of {opened.name} ({len(opened)} subjects) to {out}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the files into (created if needed).",
)
@click.option(
    "--subjects",
    "n_subjects",
    type=click.IntRange(min=1),
    default=None,
    help="Number of subjects (default: the world's own).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def synth(name: str, out: Path, n_subjects: int | None, seed: int, quiet: bool) -> None:
    """Write the synthetic world NAME to --out in real file formats (plus world.json).

    NAME is one of the worlds of `neurodecode data list` whose name starts with "synthetic-".
    """
    from neurodecode import synth as worlds

    if name not in worlds.WORLDS:
        raise click.UsageError(
            f"unknown synthetic world {name!r}; choose one of: {', '.join(sorted(worlds.WORLDS))}"
        )
    paths = worlds.write(name, out, n_subjects=n_subjects, seed=seed)  # DataError: cli/__init__
    if not quiet:
        click.echo(f"wrote {len(paths)} files of {name} (seed {seed}) to {out}")
