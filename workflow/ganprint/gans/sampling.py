"""Sampling a trained generator into train, test and validation image arrays.

Image j's latent comes from its own random stream, seeded by the pair (seed, j), so every image is
reproducible on its own, whatever the batch size; train images take j = 0..n_train-1
and test, then validation images continue the numbering, so no two splits share a latent.
"""

import logging

import numpy as np
import torch

from .. import runtime
from ..errors import GanprintError
from ..convert import EXPORTS, to_uint8
from ..settings import schema_default
from ..sources import fraction_name
from ..storage import image_array_writer, load_checkpoint, retire_resume_state
from . import make_generator
from .latents import latent_of_image

log = logging.getLogger(__name__)


def load_generator(path: str, device, snapshot: str | None = None) -> torch.nn.Module:
    """The generator's final weights, or those of the snapshot taken at a fraction of the run."""
    checkpoint = load_checkpoint(path, required=("arch", "settings", "generator"), kind="ganprint generator")
    generator = make_generator(checkpoint["arch"], checkpoint["settings"])
    weights = checkpoint["generator"]
    if snapshot is not None:
        taken = checkpoint.get("snapshots", {})
        name = fraction_name(snapshot)
        if name not in taken:
            raise GanprintError(f"{path} holds no snapshot at {name} of its run; it has {sorted(taken) or 'none'}")
        weights = taken[name]["generator"]
    generator.load_state_dict(weights)
    retire_resume_state(path)
    return generator.to(device).eval().requires_grad_(False)


def latents(prior: str, seed: int, first: int, count: int, dimension: int) -> torch.Tensor:
    rows = [latent_of_image(prior, seed, index, dimension) for index in range(first, first + count)]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


@torch.no_grad()
def write_samples(generator, output: str, first: int, count: int, seed: int, batch: int, device,
                  export: str = "round") -> None:
    """Images first .. first+count-1, made bytes by `export` (convert.EXPORTS). A generator
    with a `sampling_group` (batch statistics at sampling) makes images in whole groups
    g*k .. g*k+g-1, whatever the split and batch."""
    group = getattr(generator, "sampling_group", 1)
    batch = max(group, batch // group * group)
    end = first + count
    with image_array_writer(output, count, generator.resolution) as array:
        for start in range(first // group * group, end, batch):
            size = min(batch, -(-(end - start) // group) * group)
            z = latents(generator.latent_distribution, seed, start, size, generator.latent_dim).to(device)
            images = to_uint8(generator(z), export)
            keep = slice(max(start, first), min(start + size, end))
            array[keep.start - first : keep.stop - first] = images[keep.start - start : keep.stop - start]


def sample_gan(checkpoint: str, counts: dict[str, int], seed: int, batch: int = schema_default("sampling", "batch"),
               threads: int = 1, snapshot: str | None = None, export: str = "round") -> None:
    """Sample `counts` (output path: images) in turn, the latent numbering continuing from
    one output to the next (train, test, validation)."""
    if min(counts.values()) <= 0:
        raise GanprintError(f"image counts must be positive, got {list(counts.values())}")
    if export not in EXPORTS:
        raise GanprintError(f"export must be one of {', '.join(EXPORTS)}, got '{export}'")
    if not 0 <= seed < 2**31:
        raise GanprintError(f"sampling seed must be in 0..2^31-1, got {seed}")
    device = runtime.configure(threads, tf32=False)
    generator = load_generator(checkpoint, device, snapshot)
    first = 0
    for output, count in counts.items():
        write_samples(generator, output, first, count, seed, batch, device, export)
        first += count
    log.info("sampled %s images from %s", " + ".join(map(str, counts.values())), checkpoint)
