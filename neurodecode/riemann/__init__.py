"""Covariance-based EEG decoding: batched covariance estimators and the augmented covariance.

Tangent space, MDM, FgMDM, CSP and Xdawn come from pyRiemann; this package adds what it lacks:

- :class:`BatchCovariances` / :func:`batch_covariances` — SCM, unbiased, OAS and Ledoit-Wolf
  covariances of a whole batch of trials at once (numpy, or torch on any device), equal to
  pyRiemann's ``Covariances``.
- :class:`AugmentedCovariances` — the delay-embedded (augmented) covariance with ``"trim"``
  (MOABB) or ``"roll"`` (pyRiemann) edges and ``order="auto"``/``lag="auto"`` estimated in
  ``fit`` from the training fold; rank-safe on real EEG (principal subspace for rank-deficient
  data, order limited by the samples, a documented ridge where still needed).
- :func:`data_rank` — numerical rank of a batch of trials.
- :func:`delay_embed`, :func:`estimate_lag`, :func:`estimate_order`,
  :func:`auto_mutual_information`, :func:`cao_e1`.
"""

from neurodecode.riemann.augmented import AugmentedCovariances, data_rank
from neurodecode.riemann.covariance import ESTIMATORS, BatchCovariances, batch_covariances
from neurodecode.riemann.embedding import (
    auto_mutual_information,
    cao_e1,
    delay_embed,
    estimate_lag,
    estimate_order,
)

__all__ = [
    "ESTIMATORS",
    "AugmentedCovariances",
    "BatchCovariances",
    "auto_mutual_information",
    "batch_covariances",
    "cao_e1",
    "data_rank",
    "delay_embed",
    "estimate_lag",
    "estimate_order",
]
