"""Decoder architecture: shapes, parameter budgets, anatomical alignment, strict checkpoints."""

import numpy as np
import pytest
import torch

from neurodecode.data.errors import DataError
from neurodecode.models import (
    AdapterConfig,
    BrainDecoder,
    DecoderConfig,
    HeadConfig,
    count_parameters,
)
from neurodecode.models.adapters import anchor_weights
from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint


def _cfg(kind="mlp", builder=False):
    return DecoderConfig(
        n_features={"1": 30, "2": 45},
        heads=[HeadConfig("world-embed", (20,)), HeadConfig("pixels-16", (3, 16, 16), "spatial",
                                                            channels=16),
               HeadConfig("tokens", (5, 8), "tokenwise")],
        adapter=AdapterConfig(kind=kind, pool_size=16, rank=4, anchors_per_axis=3,
                              builder=builder),
        width=32, depth=1,
    )


def _coords(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 3)) * 10


@pytest.mark.parametrize("kind", ["linear", "mlp", "pool", "anat"])
def test_every_adapter_maps_subjects_of_different_sizes_to_all_heads(kind):
    model = BrainDecoder(_cfg(kind, builder=True),
                         {"1": _coords(30, 1), "2": _coords(45, 2)}).eval()
    for subject, n in (("1", 30), ("2", 45)):
        out = model(torch.randn(4, n), subject, cycle_to="2" if subject == "1" else "1")
        assert out["shared"].shape == (4, 32)
        assert out["world-embed"].shape == (4, 20)
        assert out["pixels-16"].shape == (4, 3, 16, 16)
        assert out["tokens"].shape == (4, 5, 8)
        assert out["rebuilt"].shape == (4, n)
        assert out["cycled"].shape == (4, 32)


def test_unknown_subject_and_kinds_fail_clearly():
    model = BrainDecoder(_cfg())
    with pytest.raises(KeyError, match="subject '9'"):
        model(torch.randn(2, 30), "9")
    with pytest.raises(ValueError, match="unknown adapter kind"):
        BrainDecoder(DecoderConfig({"1": 3}, [], AdapterConfig(kind="magic")))
    with pytest.raises(ValueError, match="needs voxel coordinates"):
        BrainDecoder(DecoderConfig({"1": 3}, [], AdapterConfig(kind="anat")))


def test_lowrank_head_costs_a_fraction_of_a_dense_257x768_head():
    dense = count_parameters(DecoderConfig({"1": 100}, [HeadConfig("t", (257, 768))],
                                           width=2048, depth=0))["heads"]
    low = count_parameters(DecoderConfig({"1": 100}, [HeadConfig("t", (257, 768), "lowrank",
                                                                 rank=64)],
                                         width=2048, depth=0))["heads"]
    assert dense == 2048 * 257 * 768 + 257 * 768  # 404 M, as ANCHORS.md warns
    assert low == 2048 * 64 + 64 + 64 * 257 * 768 + 257 * 768
    assert low < dense / 25


def test_anchor_weights_are_invariant_to_subject_shift_and_scale():
    coords = _coords(50, 3)
    w = anchor_weights(coords, per_axis=3, sigma=0.5)
    assert torch.allclose(w.sum(1), torch.ones(len(w)), atol=1e-5)
    assert torch.allclose(w, anchor_weights(coords * 1.7 + 12.0, 3, 0.5), atol=1e-5)


def test_checkpoint_round_trip_is_exact_and_strict(tmp_path):
    model = BrainDecoder(_cfg("anat"), {"1": _coords(30, 1), "2": _coords(45, 2)}).eval()
    model.scalers["1"].fit(np.random.default_rng(0).normal(3, 2, size=(40, 30)))
    save_checkpoint(model, tmp_path)
    loaded, meta = load_checkpoint(tmp_path)
    x = torch.randn(3, 30)
    for key, value in model(x, "1").items():
        assert torch.equal(value, loaded(x, "1")[key])
    # A weights file that does not match its config must fail, never load partially.
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors.pop(next(k for k in tensors if k.startswith("backbone.")))
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(DataError, match="does not match"):
        load_checkpoint(tmp_path)


def test_missing_checkpoint_names_the_files(tmp_path):
    with pytest.raises(DataError, match="model.safetensors and config.json"):
        load_checkpoint(tmp_path)
