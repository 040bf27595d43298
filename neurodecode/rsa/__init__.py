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
from neurodecode.rsa.identify import identification_bootstrap, identify_regions
from neurodecode.rsa.inference import Evaluation, crossvalidate, evaluate, noise_ceiling
from neurodecode.rsa.rdm import RDMs, calc_rdm, calc_rdms, noise_precision
from neurodecode.rsa.topology import PRESETS, geodesic_transform, gt_transform

__all__ = [
    "COMPARISONS",
    "PRESETS",
    "Evaluation",
    "RDMs",
    "calc_rdm",
    "calc_rdms",
    "compare",
    "crossvalidate",
    "evaluate",
    "geodesic_transform",
    "gt_transform",
    "identification_bootstrap",
    "identify_regions",
    "noise_ceiling",
    "noise_precision",
]
