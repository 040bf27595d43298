"""Target spaces from pretrained networks: CLIP image/text (transformers) and SD-VAE latents
(diffusers). Models are named by hub id or local path and loaded with
``local_files_only=True`` unless ``allow_download=True``; an already-built model object of the
same class may be passed instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from neurodecode._hub import load_pretrained
from neurodecode.data.containers import StimulusSet
from neurodecode.features.base import TargetSpace
from neurodecode.features.simple import resize_images

CLIP_L14 = "openai/clip-vit-large-patch14"
SD_VAE = "stabilityai/sd-vae-ft-mse"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def model_key(model: Any, net: Any) -> str:
    """Cache identity of a model: its hub id or path, or a hash of its weights and config."""
    if isinstance(model, str):
        return model
    from neurodecode._files import content_hash

    weights = [v.detach().cpu().float().numpy() for v in net.state_dict().values()]
    return content_hash(repr(net.config), *weights)


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


TOKEN_FORMS = ("versatile", "raw")


def _check_form(form: str) -> None:
    if form not in TOKEN_FORMS:
        from neurodecode.errors import DataError

        raise DataError(f"token form {form!r}: choose from {TOKEN_FORMS}")


@dataclass
class ClipImage:
    """CLIP image embeddings: pooled (projection_dim) or tokens (n_patches+1, projection_dim).

    Tokens are the last hidden states passed through the post-layernorm and the visual
    projection; in ``form="versatile"`` (the default) every token is then divided by the norm of
    the class token, exactly as Versatile Diffusion's own image encoder conditions its UNet
    (``VersatileDiffusionDualGuidedPipeline._encode_image_prompt``), which MindBridge and See
    Through Their Minds decode (257x768 for ViT-L/14). ``form="raw"`` skips the division.
    """

    model: Any = CLIP_L14
    tokens: bool = False
    batch_size: int = 32
    allow_download: bool = False
    form: str = "versatile"
    _net: Any = field(default=None, repr=False)

    @property
    def net(self):
        if self._net is None:
            from transformers import CLIPVisionModelWithProjection

            self._net = load_pretrained(CLIPVisionModelWithProjection, self.model,
                                        self.allow_download).eval()
        return self._net

    @property
    def space(self) -> TargetSpace:
        cfg = self.net.config
        dim = cfg.projection_dim
        if self.tokens:
            n_tokens = (cfg.image_size // cfg.patch_size) ** 2 + 1
            return TargetSpace("clip-image-tokens", (n_tokens, dim), "tokens")
        return TargetSpace("clip-image", (dim,), "pooled")

    def cache_key(self) -> dict:
        _check_form(self.form)
        return {"model": model_key(self.model, self.net), "tokens": self.tokens,
                "form": self.form if self.tokens else None}

    @torch.no_grad()
    def encode_pixels(self, pixel_values: torch.Tensor) -> np.ndarray:
        """CLIP-normalised pixels ``(n, 3, S, S)`` → pooled embeddings or tokens (this
        extractor's form)."""
        result = self.net(pixel_values=pixel_values)
        if not self.tokens:
            return result.image_embeds.numpy()
        hidden = self.net.vision_model.post_layernorm(result.last_hidden_state)
        tokens = self.net.visual_projection(hidden)
        _check_form(self.form)
        if self.form == "versatile":
            tokens = tokens / torch.norm(tokens[:, :1], dim=-1, keepdim=True)
        return tokens.numpy()

    @torch.no_grad()
    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """uint8 or [0,1] images ``(n, H, W, 3)`` → embeddings (resize, CLIP normalisation)."""
        size = self.net.config.image_size
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        out = []
        for sl in _batches(len(images), self.batch_size):
            x = (torch.from_numpy(resize_images(images[sl], size)) - mean) / std
            out.append(self.encode_pixels(x))
        return np.concatenate(out)

    def extract(self, stimuli: StimulusSet) -> np.ndarray:
        return self.encode_images(stimuli.get_images())


@dataclass
class ClipText:
    """CLIP text embeddings of captions: pooled (projection_dim) or tokens (77, ...).

    Tokens in ``form="versatile"`` (the default) are what Versatile Diffusion's own text
    encoder feeds its UNet (``VersatileDiffusionDualGuidedPipeline._encode_text_prompt``):
    every last hidden state through the text projection, divided by the norm of the pooled
    (projected end-of-text) embedding, the prompt padded to 77 tokens with no attention mask;
    shape (77, projection_dim). ``form="raw"`` gives the last hidden states (77, hidden) with
    the padding masked, as Stable Diffusion's text encoder output.
    """

    model: Any = CLIP_L14
    tokenizer: Any = None
    tokens: bool = False
    batch_size: int = 64
    allow_download: bool = False
    form: str = "versatile"
    _net: Any = field(default=None, repr=False)
    _tok: Any = field(default=None, repr=False)

    @property
    def net(self):
        if self._net is None:
            from transformers import CLIPTextModelWithProjection

            self._net = load_pretrained(CLIPTextModelWithProjection, self.model,
                                        self.allow_download).eval()
        return self._net

    @property
    def tok(self):
        if self._tok is None:
            from transformers import CLIPTokenizer

            source = self.tokenizer if self.tokenizer is not None else self.model
            self._tok = load_pretrained(CLIPTokenizer, source, self.allow_download)
        return self._tok

    @property
    def space(self) -> TargetSpace:
        cfg = self.net.config
        if self.tokens:
            _check_form(self.form)
            dim = cfg.projection_dim if self.form == "versatile" else cfg.hidden_size
            return TargetSpace("clip-text-tokens", (cfg.max_position_embeddings, dim), "tokens")
        return TargetSpace("clip-text", (cfg.projection_dim,), "pooled")

    def cache_key(self) -> dict:
        _check_form(self.form)
        return {"model": model_key(self.model, self.net), "tokens": self.tokens,
                "form": self.form if self.tokens else None}

    @torch.no_grad()
    def encode_texts(self, texts: list[str]) -> np.ndarray:
        length = self.net.config.max_position_embeddings
        out = []
        for sl in _batches(len(texts), self.batch_size):
            enc = self.tok(texts[sl], padding="max_length", max_length=length, truncation=True,
                           return_tensors="pt")
            if self.tokens and self.form == "versatile":
                mask = (enc.attention_mask if getattr(self.net.config, "use_attention_mask",
                                                      False) else None)
                result = self.net(input_ids=enc.input_ids, attention_mask=mask)
                embeds = self.net.text_projection(result.last_hidden_state)
                embeds = embeds / torch.norm(result.text_embeds[:, None], dim=-1, keepdim=True)
                out.append(embeds.numpy())
                continue
            result = self.net(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
            out.append((result.last_hidden_state if self.tokens else result.text_embeds).numpy())
        return np.concatenate(out)

    def extract(self, stimuli: StimulusSet) -> np.ndarray:
        return self.encode_texts(stimuli.get_captions())


@dataclass
class SDVAELatent:
    """Stable Diffusion VAE latents (mean of the posterior, unscaled), (4, size/8, size/8)."""

    model: Any = SD_VAE
    image_size: int = 512
    batch_size: int = 8
    allow_download: bool = False
    _net: Any = field(default=None, repr=False)

    @property
    def net(self):
        if self._net is None:
            from diffusers import AutoencoderKL

            self._net = load_pretrained(AutoencoderKL, self.model, self.allow_download).eval()
        return self._net

    @property
    def space(self) -> TargetSpace:
        cfg = self.net.config
        factor = 2 ** (len(cfg.block_out_channels) - 1)
        side = self.image_size // factor
        return TargetSpace("sd-vae-latent", (cfg.latent_channels, side, side), "latent")

    def cache_key(self) -> dict:
        return {"model": model_key(self.model, self.net), "image_size": self.image_size}

    @torch.no_grad()
    def extract(self, stimuli: StimulusSet) -> np.ndarray:
        images = stimuli.get_images()
        out = []
        for sl in _batches(len(images), self.batch_size):
            x = torch.from_numpy(resize_images(images[sl], self.image_size)) * 2 - 1
            out.append(self.net.encode(x).latent_dist.mean.numpy())
        return np.concatenate(out)
