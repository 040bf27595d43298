"""The exceptions users see. Nothing here imports the rest of neurodecode, so every package
(data, confounds, training, cli...) can raise them without import cycles.

The command line catches :class:`DataError` in one place (``neurodecode.cli.LazyGroup``) and
prints its message instead of a traceback.
"""


class DataError(ValueError):
    """Input that cannot be used as given.

    Messages name the file (or subject, or option), what was expected and what was found, and
    what to do.
    """


__all__ = ["DataError"]
