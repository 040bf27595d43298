"""Losses equal hand-computed values and behave as their definitions say."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurodecode.training import losses as L


def _manual_soft_clip(p, t, tau):
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    logits = p @ t.T / tau
    tt = t @ t.T / tau
    soft = np.exp(tt - tt.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    fwd = -(soft * log_softmax(logits)).sum(1).mean()
    bwd = -(soft * log_softmax(logits.T)).sum(1).mean()
    return (fwd + bwd) / 2


def test_soft_clip_matches_hand_computation():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    got = L.soft_clip(torch.tensor(p), torch.tensor(t), temperature=0.1).item()
    assert got == pytest.approx(_manual_soft_clip(p, t, 0.1), rel=1e-10)


def test_info_nce_is_minimal_for_matching_pairs():
    rng = np.random.default_rng(1)
    t = torch.tensor(rng.normal(size=(8, 16)))
    perfect = L.info_nce(t, t, temperature=0.05).item()
    shuffled = L.info_nce(t[torch.randperm(8)], t, temperature=0.05).item()
    assert perfect < 0.05 < shuffled
    expected = F.cross_entropy(F.normalize(t) @ F.normalize(t).T / 0.05, torch.arange(8))
    assert perfect == pytest.approx(expected.item(), rel=1e-9)


def test_bi_mixco_with_unmixed_batch_equals_info_nce():
    rng = np.random.default_rng(2)
    p, t = torch.tensor(rng.normal(size=(6, 4))), torch.tensor(rng.normal(size=(6, 4)))
    ones = torch.ones(6, dtype=p.dtype)
    assert L.bi_mixco(p, t, torch.randperm(6), ones, temperature=0.1).item() == pytest.approx(
        L.info_nce(p, t, temperature=0.1).item(), rel=1e-9)


def test_mixup_mixes_only_selected_rows():
    x = torch.arange(20, dtype=torch.float64).view(10, 2)
    gen = torch.Generator().manual_seed(0)
    mixed, perm, betas, selected = L.mixup_voxels(x, generator=gen)
    expected = betas[:, None] * x + (1 - betas[:, None]) * x[perm]
    assert torch.allclose(mixed, expected)
    assert torch.all(betas[~selected] == 1)
    assert torch.all((betas[selected] >= 0.1) & (betas[selected] <= 0.9))


def test_cycle_and_voxel_losses_are_mse():
    a, b = torch.zeros(3, 4), torch.ones(3, 4) * 2
    assert L.cycle_loss(a, b).item() == pytest.approx(4.0)
    assert L.voxel_reconstruction(b, a).item() == pytest.approx(4.0)
