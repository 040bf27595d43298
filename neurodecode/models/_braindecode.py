"""Import braindecode next to the MOABB neurodecode installs.

neurodecode pins ``braindecode==0.8.1``: every later release imports ``torchaudio`` when
``braindecode`` is imported, and no ``torchaudio`` wheel matches torch 2.13 (the newest,
2.11.1, fails to load its compiled extension). braindecode 0.8.1 looks up
``moabb.datasets.BNCI2014001`` while being imported; MOABB 1.1 renamed that class
``BNCI2014_001`` (the old name is gone in MOABB 1.7), so the import fails with an
``ImportError`` that braindecode does not catch. :func:`ensure_braindecode` adds the old name
as an alias of the same class before braindecode is imported, and changes nothing else.
"""

from __future__ import annotations

import importlib
import sys

from neurodecode.errors import DataError


def ensure_braindecode():
    """Import and return the ``braindecode`` package (see the module docstring)."""
    if "braindecode" in sys.modules:
        return sys.modules["braindecode"]
    try:
        import moabb.datasets as moabb_datasets
    except ImportError:
        moabb_datasets = None
    if (
        moabb_datasets is not None
        and not hasattr(moabb_datasets, "BNCI2014001")
        and hasattr(moabb_datasets, "BNCI2014_001")
    ):
        moabb_datasets.BNCI2014001 = moabb_datasets.BNCI2014_001
    try:
        return importlib.import_module("braindecode")
    except ImportError as err:
        raise DataError(
            f"deep EEG models need braindecode (pip install 'neurodecode[deep]'): {err}"
        ) from None
