"""Feature-network metrics with tiny random networks (the real code path, offline)."""

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from neurodecode.data.errors import DataError
from neurodecode.metrics import features as feat
from neurodecode.metrics.features import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    FeatureNetwork,
    clip_image,
    extract_features,
    feature_scores,
)


class Tiny(nn.Module):
    """AlexNet-shaped toy: a ``features`` stack, ``avgpool``, ``fc``."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(4, 6, 3),
            nn.ReLU(inplace=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(24, 3)

    def forward(self, x):
        return self.fc(self.avgpool(self.features(x)).flatten(1))


def images(n, size, seed):
    return np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32)


def preprocess(x, size, mean, std):
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    t = F.interpolate(t, (size, size), mode="bilinear", antialias=True)
    return (t - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def test_hooked_layer_equals_the_manual_forward():
    torch.manual_seed(0)
    net = Tiny().train()
    x = images(5, 40, seed=0)
    spec = FeatureNetwork("tiny", net, "features.1", input_size=24)
    got = extract_features(x, spec, batch_size=2)
    with torch.no_grad():
        expected = net.features[:2](preprocess(x, 24, IMAGENET_MEAN, IMAGENET_STD)).flatten(1)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert net.training  # state restored
    assert not net.features[1]._forward_hooks  # hook removed
    pooled = extract_features(x, FeatureNetwork("tiny", net, "avgpool", input_size=24))
    assert pooled.shape == (5, 24)


def test_unknown_layer_names_the_available_ones():
    with pytest.raises(DataError, match="features.4.*available.*features.1"):
        extract_features(images(2, 8, 0), FeatureNetwork("t", Tiny(), "features.4", 8))
    with pytest.raises(DataError, match="unknown score"):
        feature_scores(images(2, 8, 0), images(2, 8, 1), FeatureNetwork("t", Tiny(), score="psnr"))


def test_plain_callable_output_and_correlation_distance_by_hand():
    # the "network" is the channel means of the normalised image: 3 features per image
    spec = FeatureNetwork(
        "means",
        lambda t: t.mean(dim=(2, 3)),
        None,
        8,
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        score="correlation_distance",
    )
    gt = np.zeros((2, 8, 8, 3), np.float32)
    rec = np.zeros((2, 8, 8, 3), np.float32)
    gt[0, ..., :] = [0.1, 0.2, 0.3]
    rec[0, ..., :] = [0.2, 0.4, 0.6]  # r = 1
    gt[1, ..., 0] = 0.5
    rec[1, ..., 2] = 0.5  # r = corr([1,0,0],[0,0,1]) = -0.5
    np.testing.assert_allclose(extract_features(gt, spec), gt[:, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(feature_scores(gt, rec, spec), [0.0, 1.5], atol=1e-6)


def test_two_way_through_a_network_recovers_pairs_and_shuffles_give_chance():
    torch.manual_seed(0)
    spec = FeatureNetwork("tiny", Tiny(), "features.3", input_size=16)
    gt = images(40, 16, seed=1)
    noisy = np.clip(gt + 0.2 * images(40, 16, seed=2), 0, 1)
    assert feature_scores(gt, gt, spec).mean() == 1.0
    assert feature_scores(gt, noisy, spec).mean() > 0.9
    shuffled = feature_scores(gt, noisy[np.roll(np.arange(40), 1)], spec).mean()
    assert 0.3 < shuffled < 0.7


def tiny_clip():
    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=8,
    )
    return CLIPVisionModelWithProjection(config)


def test_clip_image_embedding_from_a_model_and_from_a_local_folder(tmp_path):
    model = tiny_clip()
    spec = clip_image(model)
    assert (spec.input_size, spec.mean, spec.std) == (32, CLIP_MEAN, CLIP_STD)
    x = images(3, 48, seed=0)
    got = extract_features(x, spec)
    with torch.no_grad():
        expected = model(pixel_values=preprocess(x, 32, CLIP_MEAN, CLIP_STD)).image_embeds
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    model.save_pretrained(tmp_path)
    loaded = clip_image(tmp_path)
    np.testing.assert_allclose(extract_features(x, loaded), got, rtol=1e-5, atol=1e-6)
    assert loaded.protocol()["network"] == str(tmp_path)


def test_clip_is_never_downloaded_unless_asked(tmp_path):
    with pytest.raises(FileNotFoundError, match="local_files_only=False"):
        clip_image(str(tmp_path / "not-a-model"))


def test_torchvision_networks_need_torchvision_or_say_so():
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"neurodecode\[vision\]"):
            feat.alexnet(2)
    else:
        pytest.skip("torchvision is installed")


@pytest.fixture
def fake_torchvision(monkeypatch, tmp_path):
    """A stand-in for torchvision.models building Tiny networks, with torch.hub in tmp_path."""
    calls = []

    def build(weights=None):
        calls.append(weights)
        net = Tiny()
        net.features.append(nn.Identity())  # give it a features.4
        return net

    def resnet50(weights=None):
        return Tiny()

    weight = types.SimpleNamespace(url="https://example.org/alexnet-owt.pth")
    tvm = types.SimpleNamespace(get_weight=lambda name: weight, alexnet=build, resnet50=resnet50)
    monkeypatch.setattr(feat, "_torchvision_models", lambda: tvm)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return calls, tmp_path / "hub" / "checkpoints"


def test_torchvision_weights_come_only_from_disk_unless_download(fake_torchvision):
    calls, checkpoints = fake_torchvision
    with pytest.raises(FileNotFoundError, match="download=True"):
        feat.alexnet(2)
    assert calls == []  # nothing built, nothing fetched
    checkpoints.mkdir(parents=True)
    (checkpoints / "alexnet-owt.pth").write_bytes(b"")
    spec = feat.alexnet(2)
    assert (spec.name, spec.layer, spec.input_size) == ("AlexNet(2)", "features.4", 256)
    assert feat.alexnet(5).layer == "features.11"
    assert len(calls) == 2 and not spec.model.training


def test_swav_checkpoint_loads_strictly_without_its_training_heads(fake_torchvision, tmp_path):
    torch.manual_seed(0)
    source = Tiny()
    source.fc = nn.Identity()
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    state["module.projection_head.0.weight"] = torch.zeros(2, 2)
    state["module.prototypes.weight"] = torch.zeros(3, 2)
    path = tmp_path / "swav.pth.tar"
    torch.save(state, path)
    spec = feat.swav_resnet50(path)
    assert spec.score == "correlation_distance" and spec.layer == "avgpool"
    torch.testing.assert_close(spec.model.state_dict(), source.state_dict())
    state["module.unexpected.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="unexpected"):
        feat.swav_resnet50(path)
