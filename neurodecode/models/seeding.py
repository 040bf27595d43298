"""A pipeline step that seeds torch, so deep estimators after it start reproducibly."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin


class TorchSeed(TransformerMixin, BaseEstimator):
    """Seed torch's global random generator when the pipeline is fitted; pass data through.

    braindecode's ``EEGClassifier`` (skorch) draws its initial weights and batch order from
    torch's global generator and has no ``random_state`` of its own. Put this step before it
    in a pipeline file: the benchmark sets ``random_state`` to the run's seed (as for every
    unset ``random_state``), ``fit`` calls ``torch.manual_seed(random_state)`` and the
    network that follows is initialised and shuffled identically in every run with that seed.
    ``random_state=None`` leaves torch's generator untouched.
    """

    def __init__(self, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.random_state is not None:
            import torch

            torch.manual_seed(int(self.random_state))
        return self

    def transform(self, X):
        return X
