"""Randomly initialised pipelines built from the real diffusers/transformers classes.

For tests, benchmarks and dry runs without weights: the backends run their real code path
(tokenizer, text/image encoders, UNet, scheduler, VAE) on random weights of a chosen
:class:`Architecture`: :data:`TINY` (a few hundred thousand parameters, for tests) or
:data:`SD1` (Stable Diffusion 1.x sizes: UNet 860 M, VAE 84 M, CLIP ViT-L/14 text and vision
towers, for latency benchmarks). The images are noise-like; only shapes, seeding, data flow and
compute cost mean anything.

:data:`TINY`: latents ``(4, s/2, s/2)`` for ``s``-pixel images (its VAE downsamples by 2), text
tokens ``(77, 32)``, pooled image embeddings ``(32,)``, Versatile image tokens ``(257, 32)``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    StableDiffusionImg2ImgPipeline,
    StableUnCLIPImg2ImgPipeline,
    UNet2DConditionModel,
)
from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
    StableUnCLIPImageNormalizer,
)
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

#: Text tokens per prompt (CLIP's context length).
N_TEXT_TOKENS = 77


@dataclass(frozen=True)
class Architecture:
    """Sizes of a random pipeline.

    Attributes
    ----------
    width : int
        Embedding width: text/image projections and the UNet's cross-attention.
    unet_channels : tuple of int
        UNet block widths; every block but the last has cross-attention.
    unet_head_dim : int
        Attention head width of the UNet.
    unet_layers : int
        Resnet layers per UNet block.
    latent_size : int
        Default latent side (the UNet's ``sample_size``); images are this times the VAE factor.
    vae_channels : tuple of int
        VAE block widths (the VAE downsamples by ``2 ** (len - 1)``).
    vae_layers : int
        Resnet layers per VAE block.
    groups : int
        Group-norm groups in UNet and VAE.
    text_layers, text_heads, text_hidden, text_ffn, vocab_size : int
        CLIP text tower.
    vision_layers, vision_heads, vision_hidden, vision_ffn : int
        CLIP vision tower (the unCLIP and Versatile image encoders).
    """

    width: int
    unet_channels: tuple[int, ...]
    unet_head_dim: int
    unet_layers: int
    latent_size: int
    vae_channels: tuple[int, ...]
    vae_layers: int
    groups: int
    text_layers: int
    text_heads: int
    text_hidden: int
    text_ffn: int
    vocab_size: int
    vision_layers: int
    vision_heads: int
    vision_hidden: int
    vision_ffn: int


#: Test-sized: every part a few thousand to a hundred thousand parameters.
TINY = Architecture(
    width=32, unet_channels=(16, 32), unet_head_dim=4, unet_layers=1, latent_size=16,
    vae_channels=(8, 16), vae_layers=1, groups=8, text_layers=2, text_heads=4, text_hidden=32,
    text_ffn=37, vocab_size=74, vision_layers=2, vision_heads=4, vision_hidden=32, vision_ffn=37,
)
#: Stable Diffusion 1.x sizes (CLIP ViT-L/14 towers, 8x VAE), for latency benchmarks.
SD1 = Architecture(
    width=768, unet_channels=(320, 640, 1280, 1280), unet_head_dim=8, unet_layers=2,
    latent_size=64, vae_channels=(128, 256, 512, 512), vae_layers=2, groups=32,
    text_layers=12, text_heads=12, text_hidden=768, text_ffn=3072, vocab_size=49408, vision_layers=24, vision_heads=16,
    vision_hidden=1024, vision_ffn=4096,
)


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over lower-case letters and digits (no merges); others map to unk."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits:
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=N_TEXT_TOKENS)


def _text_config(arch: Architecture) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=arch.vocab_size, hidden_size=arch.text_hidden,
        intermediate_size=arch.text_ffn, projection_dim=arch.width,
        num_attention_heads=arch.text_heads, num_hidden_layers=arch.text_layers,
        max_position_embeddings=N_TEXT_TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )


def _vision(arch: Architecture, image_size: int, patch_size: int) -> CLIPVisionModelWithProjection:
    return CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=arch.vision_hidden, projection_dim=arch.width,
        intermediate_size=arch.vision_ffn, num_attention_heads=arch.vision_heads,
        num_hidden_layers=arch.vision_layers, image_size=image_size, patch_size=patch_size,
    )).eval()


def random_vae(arch: Architecture = TINY, seed: int = 0) -> AutoencoderKL:
    """An ``AutoencoderKL`` with 4 latent channels."""
    torch.manual_seed(seed)
    n = len(arch.vae_channels)
    return AutoencoderKL(
        block_out_channels=arch.vae_channels, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, latent_channels=4,
        norm_num_groups=arch.groups, layers_per_block=arch.vae_layers,
    ).eval()


def _unet_kwargs(arch: Architecture, flat: bool = False) -> dict:
    kind = "Flat" if flat else "2D"
    n = len(arch.unet_channels)
    return dict(
        sample_size=arch.latent_size, in_channels=4, out_channels=4,
        layers_per_block=arch.unet_layers,
        block_out_channels=arch.unet_channels,
        down_block_types=(f"CrossAttnDownBlock{kind}",) * (n - 1) + (f"DownBlock{kind}",),
        up_block_types=(f"UpBlock{kind}",) + (f"CrossAttnUpBlock{kind}",) * (n - 1),
        cross_attention_dim=arch.width, attention_head_dim=arch.unet_head_dim,
        norm_num_groups=arch.groups,
    )


def _unet(arch: Architecture, seed: int, **kwargs) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(**_unet_kwargs(arch), **kwargs).eval()


def _scheduler() -> DDIMScheduler:
    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def random_sd_img2img(arch: Architecture = TINY, seed: int = 0) -> StableDiffusionImg2ImgPipeline:
    """A Stable Diffusion img2img pipeline of random components (no safety checker)."""
    torch.manual_seed(seed)
    return StableDiffusionImg2ImgPipeline(
        vae=random_vae(arch, seed), text_encoder=CLIPTextModel(_text_config(arch)).eval(),
        tokenizer=tiny_tokenizer(), unet=_unet(arch, seed), scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, image_encoder=None,
        requires_safety_checker=False,
    )


def random_unclip(arch: Architecture = TINY, seed: int = 0) -> StableUnCLIPImg2ImgPipeline:
    """A Stable unCLIP pipeline of random components (pooled image embeddings of ``width``).

    Its image encoder is always :data:`TINY`-sized: with decoded ``image_embeds`` the
    pipeline never runs it (it only reads its dtype).
    """
    torch.manual_seed(seed)
    return StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(size=32, crop_size=32),
        image_encoder=_vision(TINY, image_size=32, patch_size=4),
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=arch.width),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tiny_tokenizer(), text_encoder=CLIPTextModel(_text_config(arch)).eval(),
        unet=_unet(arch, seed, class_embed_type="projection",
                   projection_class_embeddings_input_dim=2 * arch.width),
        scheduler=_scheduler(), vae=random_vae(arch, seed),
    )


def random_versatile(arch: Architecture = TINY, seed: int = 0):
    """A Versatile Diffusion dual-guided pipeline of random components.

    The image encoder yields 257 tokens like CLIP ViT-L/14 at 224 px (:data:`TINY`: 16 px in
    1-px patches). The text UNet has the image UNet's layout, so that its transformers fit
    (the released one differs only in blocks the dual-guided pipeline does not run). Needs a
    diffusers release that still ships the pipeline.
    """
    from diffusers import VersatileDiffusionDualGuidedPipeline
    from diffusers.pipelines.deprecated.versatile_diffusion.modeling_text_unet import (
        UNetFlatConditionModel,
    )

    image_size, patch = (16, 1) if arch == TINY else (224, 14)
    torch.manual_seed(seed)
    text_unet = UNetFlatConditionModel(**_unet_kwargs(arch, flat=True)).eval()
    return VersatileDiffusionDualGuidedPipeline(
        tokenizer=tiny_tokenizer(),
        image_feature_extractor=CLIPImageProcessor(size=image_size, crop_size=image_size),
        text_encoder=CLIPTextModelWithProjection(_text_config(arch)).eval(),
        image_encoder=_vision(arch, image_size, patch), image_unet=_unet(arch, seed),
        text_unet=text_unet, vae=random_vae(arch, seed), scheduler=_scheduler(),
    )
