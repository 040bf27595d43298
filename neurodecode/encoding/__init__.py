"""Encoding models: predict brain responses from stimulus features and compare feature spaces.

- :mod:`~neurodecode.encoding.models`: ridge encoding with per-target penalties chosen inside
  blocked cross-validation (validation/test halves of each held-out fold), banded ridge over
  several feature spaces (himalaya), scores per target;
- :mod:`~neurodecode.encoding.compare`: event bootstraps shared across models, paired tests,
  Benjamini-Hochberg FDR, conjunctions;
- :mod:`~neurodecode.encoding.seeg`: SEEG movie studies (Subramaniam et al. 2024): event
  alignment, feature streams, multimodal sites;
- :mod:`~neurodecode.encoding.guidance`: brain-guided synthesis (BrainDiVE) with an
  image → brain encoder;
- :mod:`~neurodecode.encoding.ablation`: network ablation of trained decoders;
- :mod:`~neurodecode.encoding.motion`: decoding optical flow from brain responses.
"""

from neurodecode.encoding.compare import (
    Comparison,
    bootstrap_indices,
    bootstrap_scores,
    compare_models,
    conjunction,
    fdr,
    paired_p,
    score,
)
from neurodecode.encoding.models import (
    ALPHAS,
    EncodingResult,
    blocked_folds,
    fit_banded,
    fit_encoding,
    ridge_path,
)

__all__ = [
    "ALPHAS",
    "Comparison",
    "EncodingResult",
    "blocked_folds",
    "bootstrap_indices",
    "bootstrap_scores",
    "compare_models",
    "conjunction",
    "fdr",
    "fit_banded",
    "fit_encoding",
    "paired_p",
    "ridge_path",
    "score",
]
