"""Feature-network reconstruction metrics with injectable networks.

The published suite (Ozcelik & VanRullen 2023; Scotti et al. 2023, 2024) compares ground-truth
and reconstructed images in the feature spaces of pretrained networks:

=========== ====== ========== ================================== ==========================
metric      resize norm       features                           score
=========== ====== ========== ================================== ==========================
AlexNet(2)  256    ImageNet   torchvision AlexNet ``features.4`` two-way identification
AlexNet(5)  256    ImageNet   torchvision AlexNet ``features.11`` two-way identification
Inception   342    ImageNet   Inception-v3 ``avgpool`` (2048)    two-way identification
CLIP        224    CLIP       CLIP ViT-L/14 image embedding      two-way identification
EffNet-B    255    ImageNet   EfficientNet-B1 ``avgpool``        mean 1 − r to own GT (↓)
SwAV        224    ImageNet   SwAV ResNet-50 ``avgpool``         mean 1 − r to own GT (↓)
=========== ====== ========== ================================== ==========================

A :class:`FeatureNetwork` names the network, the callable, the layer captured by a forward hook,
the input size and the normalisation, so any network can be plugged in (tiny random ones in the
tests, the synthetic world's own feature spaces, real pretrained ones). The factories below
build the real ones from weights that are already on disk; nothing is downloaded unless
``download=True`` (torchvision) or ``local_files_only=False`` (CLIP) is passed. torchvision is
optional (``pip install 'neurodecode[vision]'``) and imported only when a factory needs it.
"""

from __future__ import annotations

import contextlib
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from neurodecode.data.errors import DataError
from neurodecode.metrics.identification import correlation_distance, two_way_identification
from neurodecode.metrics.images import as_images, check_pair, resize_images

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_MODEL_ID = "openai/clip-vit-large-patch14"
SWAV_URL = "https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar"

Score = Literal["two_way", "correlation_distance"]


@dataclass(frozen=True)
class FeatureNetwork:
    """A network whose features score reconstructions.

    Parameters
    ----------
    name : str
        Metric name reported in results (e.g. ``"AlexNet(2)"``).
    model : callable
        ``nn.Module`` or function taking a normalised image batch (b, 3, h, w) float tensor.
    layer : str or None
        Name of the submodule (as in ``model.named_modules()``) whose output is captured with a
        forward hook; None uses the model's output (through ``output`` if given).
    input_size : int
        Shorter side of the images fed to the network, in pixels (bilinear, antialiased).
    mean, std : tuple of 3 floats
        Per-channel normalisation applied after resizing (images in [0, 1]).
    score : {"two_way", "correlation_distance"}
        Two-way identification (higher is better, chance 0.5) or mean correlation distance
        ``1 − r`` to the own ground truth (lower is better).
    output : callable, optional
        Picks the feature tensor from the model output (e.g. ``image_embeds`` for CLIP).
    model_id : str
        Which weights these are (hub id, file, or "random"), recorded in the protocol.
    """

    name: str
    model: Callable[[torch.Tensor], Any]
    layer: str | None = None
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    score: Score = "two_way"
    output: Callable[[Any], torch.Tensor] | None = None
    model_id: str = "user-provided"

    def protocol(self) -> dict[str, Any]:
        """The preprocessing and feature definition, recorded beside every score."""
        return {
            "network": self.model_id,
            "layer": self.layer if self.layer is not None else "output",
            "resize": self.input_size,
            "normalisation": f"mean={list(self.mean)} std={list(self.std)}",
            "score": self.score,
        }


@contextlib.contextmanager
def _capture(model: Any, layer: str | None) -> Iterator[list[torch.Tensor]]:
    """Collect the outputs of ``model``'s submodule ``layer`` while the context is open."""
    captured: list[torch.Tensor] = []
    if layer is None:
        yield captured
        return
    modules = dict(model.named_modules()) if isinstance(model, nn.Module) else {}
    if layer not in modules:
        names = [n for n in modules if n][:20]
        raise DataError(
            f"layer {layer!r} not found in {type(model).__name__}; available submodules "
            f"include {names}; pass one of them as FeatureNetwork(layer=...)"
        )

    def hook(_module: nn.Module, _inputs: Any, out: Any) -> None:
        out = out[0] if isinstance(out, tuple | list) else out
        captured.append(out.detach().clone())  # clone: in-place ops later must not alter it

    handle = modules[layer].register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def extract_features(
    images: np.ndarray,
    network: FeatureNetwork,
    *,
    pre_resize: int | None = None,
    batch_size: int = 32,
) -> np.ndarray:
    """Features of images in a network's layer.

    Parameters
    ----------
    images : array, shape (n, H, W, 3)
        uint8 or float in [0, 1].
    network : FeatureNetwork
    pre_resize : int or None
        Optional common square size applied before the network's own resize.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ndarray, shape (n, d), float32
        Flattened features (on the CPU), computed in eval mode without gradients; the model's
        train/eval state is restored afterwards.
    """
    images = as_images(images)
    model = network.model
    param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    device, dtype = (param.device, param.dtype) if param is not None else ("cpu", torch.float32)
    mean = torch.tensor(network.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(network.std, dtype=torch.float32)[:, None, None]
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    chunks = []
    try:
        with _capture(model, network.layer) as captured, torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = resize_images(
                    images[start : start + batch_size], network.input_size, pre_resize
                )
                out = model(((x - mean) / std).to(device=device, dtype=dtype))
                if network.layer is not None:
                    out = captured[-1]  # the last call, should the layer run more than once
                    captured.clear()
                elif network.output is not None:
                    out = network.output(out)
                chunks.append(out.flatten(1).float().cpu().numpy())
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    return np.concatenate(chunks)


def check_network(network: FeatureNetwork) -> None:
    """Refuse a network whose ``score`` is not one the suite knows."""
    if network.score not in ("two_way", "correlation_distance"):
        raise DataError(
            f"{network.name}: unknown score {network.score!r}; use 'two_way' or "
            "'correlation_distance'"
        )


def scores_from_features(
    f_gt: np.ndarray, f_rec: np.ndarray, network: FeatureNetwork
) -> np.ndarray:
    """Per-image scores from already extracted features (:func:`extract_features`), so that
    the ground truth's features can be reused for several sets of reconstructions.

    Parameters
    ----------
    f_gt, f_rec : ndarray, shape (n, d)
        Features of the ground-truth images and of their reconstructions, same order.
    network : FeatureNetwork
        Says which score (``network.score``).

    Returns
    -------
    ndarray, shape (n,)
        As :func:`feature_scores`.
    """
    check_network(network)
    if network.score == "two_way":
        return two_way_identification(f_gt, f_rec, per_item=True)
    return correlation_distance(f_gt, f_rec)


def feature_scores(
    gt: np.ndarray,
    rec: np.ndarray,
    network: FeatureNetwork,
    *,
    pre_resize: int | None = None,
    batch_size: int = 32,
) -> np.ndarray:
    """Per-image scores of reconstructions in a network's feature space.

    Parameters
    ----------
    gt, rec : array, shape (n, H, W, 3)
    network : FeatureNetwork
    pre_resize, batch_size
        As in :func:`extract_features`.

    Returns
    -------
    ndarray, shape (n,)
        Two-way identification fraction of each reconstruction, or its correlation distance
        to its own ground truth (per ``network.score``); the metric is the mean.
    """
    check_network(network)
    gt, rec = check_pair(gt, rec)
    f_gt = extract_features(gt, network, pre_resize=pre_resize, batch_size=batch_size)
    f_rec = extract_features(rec, network, pre_resize=pre_resize, batch_size=batch_size)
    return scores_from_features(f_gt, f_rec, network)


# --- the published networks (weights only from disk unless asked) -------------------------


def _torchvision_models() -> Any:
    try:
        import torchvision.models as tvm
    except ImportError as err:
        raise ImportError(
            "the AlexNet, Inception, EffNet-B and SwAV metrics need torchvision, which is not "
            "installed: run pip install 'neurodecode[vision]', or pass your own FeatureNetwork"
        ) from err
    return tvm


def _hub_checkpoint(url: str) -> Path:
    """Where torch.hub keeps the file downloaded from ``url`` ($TORCH_HOME/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def _torchvision_model(builder: str, weights: str, download: bool) -> tuple[nn.Module, str]:
    tvm = _torchvision_models()
    enum = tvm.get_weight(weights)
    path = _hub_checkpoint(enum.url)
    if not path.exists() and not download:
        raise FileNotFoundError(
            f"weights {weights} are not on disk (expected {path}); pass download=True to fetch "
            "them once, or copy the file there (set TORCH_HOME to use another folder)"
        )
    return getattr(tvm, builder)(weights=enum).eval(), f"torchvision {builder} {weights}"


def alexnet(layer: Literal[2, 5] = 2, *, download: bool = False) -> FeatureNetwork:
    """AlexNet(2) (``features.4``) or AlexNet(5) (``features.11``), ImageNet weights, 256 px."""
    if layer not in (2, 5):
        raise DataError(f"AlexNet layer must be 2 or 5, found {layer}")
    model, model_id = _torchvision_model("alexnet", "AlexNet_Weights.IMAGENET1K_V1", download)
    node = {2: "features.4", 5: "features.11"}[layer]
    return FeatureNetwork(f"AlexNet({layer})", model, node, 256, model_id=model_id)


def inception_v3(*, download: bool = False) -> FeatureNetwork:
    """Inception-v3 ``avgpool`` (2048-d), ImageNet weights, 342 px."""
    model, model_id = _torchvision_model(
        "inception_v3", "Inception_V3_Weights.IMAGENET1K_V1", download
    )
    return FeatureNetwork("Inception", model, "avgpool", 342, model_id=model_id)


def efficientnet_b1(*, download: bool = False) -> FeatureNetwork:
    """EfficientNet-B1 ``avgpool``, torchvision default weights, 255 px, correlation distance."""
    model, model_id = _torchvision_model(
        "efficientnet_b1", "EfficientNet_B1_Weights.IMAGENET1K_V2", download
    )
    return FeatureNetwork(
        "EffNet-B", model, "avgpool", 255, score="correlation_distance", model_id=model_id
    )


def swav_resnet50(
    weights_path: str | os.PathLike | None = None, *, download: bool = False
) -> FeatureNetwork:
    """SwAV ResNet-50 ``avgpool`` (Caron et al. 2020), 224 px, correlation distance.

    Parameters
    ----------
    weights_path : path, optional
        The official ``swav_800ep_pretrain.pth.tar`` state dict; defaults to the torch.hub
        checkpoint folder. Loaded with ``weights_only=True`` into a torchvision ResNet-50 whose
        classifier is removed, with every key matched (the projection head and prototypes of
        the self-supervised training are dropped).
    download : bool
        Fetch the official file into the torch.hub folder if it is missing.
    """
    tvm = _torchvision_models()
    path = Path(weights_path) if weights_path is not None else _hub_checkpoint(SWAV_URL)
    if not path.exists():
        if not download or weights_path is not None:
            raise FileNotFoundError(
                f"SwAV weights not found at {path}; pass weights_path=, or download=True to "
                f"fetch {SWAV_URL}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(SWAV_URL, str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith(("projection_head", "prototypes"))}
    model = tvm.resnet50(weights=None)
    model.fc = nn.Identity()
    model.load_state_dict(state, strict=True)
    return FeatureNetwork(
        "SwAV",
        model.eval(),
        "avgpool",
        224,
        score="correlation_distance",
        model_id=f"SwAV ResNet-50 ({path.name})",
    )


def clip_image(
    model: str | os.PathLike | nn.Module = CLIP_MODEL_ID, *, local_files_only: bool = True
) -> FeatureNetwork:
    """CLIP image embedding (``image_embeds``, 768-d for ViT-L/14), CLIP normalisation.

    Parameters
    ----------
    model : str, path or ``transformers.CLIPVisionModelWithProjection``
        Hub id, local folder, or an already built model. The input size is the model's
        ``config.image_size`` (224 for ViT-L/14).
    local_files_only : bool
        Never download (default); pass False to allow fetching the hub id.
    """
    from transformers import CLIPVisionModelWithProjection

    if isinstance(model, nn.Module):
        model_id = getattr(model.config, "_name_or_path", "") or "user-provided"
    else:
        model_id = str(model)
        try:
            model = CLIPVisionModelWithProjection.from_pretrained(
                model_id, local_files_only=local_files_only
            )
        except OSError as err:
            raise FileNotFoundError(
                f"CLIP model {model_id!r} is not available locally; pass a local folder, or "
                "local_files_only=False to download it from the hub"
            ) from err
    return FeatureNetwork(
        "CLIP",
        model.eval(),
        None,
        model.config.image_size,
        CLIP_MEAN,
        CLIP_STD,
        output=operator.attrgetter("image_embeds"),
        model_id=model_id,
    )


def standard_networks(
    *,
    clip_model: str | os.PathLike | nn.Module = CLIP_MODEL_ID,
    swav_weights: str | os.PathLike | None = None,
    download: bool = False,
) -> list[FeatureNetwork]:
    """All six published feature networks (AlexNet(2), AlexNet(5), Inception, CLIP, EffNet-B,
    SwAV), from local weights unless ``download``."""
    return [
        alexnet(2, download=download),
        alexnet(5, download=download),
        inception_v3(download=download),
        clip_image(clip_model, local_files_only=not download),
        efficientnet_b1(download=download),
        swav_resnet50(swav_weights, download=download),
    ]
