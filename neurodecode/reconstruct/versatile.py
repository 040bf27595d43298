"""Versatile Diffusion dual-guided generation from decoded CLIP image and text tokens.

Versatile Diffusion (Xu et al., ICCV 2023) mixes an image-conditioned and a text-conditioned
transformer in every attention block; MindBridge (Wang et al., CVPR 2024) and "See Through
Their Minds" decode its conditioning (CLIP ViT-L/14 image tokens 257x768, text tokens 77x768)
from fMRI and sample with a text:image mix of 0.5 and 20 steps.

diffusers keeps the pipeline under ``diffusers.pipelines.deprecated``; where a diffusers release
drops it, this backend says which release to install.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from transformers import (
    CLIPImageProcessor,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionModelWithProjection,
)

from neurodecode._hub import load_pretrained, not_available
from neurodecode.data.errors import DataError
from neurodecode.reconstruct._diffusers import (
    PipelineGenerator,
    as_tensor,
    check_width,
    resolve_dtype,
)
from neurodecode.reconstruct.base import Conditioning

try:
    from diffusers import VersatileDiffusionDualGuidedPipeline
    from diffusers.models.transformers.dual_transformer_2d import DualTransformer2DModel
    from diffusers.pipelines.deprecated.versatile_diffusion.modeling_text_unet import (
        UNetFlatConditionModel,
    )
except ImportError:  # removed from diffusers: the generator explains what to install
    VersatileDiffusionDualGuidedPipeline = None

#: The diffusers release this backend is tested with (it still ships the pipeline).
SUPPORTED_DIFFUSERS = "diffusers==0.42.1"
#: Image-token count the pipeline's dual transformer expects (CLIP ViT-L/14: CLS + 16x16).
N_IMAGE_TOKENS = 257


def _require_pipeline() -> None:
    """Raise ImportError, saying what to install, if diffusers lacks the pipeline."""
    if VersatileDiffusionDualGuidedPipeline is None:
        import diffusers

        raise ImportError(
            f"versatile: the installed diffusers {diffusers.__version__} no longer provides "
            "VersatileDiffusionDualGuidedPipeline; install a release that does: "
            f"pip install '{SUPPORTED_DIFFUSERS}'"
        )


def _uncond_text(pipe: Any, n: int) -> torch.Tensor:
    """The pipeline's unconditional text tokens (the empty prompt), (n, 77, d)."""
    return VersatileDiffusionDualGuidedPipeline._encode_text_prompt(
        pipe, [""] * n, pipe.device, 1, False)


def _uncond_image(pipe: Any, n: int) -> torch.Tensor:
    """The pipeline's unconditional image tokens (a grey image), (n, 257, d)."""
    grey = np.zeros((512, 512, 3)) + 0.5
    return VersatileDiffusionDualGuidedPipeline._encode_image_prompt(
        pipe, [grey] * n, pipe.device, 1, False)


if VersatileDiffusionDualGuidedPipeline is not None:

    class MaskTolerantDualTransformer(DualTransformer2DModel):
        """``DualTransformer2DModel`` that accepts the UNet's (unset) encoder attention mask.

        diffusers' UNet blocks call their transformers with ``encoder_attention_mask``, which
        ``DualTransformer2DModel.forward`` does not accept (huggingface/diffusers#13651), so
        the dual-guided pipeline fails in diffusers 0.42. The pipeline never sets a mask.
        """

        def forward(self, hidden_states, encoder_hidden_states, *args,
                    encoder_attention_mask=None, **kwargs):
            if encoder_attention_mask is not None:
                raise ValueError("versatile: encoder attention masks are not supported")
            return super().forward(hidden_states, encoder_hidden_states, *args, **kwargs)

    class EmbeddingsDualGuidedPipeline(VersatileDiffusionDualGuidedPipeline):
        """A dual-guided pipeline whose prompts are already-encoded token embeddings.

        ``prompt`` and ``image`` are lists of per-image tensors, ``(n_text_tokens, d)`` and
        ``(257, d)``, in Versatile Diffusion's form (projected, divided by the norm of the
        pooled token). The unconditional embeddings for guidance are the pipeline's own: the
        empty text and the grey image, encoded by its encoders.
        """

        def _encode_text_prompt(self, prompt, device, num_images_per_prompt,
                                do_classifier_free_guidance):
            return _with_uncond(torch.stack(prompt).to(device), num_images_per_prompt,
                                do_classifier_free_guidance, lambda n: _uncond_text(self, n))

        def _encode_image_prompt(self, prompt, device, num_images_per_prompt,
                                 do_classifier_free_guidance):
            return _with_uncond(torch.stack(prompt).to(device), num_images_per_prompt,
                                do_classifier_free_guidance, lambda n: _uncond_image(self, n))


def _load_components(source: Any, allow_download: bool, dtype: torch.dtype) -> dict[str, Any]:
    """The pipeline's components, each from its subfolder of ``source``.

    ``from_pretrained`` of the pipeline cannot load Versatile Diffusion in diffusers 0.42: the
    text UNet's class is no longer importable from the library its ``model_index.json`` names.
    """
    import diffusers

    components = {
        name: load_pretrained(cls, source, allow_download, "versatile", subfolder=name,
                              **({"torch_dtype": dtype} if issubclass(cls, torch.nn.Module)
                                 else {}))
        for name, cls in {
            "tokenizer": CLIPTokenizer, "image_feature_extractor": CLIPImageProcessor,
            "text_encoder": CLIPTextModelWithProjection,
            "image_encoder": CLIPVisionModelWithProjection,
            "image_unet": UNet2DConditionModel, "text_unet": UNetFlatConditionModel,
            "vae": AutoencoderKL,
        }.items()
    }
    try:
        config = DDIMScheduler.load_config(str(source), subfolder="scheduler",
                                           local_files_only=not allow_download)
    except OSError as err:
        raise not_available("versatile", "scheduler", source, "scheduler",
                            allow_download) from err
    components["scheduler"] = getattr(diffusers, config["_class_name"]).from_config(config)
    return components


def _with_uncond(embeds: torch.Tensor, repeat: int, guided: bool, uncond) -> torch.Tensor:
    """Repeat each row ``repeat`` times; prepend unconditional rows if guided."""
    embeds = embeds.repeat_interleave(repeat, dim=0)
    if not guided:
        return embeds
    return torch.cat([uncond(len(embeds)).to(embeds), embeds])


class VersatileGenerator(PipelineGenerator):
    """``versatile``: Versatile Diffusion dual-guided by decoded image and text tokens.

    Uses ``cond.image_embeds`` ``(n, 257, d)`` and ``cond.text_embeds`` ``(n, 77, d)`` (``d``
    = 768 for the released model), mixed with ``text_to_image_strength``; with only one of
    them, the other is the unconditional embedding and the mix becomes 0 (image only) or 1
    (text only). Starts from noise: ``strength`` and low-level fields are ignored.

    Parameters
    ----------
    model : str, Path or VersatileDiffusionDualGuidedPipeline
        Default ``"shi-labs/versatile-diffusion"``.
    text_to_image_strength : float
        Weight of the text branch in [0, 1] (MindBridge: 0.5).
    size : int, optional
        Output height and width in pixels (multiple of 8); default from the UNet config.
    **kwargs
        ``allow_download``, ``device``, ``dtype``, ``batch_size``, ``progress``.

    Raises
    ------
    ImportError
        On construction, if the installed diffusers no longer has the pipeline.
    """

    name = "versatile"
    default_model = "shi-labs/versatile-diffusion"

    def __init__(self, model: Any = None, *, text_to_image_strength: float = 0.5,
                 size: int | None = None, allow_download: bool = False, device: str = "cpu",
                 dtype: str = "float32", batch_size: int = 4, progress: bool = True):
        _require_pipeline()  # fail early, saying what to install
        super().__init__(model, allow_download=allow_download, device=device, dtype=dtype,
                         batch_size=batch_size, progress=progress)
        self.text_to_image_strength = text_to_image_strength
        self.size = size

    def _load(self, source: Any) -> Any:
        _require_pipeline()
        if isinstance(source, VersatileDiffusionDualGuidedPipeline):
            pipe = EmbeddingsDualGuidedPipeline(**source.components)
        else:
            pipe = EmbeddingsDualGuidedPipeline(
                **_load_components(source, self.allow_download, resolve_dtype(self.dtype)))
        for module in pipe.image_unet.modules():
            if type(module) is DualTransformer2DModel:
                module.__class__ = MaskTolerantDualTransformer
        return pipe

    def _check(self, pipe: Any, cond: Conditioning, steps: int, strength: float) -> None:
        if cond.image_embeds is None and cond.text_embeds is None:
            raise DataError(
                f"{self.name}: Conditioning has neither image_embeds nor text_embeds; Versatile "
                "Diffusion is conditioned on decoded CLIP image and/or text tokens."
            )
        width = pipe.image_unet.config.cross_attention_dim
        if cond.image_embeds is not None:
            check_width(self.name, "image_embeds", np.asarray(cond.image_embeds), 3, width,
                        f"(n, {N_IMAGE_TOKENS}, d)")
            if np.shape(cond.image_embeds)[1] != N_IMAGE_TOKENS:
                raise DataError(f"{self.name}: image_embeds need {N_IMAGE_TOKENS} tokens, "
                                f"found {np.shape(cond.image_embeds)[1]}")
        if cond.text_embeds is not None:
            n_text = pipe.text_encoder.config.max_position_embeddings
            check_width(self.name, "text_embeds", np.asarray(cond.text_embeds), 3, width,
                        f"(n, {n_text}, d)")
            if np.shape(cond.text_embeds)[1] != n_text:
                raise DataError(f"{self.name}: text_embeds need {n_text} tokens, "
                                f"found {np.shape(cond.text_embeds)[1]}")

    def _sample(self, pipe: Any, cond: Conditioning, generators: list[torch.Generator],
                steps: int, guidance: float, strength: float) -> np.ndarray:
        mix = self.text_to_image_strength
        if cond.text_embeds is None:
            mix, text = 0.0, _uncond_text(pipe, len(cond))
        else:
            text = as_tensor(cond.text_embeds, pipe.image_unet)
        if cond.image_embeds is None:
            mix, image = 1.0, _uncond_image(pipe, len(cond))
        else:
            image = as_tensor(cond.image_embeds, pipe.image_unet)
        return pipe(
            prompt=list(text), image=list(image), text_to_image_strength=mix,
            height=self.size, width=self.size, num_inference_steps=steps,
            guidance_scale=guidance, generator=generators, output_type="np",
        ).images

