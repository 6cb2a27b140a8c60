"""Images from a local diffusers pipeline: a folder written by `save_pretrained` (Stable
Diffusion, a DDPM, any `DiffusionPipeline`), loaded with `local_files_only`, so nothing is
downloaded. Image i is made from its own random stream, seeded by (seed, i), with prompt
i mod the number of prompts, so every image is reproducible on its own, whatever the batch.
The images are written as PNG files (lossless: their pixels are the pipeline's own) into a
folder that a folder source then reads like any other.
"""

import inspect
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import runtime
from ..config_checks import data_path_found
from ..errors import GanprintError

log = logging.getLogger(__name__)


def load_pipeline(path: str, device):
    """The pipeline saved in `path`, on `device`, without its progress bars."""
    from diffusers import DiffusionPipeline

    if not data_path_found("pipeline", path):
        raise GanprintError(f"{path} is not a saved diffusers pipeline (no model_index.json in it)")
    try:
        pipeline = DiffusionPipeline.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise GanprintError(f"cannot load the diffusers pipeline in {path}: {error}") from error
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def takes_prompts(pipeline) -> bool:
    return "prompt" in inspect.signature(pipeline.__call__).parameters


def image_stream(seed: int, index: int, device) -> torch.Generator:
    """Image `index`'s own random stream (numpy's SeedSequence mixes both numbers in full)."""
    state = int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)
    return torch.Generator(device).manual_seed(state)


def pipeline_call(pipeline, indices: range, prompts: list[str], steps: int, guidance: float | None, seed: int,
                  device) -> dict:
    """The keyword arguments that make images `indices` in one call."""
    call = dict(num_inference_steps=steps, output_type="np",
                generator=[image_stream(seed, index, device) for index in indices])
    if prompts:
        call["prompt"] = [prompts[index % len(prompts)] for index in indices]
        if guidance is not None:
            call["guidance_scale"] = guidance
    else:
        call["batch_size"] = len(indices)
    return call


def generate_pipeline_images(pipeline_path: str, output: str, count: int, prompts: list[str] = (),
                             steps: int = 50, guidance: float | None = None, seed: int = 0, batch: int = 8,
                             threads: int = 1) -> None:
    """`count` images of the pipeline as PNG files 000000.png ... in the folder `output`,
    which appears whole or not at all."""
    prompts = list(prompts)
    device = runtime.configure(threads, seed)
    pipeline = load_pipeline(pipeline_path, device)
    if takes_prompts(pipeline) != bool(prompts):
        raise GanprintError(f"the pipeline in {pipeline_path} " + ("is unconditional: it takes no prompts" if prompts
                                                                   else "takes prompts: give prompts or a prompts file"))
    final = Path(output)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        for start in range(0, count, batch):
            indices = range(start, min(start + batch, count))
            images = pipeline(**pipeline_call(pipeline, indices, prompts, steps, guidance, seed, device)).images
            for index, image in zip(indices, np.asarray(images)):
                pixels = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(partial / f"{index:06d}.png")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("%d images of %s in %s", count, pipeline_path, final)
