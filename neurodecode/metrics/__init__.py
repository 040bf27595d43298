"""Reconstruction and decoding metrics, exactly as the NSD papers define them.

- :mod:`~neurodecode.metrics.images`: PixCorr and SSIM (425 px, bilinear, antialiased).
- :mod:`~neurodecode.metrics.identification`: two-way identification and top-k retrieval in
  any feature or embedding space.
- :mod:`~neurodecode.metrics.features`: feature-network metrics (AlexNet(2/5), Inception, CLIP,
  EffNet-B, SwAV) with injectable networks.
- :mod:`~neurodecode.metrics.bootstrap`: percentile bootstrap intervals over images.
- :mod:`~neurodecode.metrics.suite`: :func:`evaluate_reconstructions` (several sets of the
  same images: :func:`evaluate_reconstruction_sets`), one row per metric with its interval
  and protocol, and :func:`save_metrics` for metrics.json / metrics.csv.
"""

from neurodecode.metrics.bootstrap import bootstrap_ci
from neurodecode.metrics.features import (
    FeatureNetwork,
    alexnet,
    clip_image,
    efficientnet_b1,
    extract_features,
    feature_scores,
    inception_v3,
    standard_networks,
    swav_resnet50,
)
from neurodecode.metrics.identification import (
    correlation_distance,
    pairwise_correlation,
    retrieval_hits,
    retrieval_topk,
    two_way_from_similarity,
    two_way_identification,
)
from neurodecode.metrics.images import pixcorr_scores, pixel_scores, resize_images, ssim_scores
from neurodecode.metrics.suite import (
    MetricResult,
    evaluate_embeddings,
    evaluate_reconstruction_sets,
    evaluate_reconstructions,
    save_metrics,
)

__all__ = [
    "FeatureNetwork",
    "MetricResult",
    "alexnet",
    "bootstrap_ci",
    "clip_image",
    "correlation_distance",
    "efficientnet_b1",
    "evaluate_embeddings",
    "evaluate_reconstruction_sets",
    "evaluate_reconstructions",
    "extract_features",
    "feature_scores",
    "inception_v3",
    "pairwise_correlation",
    "pixcorr_scores",
    "pixel_scores",
    "resize_images",
    "retrieval_hits",
    "retrieval_topk",
    "save_metrics",
    "ssim_scores",
    "standard_networks",
    "swav_resnet50",
    "two_way_from_similarity",
    "two_way_identification",
]
