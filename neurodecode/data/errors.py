"""Re-export of :class:`neurodecode.errors.DataError` (its old home; kept so imports work)."""

from neurodecode.errors import DataError

__all__ = ["DataError"]
