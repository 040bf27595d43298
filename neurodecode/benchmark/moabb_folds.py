"""A cross-validation splitter that makes MOABB report every fold.

MOABB's ``WithinSessionEvaluation(cv_class=...)`` keeps one row per session unless the splitter
declares ``metadata_columns`` and returns them from ``get_metadata()`` after each split; with
:class:`FoldReportingKFold` each row carries its fold index, so MOABB's scores can be compared
with neurodecode's fold by fold (``tests/benchmark/test_real_eegmmidb.py``,
``bench/moabb_parity_eegmmidb.py``). Kept out of the package's import path: it imports
scikit-learn, which a cached benchmark rerun does not.
"""

from __future__ import annotations

from sklearn.model_selection import StratifiedKFold


class FoldReportingKFold(StratifiedKFold):
    """``StratifiedKFold`` whose current fold index MOABB records in a ``fold`` column."""

    metadata_columns = ["fold"]

    def split(self, X, y=None, groups=None):
        for fold, split in enumerate(super().split(X, y, groups)):
            self._fold = fold
            yield split

    def get_metadata(self) -> dict:
        return {"fold": self._fold}
