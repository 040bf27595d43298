"""``neurodecode data list|show`` (data cards) and ``neurodecode synth`` (synthetic worlds)."""

from __future__ import annotations

from pathlib import Path

import click

from neurodecode.errors import DataError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """List and describe datasets (data cards)."""


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
    try:
        paths = worlds.write(name, out, n_subjects=n_subjects, seed=seed)
    except DataError as err:
        raise click.ClickException(str(err)) from None
    if not quiet:
        click.echo(f"wrote {len(paths)} files of {name} (seed {seed}) to {out}")
