"""Representational similarity analysis (RSA) and topological RSA (tRSA).

- :mod:`~neurodecode.rsa.rdm`: :class:`RDMs`, :func:`calc_rdm` (euclidean, correlation,
  mahalanobis, crossnobis), :func:`noise_precision`;
- :mod:`~neurodecode.rsa.compare`: :func:`compare` (cosine, corr, spearman, tau-a, rho-a,
  whitened cosine/corr);
- :mod:`~neurodecode.rsa.topology`: :func:`gt_transform`, :func:`geodesic_transform`, presets;
- :mod:`~neurodecode.rsa.inference`: bootstrap evaluation, noise ceilings, model tests;
- :mod:`~neurodecode.rsa.identify`: leave-one-subject-out region identification;
- :mod:`~neurodecode.rsa.searchlight`: fast searchlight RSA over a NIfTI volume;
- :mod:`~neurodecode.rsa.plots`: RDM heatmaps, MDS, model-comparison bars.
"""

from neurodecode.rsa.compare import COMPARISONS, compare
from neurodecode.rsa.rdm import RDMs, calc_rdm, noise_precision
from neurodecode.rsa.topology import PRESETS, geodesic_transform, gt_transform

__all__ = [
    "COMPARISONS",
    "PRESETS",
    "RDMs",
    "calc_rdm",
    "compare",
    "geodesic_transform",
    "gt_transform",
    "noise_precision",
]
