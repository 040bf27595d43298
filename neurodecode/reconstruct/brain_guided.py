"""Brain-guided image synthesis: diffusion sampling steered to drive a predicted brain response.

BrainDiVE (Luo et al., NeurIPS 2023, "Brain Diffusion for Visual Exploration"): an image-to-
voxel encoding model (frozen CLIP image embedding, L2-normalised, one linear layer per subject)
guides sampling. At every step the clean image is predicted from the noisy latent
(``x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)``), decoded, encoded, and the gradient of
``loss = -scale * mean predicted ROI response`` shifts the noise prediction,
``eps~ = eps + sqrt(1 - a_t) * d loss / d x_t``. The paper samples 50 DPM-Solver steps with
scale about 130 and no text prompt. Scale 0 is plain sampling, exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

from neurodecode.data.errors import DataError
from neurodecode.reconstruct._diffusers import PipelineGenerator, check_text, text_inputs
from neurodecode.reconstruct.base import Conditioning

#: ``objective(images) -> response``: images (b, 3, H, W) in [0, 1] → (b,), differentiable.
Objective = Callable[[torch.Tensor], torch.Tensor]


class BrainGuidance:
    """UNet hooks that add the objective's gradient to the noise prediction.

    A forward pre-hook turns gradients on and makes the UNet's input ``x_t`` a leaf; the
    forward hook predicts ``x0``, decodes it, evaluates ``objective`` and returns the guided
    noise. Requires an epsilon-predicting scheduler whose model input is ``x_t`` itself
    (DDIM, DPM-Solver, PNDM). With classifier-free guidance both branches are guided.

    Parameters
    ----------
    pipe : diffusers pipeline
        Supplies ``unet``, ``vae`` and ``scheduler``.
    objective : callable
        Predicted response to maximise, per image.
    scale : float
        Guidance strength (negative values minimise the response).
    """

    def __init__(self, pipe: Any, objective: Objective, scale: float):
        self.pipe = pipe
        self.objective = objective
        self.scale = scale
        self._grad_was_enabled = False

    def attach(self) -> list[torch.utils.hooks.RemovableHandle]:
        """Register the hooks on ``pipe.unet``; remove them with ``handle.remove()``."""
        unet = self.pipe.unet
        return [unet.register_forward_pre_hook(self._before, with_kwargs=True),
                unet.register_forward_hook(self._after, with_kwargs=True)]

    def _before(self, module, args, kwargs):
        self._grad_was_enabled = torch.is_grad_enabled()
        torch.set_grad_enabled(True)
        return (args[0].detach().requires_grad_(True), *args[1:]), kwargs

    def _after(self, module, args, kwargs, output):
        x = args[0]
        t = args[1] if len(args) > 1 else kwargs["timestep"]
        eps = output[0] if isinstance(output, tuple) else output.sample
        vae = self.pipe.vae
        alpha = self.pipe.scheduler.alphas_cumprod.to(x.device)[torch.as_tensor(t).long()]
        sigma = (1 - alpha).sqrt().to(x.dtype)
        x0 = (x - sigma * eps) / alpha.sqrt().to(x.dtype)
        images = (vae.decode(x0 / vae.config.scaling_factor).sample / 2 + 0.5).clamp(0, 1)
        loss = -self.scale * self.objective(images).sum()  # sum: each image its own gradient
        (grad,) = torch.autograd.grad(loss, x)
        torch.set_grad_enabled(self._grad_was_enabled)
        guided = (eps + sigma * grad).detach()
        if isinstance(output, tuple):
            return (guided, *output[1:])
        output.sample = guided
        return output


class BrainGuidedGenerator(PipelineGenerator):
    """``braindive``: Stable Diffusion text-to-image guided by a brain-response objective.

    One image per conditioning row; the prompt comes from ``cond.text_embeds`` or
    ``cond.captions`` as for ``sd-img2img`` (BrainDiVE uses none: pass
    ``Conditioning(captions=[""] * n)`` with ``guidance=1``). Use the scheduler the pipeline
    carries (BrainDiVE: ``DPMSolverMultistepScheduler``, 50 steps).

    Parameters
    ----------
    model : str, Path or StableDiffusionPipeline
        Default ``"stabilityai/stable-diffusion-2-1-base"`` (BrainDiVE's model).
    objective : callable, optional
        ``images (b, 3, H, W) in [0, 1] -> (b,)`` predicted response, differentiable (e.g.
        CLIP image embedding, L2-normalised, through a fitted linear encoding model, averaged
        over an ROI's voxels). Required unless ``scale`` is 0.
    scale : float
        Guidance scale; 0 gives exactly the unguided samples.
    size : int, optional
        Output height and width in pixels; default from the UNet config.
    use_captions : bool
        Prefer captions over text embeddings when both are present.
    **kwargs
        ``allow_download``, ``device``, ``dtype``, ``batch_size``, ``progress``.
    """

    name = "braindive"
    pipeline_class = StableDiffusionPipeline
    default_model = "stabilityai/stable-diffusion-2-1-base"

    def __init__(self, model: Any = None, *, objective: Objective | None = None,
                 scale: float = 130.0, size: int | None = None, use_captions: bool = False,
                 allow_download: bool = False, device: str = "cpu", dtype: str = "float32",
                 batch_size: int = 4, progress: bool = True):
        super().__init__(model, allow_download=allow_download, device=device, dtype=dtype,
                         batch_size=batch_size, progress=progress)
        self.objective = objective
        self.scale = scale
        self.size = size
        self.use_captions = use_captions

    def _check(self, pipe: Any, cond: Conditioning, steps: int, strength: float) -> None:
        check_text(self.name, pipe, cond, self.use_captions)
        if self.scale == 0:
            return
        if self.objective is None:
            raise DataError(f"{self.name}: scale={self.scale} needs an objective (a "
                            "differentiable predicted response); pass objective=...")
        config = pipe.scheduler.config
        if config.get("prediction_type", "epsilon") != "epsilon" or \
                float(pipe.scheduler.init_noise_sigma) != 1.0:
            raise DataError(
                f"{self.name}: guidance needs an epsilon-predicting scheduler whose model input "
                f"is x_t (DDIM, DPM-Solver, PNDM); found {type(pipe.scheduler).__name__} "
                f"(prediction_type={config.get('prediction_type')})."
            )

    def _sample(self, pipe: Any, cond: Conditioning, generators: list[torch.Generator],
                steps: int, guidance: float, strength: float) -> np.ndarray:
        handles = [] if self.scale == 0 else BrainGuidance(pipe, self.objective,
                                                           self.scale).attach()
        try:
            return pipe(
                height=self.size, width=self.size, num_inference_steps=steps,
                guidance_scale=guidance, generator=generators, output_type="np",
                **text_inputs(pipe, cond, self.use_captions),
            ).images
        finally:
            for handle in handles:
                handle.remove()
