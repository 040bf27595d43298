"""neurodecode: decode the brain from fMRI, MEG, EEG and SEEG.

The library is organised by concern (see ``ls neurodecode/``):

- :mod:`neurodecode.data`: containers (:class:`~neurodecode.data.TrialData`,
  :class:`~neurodecode.data.StimulusSet`) and the loaders; nothing else reads files.
- :mod:`neurodecode.synth`: synthetic worlds with planted ground truth.
- :mod:`neurodecode.riemann`, :mod:`neurodecode.benchmark`: covariance pipelines, MOABB-style
  evaluations.
- :mod:`neurodecode.features`, :mod:`neurodecode.models`, :mod:`neurodecode.training`,
  :mod:`neurodecode.reconstruct`, :mod:`neurodecode.metrics`: cross-subject decoding and image
  reconstruction.
- :mod:`neurodecode.rsa`, :mod:`neurodecode.confounds`, :mod:`neurodecode.encoding`.
"""

__version__ = "0.1.0"
