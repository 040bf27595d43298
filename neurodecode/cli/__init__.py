"""The ``neurodecode`` command: a thin face over the library.

Each command lives in its own module (``neurodecode.cli.<module>``) and is imported only when
it runs, so ``neurodecode --help`` stays fast and one command's heavy imports never slow
another.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from neurodecode import __version__

# command name -> (module, attribute, one-line help shown by ``neurodecode --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "data": ("neurodecode.cli.data", "data",
             "Datasets: list/show cards, check/convert your own folders."),
    "synth": ("neurodecode.cli.data", "synth", "Write a synthetic world to disk in real formats."),
    "train": ("neurodecode.cli.train", "train", "Train a cross-subject decoder from a config."),
    "adapt": ("neurodecode.cli.train", "adapt", "Adapt a trained decoder to a new subject."),
    "reconstruct": (
        "neurodecode.cli.reconstruct",
        "reconstruct",
        "Reconstruct seen images from brain data (the main job).",
    ),
    "train-generator": (
        "neurodecode.cli.reconstruct",
        "train_generator",
        "Train the embedded generator of the synthetic world.",
    ),
    "benchmark": (
        "neurodecode.cli.benchmark",
        "benchmark",
        "MOABB-style evaluations of YAML pipelines.",
    ),
    "rsa": ("neurodecode.cli.rsa", "rsa", "Representational similarity analysis and tRSA."),
    "confounds": (
        "neurodecode.cli.confounds",
        "confounds",
        "Demographic confound removal (DemoVAE).",
    ),
    "encode": (
        "neurodecode.cli.encode",
        "encode",
        "Encoding models: SEEG sites, brain-guided synthesis, ablation, motion.",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(name):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        """Bad input (:class:`~neurodecode.data.DataError`) ends with its message, not a
        traceback."""
        from neurodecode.errors import DataError

        try:
            return super().invoke(ctx)
        except DataError as err:
            raise click.ClickException(str(err)) from err
        except EOFError as err:  # click would print only "Aborted!"
            raise click.ClickException(
                f"a file ended before its data did ({err}); an input file is truncated: get a "
                "complete copy") from err

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neurodecode")
def main() -> None:
    """neurodecode: decode the brain from fMRI, MEG, EEG and SEEG.

    Start with `neurodecode reconstruct --subject 1` (runs offline on the built-in synthetic
    vision dataset) or `neurodecode data list`.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
