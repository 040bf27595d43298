"""Losses of the cross-subject decoders, each a plain function of tensors.

- :func:`soft_clip` — contrastive loss against the softmax of target-target similarities
  (MindEye, Scotti et al. 2023), temperature ≈ 0.005 for CLIP spaces.
- :func:`info_nce` — symmetric CLIP loss with one-hot targets (Radford et al. 2021).
- :func:`bi_mixco` — MixCo (Kim et al. 2020) in both directions, as MindEye uses for the first
  third of training: inputs are mixed with a permuted batch, the targets of a mixed sample are
  shared between its two sources.
- :func:`mixup_voxels` — the input mixing that :func:`bi_mixco` scores.
- :func:`mse`, :func:`cycle_loss`, :func:`voxel_reconstruction` — MindBridge's regression,
  cycle and builder losses (Wang et al. 2024).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _flat_norm(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.flatten(1), dim=-1)


def soft_clip(pred: torch.Tensor, target: torch.Tensor, temperature: float = 0.005) -> torch.Tensor:
    """Cross-entropy of brain→target logits against soft target-target similarities, both ways."""
    p, t = _flat_norm(pred), _flat_norm(target)
    logits = p @ t.T / temperature
    soft = F.softmax(t @ t.T / temperature, dim=-1)
    forward = -(soft * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    backward = -(soft * F.log_softmax(logits.T, dim=-1)).sum(-1).mean()
    return (forward + backward) / 2


def info_nce(pred: torch.Tensor, target: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Symmetric InfoNCE with the matching pair as the only positive."""
    logits = _flat_norm(pred) @ _flat_norm(target).T / temperature
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def mixup_voxels(x: torch.Tensor, alpha: float = 0.15, prob: float = 0.5,
                 generator: torch.Generator | None = None):
    """Mix a random half of the batch with a permutation of itself.

    Returns ``(mixed_x, perm, betas, selected)``; ``betas`` is 1 for unmixed samples.
    """
    n = len(x)
    perm = torch.randperm(n, generator=generator)
    betas = torch.distributions.Beta(alpha, alpha).sample((n,)).clamp(0.1, 0.9)
    selected = torch.rand(n, generator=generator) < prob
    betas = torch.where(selected, betas, torch.ones_like(betas)).to(x)
    shape = (n,) + (1,) * (x.dim() - 1)
    mixed = betas.view(shape) * x + (1 - betas.view(shape)) * x[perm.to(x.device)]
    return mixed, perm.to(x.device), betas, selected.to(x.device)


def bi_mixco(pred: torch.Tensor, target: torch.Tensor, perm: torch.Tensor, betas: torch.Tensor,
             temperature: float = 0.1) -> torch.Tensor:
    """MixCo loss for predictions from mixed inputs (see :func:`mixup_voxels`), both directions."""
    p, t = _flat_norm(pred), _flat_norm(target)
    logits = p @ t.T / temperature
    n = len(p)
    eye = torch.eye(n, device=p.device)
    soft = betas[:, None] * eye + (1 - betas[:, None]) * eye[perm]
    forward = -(soft * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    backward = -(soft.T * F.log_softmax(logits.T, dim=-1)).sum(-1).mean()
    return (forward + backward) / 2


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred, target)


def cycle_loss(shared: torch.Tensor, cycled: torch.Tensor) -> torch.Tensor:
    """MSE(e_a, embed_b(builder_b(e_a))): an embedding must survive a trip through b's voxels."""
    return F.mse_loss(cycled, shared)


def voxel_reconstruction(rebuilt: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """MSE between a subject's (standardised) voxels and their rebuild from the shared
    embedding."""
    return F.mse_loss(rebuilt, x)


LOSSES = {"softclip": soft_clip, "infonce": info_nce, "bimixco": bi_mixco, "mse": mse,
          "cycle": cycle_loss, "voxel": voxel_reconstruction}
