"""The one exception users see for bad input."""


class DataError(ValueError):
    """Input that cannot be used as given.

    Messages name the file (or subject), what was expected and what was found, and what to do.
    """
