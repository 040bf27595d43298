"""The synthetic world's metric network is independent of the best-of-N selector."""

import numpy as np
import pytest
import torch

from neurodecode.metrics import two_way_identification
from neurodecode.metrics.world_probe import WEIGHTS, load_probe, probe_networks


def _parameters(obj) -> set:
    module = obj if isinstance(obj, torch.nn.Module) else getattr(obj, "__self__", None)
    return {p.data_ptr() for p in module.parameters()} if module is not None else set()


def test_metric_networks_share_nothing_with_the_selector():
    from neurodecode.reconstruct.embedded import EmbeddedGenerator
    from neurodecode.reconstruct.pipeline import _world_networks

    gen = EmbeddedGenerator()
    selector = {p.data_ptr() for p in gen.codec.parameters()}
    networks = _world_networks()
    assert {n.name for n in networks} == {"WorldProbe(early)", "WorldProbe(semantic)"}
    for net in networks:
        params = _parameters(net.model)
        assert params and not params & selector, net.name
    # different weights, not a copy: the probe's embedding differs from the codec encoder's
    from neurodecode.synth.vision import make_stimuli

    stimuli, semantic = make_stimuli(64, seed=5)
    probe = load_probe()
    with torch.no_grad():
        x = torch.from_numpy(stimuli.images).float().permute(0, 3, 1, 2) / 255
        ours = probe(x).numpy()
    codec = gen.encode_images(stimuli.images)
    assert not np.allclose(ours, codec, atol=0.05)
    # ... yet it reads the world: unseen images identified from their true embedding
    assert two_way_identification(semantic, ours) > 0.95


def test_missing_probe_weights_are_a_clear_error(tmp_path):
    from neurodecode.errors import DataError

    with pytest.raises(DataError, match="WorldProbe"):
        probe_networks(tmp_path / "none.safetensors")
    assert WEIGHTS.exists()
