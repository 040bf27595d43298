"""Tiny randomly initialised pipelines built from the real diffusers/transformers classes.

For tests, benchmarks and dry runs without weights: the backends run their real code path
(tokenizer, text/image encoders, UNet, scheduler, VAE) on models of a few hundred thousand
parameters. The images they make are noise-like; only shapes, seeding and data flow mean
anything.

Sizes: latents ``(4, size/2, size/2)`` (the tiny VAE downsamples by 2, SD's by 8), text
tokens ``(77, 32)``, pooled image embeddings ``(32,)``, Versatile image tokens ``(257, 32)``.
"""

from __future__ import annotations

import string

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

#: Width of every tiny embedding (text tokens, image embeddings, cross-attention).
WIDTH = 32
#: Text tokens per prompt (CLIP's context length).
N_TEXT_TOKENS = 77
_BLOCKS = (16, 32)


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer over lower-case letters and digits (no merges); others map to unk."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in string.ascii_lowercase + string.digits:
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=N_TEXT_TOKENS)


def _text_config(vocab_size: int) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=WIDTH, intermediate_size=37, projection_dim=WIDTH,
        num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=N_TEXT_TOKENS,
        bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )


def tiny_vae(seed: int = 0) -> AutoencoderKL:
    """An ``AutoencoderKL`` with 4 latent channels that downsamples by 2."""
    torch.manual_seed(seed)
    return AutoencoderKL(
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8,
        layers_per_block=1, sample_size=32,
    )


def _unet(seed: int, **kwargs) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=_BLOCKS, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=WIDTH,
        attention_head_dim=4, norm_num_groups=8, **kwargs,
    )


def _scheduler() -> DDIMScheduler:
    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def tiny_sd_img2img(seed: int = 0) -> StableDiffusionImg2ImgPipeline:
    """A Stable Diffusion img2img pipeline of tiny random components (no safety checker)."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_text_config(len(tokenizer))).eval()
    return StableDiffusionImg2ImgPipeline(
        vae=tiny_vae(seed), text_encoder=text_encoder, tokenizer=tokenizer,
        unet=_unet(seed), scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
        image_encoder=None, requires_safety_checker=False,
    )


def tiny_unclip(seed: int = 0) -> StableUnCLIPImg2ImgPipeline:
    """A Stable unCLIP pipeline of tiny random components (image embeddings of width 32)."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_text_config(len(tokenizer))).eval()
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=WIDTH, projection_dim=WIDTH, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, image_size=32, patch_size=4,
    )).eval()
    return StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(size=32, crop_size=32),
        image_encoder=image_encoder,
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=WIDTH),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer, text_encoder=text_encoder,
        unet=_unet(seed, class_embed_type="projection",
                   projection_class_embeddings_input_dim=2 * WIDTH),
        scheduler=_scheduler(), vae=tiny_vae(seed),
    )


def tiny_versatile(seed: int = 0):
    """A Versatile Diffusion dual-guided pipeline of tiny random components.

    The image encoder sees 16x16 images in 1x1 patches, so it yields 257 tokens like
    CLIP ViT-L/14 at 224 px. Needs a diffusers release that still ships the pipeline.
    """
    from diffusers import VersatileDiffusionDualGuidedPipeline
    from diffusers.pipelines.deprecated.versatile_diffusion.modeling_text_unet import (
        UNetFlatConditionModel,
    )

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModelWithProjection(_text_config(len(tokenizer))).eval()
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=WIDTH, projection_dim=WIDTH, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, image_size=16, patch_size=1,
    )).eval()
    text_unet = UNetFlatConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=_BLOCKS, down_block_types=("CrossAttnDownBlockFlat", "DownBlockFlat"),
        up_block_types=("UpBlockFlat", "CrossAttnUpBlockFlat"), cross_attention_dim=WIDTH,
        attention_head_dim=4, norm_num_groups=8,
    )
    return VersatileDiffusionDualGuidedPipeline(
        tokenizer=tokenizer, image_feature_extractor=CLIPImageProcessor(size=16, crop_size=16),
        text_encoder=text_encoder, image_encoder=image_encoder, image_unet=_unet(seed),
        text_unet=text_unet, vae=tiny_vae(seed), scheduler=_scheduler(),
    )
