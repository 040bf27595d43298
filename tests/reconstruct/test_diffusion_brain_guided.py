"""Brain-guided synthesis (BrainDiVE) on tiny random components of the real classes.

Asserted: scale 0 is exactly the unguided pipeline; a positive scale raises the objective and a
negative one lowers it (a known, planted "ROI response": mean redness of the image); the hooks
leave the pipeline as they found it; unusable settings are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

from neurodecode.data.errors import DataError
from neurodecode.reconstruct.base import Conditioning, Generator
from neurodecode.reconstruct.brain_guided import BrainGuidedGenerator
from neurodecode.reconstruct.random_models import random_sd_img2img

SIZE, STEPS, N = 32, 4, 2
PROMPTS = Conditioning(captions=[""] * N)


def redness(images: torch.Tensor) -> torch.Tensor:
    """Planted response: red minus blue, averaged over pixels; (b, 3, H, W) → (b,)."""
    return images[:, 0].mean((1, 2)) - images[:, 2].mean((1, 2))


def _redness(images: np.ndarray) -> np.ndarray:
    return images[..., 0].mean((-1, -2)) - images[..., 2].mean((-1, -2))


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipeline:
    pipeline = StableDiffusionPipeline(**random_sd_img2img().components)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def _unguided(pipe, seed: int = 0) -> np.ndarray:
    generators = [torch.Generator().manual_seed(seed) for _ in range(N)]
    return pipe(prompt=[""] * N, height=SIZE, width=SIZE, num_inference_steps=STEPS,
                guidance_scale=1.0, generator=generators, output_type="np").images


def _guided(pipe, scale: float) -> np.ndarray:
    gen = BrainGuidedGenerator(pipe, objective=redness, scale=scale, size=SIZE, progress=False)
    assert isinstance(gen, Generator)
    return gen.generate(PROMPTS, steps=STEPS, guidance=1.0)[:, 0]


def test_scale_zero_is_exactly_unguided_sampling(pipe):
    np.testing.assert_array_equal(_guided(pipe, 0.0), _unguided(pipe))


@pytest.mark.slow
def test_guidance_drives_the_response_both_ways(pipe):
    plain = _redness(_unguided(pipe))
    up, down = _redness(_guided(pipe, 1e4)), _redness(_guided(pipe, -1e4))
    assert np.all(up > plain + 0.005) and np.all(down < plain - 0.005)
    # the hooks are gone afterwards: plain sampling is unchanged
    np.testing.assert_array_equal(_redness(_unguided(pipe)), plain)


def test_guided_sampling_is_seeded(pipe):
    np.testing.assert_array_equal(_guided(pipe, 1e4), _guided(pipe, 1e4))


def test_refuses_what_it_cannot_guide(pipe):
    with pytest.raises(DataError, match="needs an objective"):
        BrainGuidedGenerator(pipe, scale=1.0, progress=False).generate(PROMPTS)
    euler = StableDiffusionPipeline(**{**pipe.components, "scheduler":
                                       EulerDiscreteScheduler.from_config(pipe.scheduler.config)})
    with pytest.raises(DataError, match="EulerDiscreteScheduler"):
        BrainGuidedGenerator(euler, objective=redness, progress=False).generate(PROMPTS)
