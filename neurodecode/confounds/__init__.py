"""Demographic confounds in functional connectivity.

- :mod:`~neurodecode.confounds.connectivity` — time series → connectivity matrices
  (nilearn) → upper-triangle edge vectors and back.
- :class:`DemoVAE` — demographic-conditioned autoencoder (scikit-learn transformer): latents
  with the demographics removed, harmonisation, sampling.
- :class:`ComBat` — empirical-Bayes site harmonisation fitted on training participants
  (needs each new participant's site); :class:`DemographicProjection` — removes the
  training-fitted demographic directions without reading anyone's demographics.
- :func:`cleaning_report` — DemoVAE, ComBat and projections cross-fitted side by side
  (:mod:`~neurodecode.confounds.selection`; also ``select_size`` for sample-size-aware sizes).
- :func:`leakage_report` — held-out prediction of each demographic with two-sided chance bands
  from a refitted permutation null (:mod:`~neurodecode.confounds.cv_ridge`);
  :func:`fidelity_report` — how real synthetic connectivity looks (moments, group
  differences, two-sample classifier).
"""

_API = {
    "DemoVAE": "neurodecode.confounds.demovae",
    "leakage_report": "neurodecode.confounds.reports",
    "permutation_scores": "neurodecode.confounds.reports",
    "fidelity_report": "neurodecode.confounds.reports",
    "plot_leakage": "neurodecode.confounds.reports",
    "ComBat": "neurodecode.confounds.harmonization",
    "DemographicProjection": "neurodecode.confounds.harmonization",
    "cleaning_report": "neurodecode.confounds.selection",
    "cross_fit": "neurodecode.confounds.selection",
    "select_size": "neurodecode.confounds.selection",
    "connectivity_matrices": "neurodecode.confounds.connectivity",
    "upper_triangle": "neurodecode.confounds.connectivity",
    "from_upper_triangle": "neurodecode.confounds.connectivity",
}


def __getattr__(name: str):
    """Import lazily: torch and scikit-learn load only when used."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'neurodecode.confounds' has no attribute {name!r}")


__all__ = list(_API)
