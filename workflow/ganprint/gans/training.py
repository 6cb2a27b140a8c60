"""The one GAN training loop: seeding, data drawing, checkpoint/resume, progress, final weights.

Every random draw (initial weights, real batches, latents, interpolation weights) comes
from the run's seed, and the resumable state holds the random stream, so a run killed
and restarted from its last checkpoint ends with the same weights as one uninterrupted.
"""

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from .. import runtime
from ..errors import GanprintError
from ..convert import to_unit_range, uint8_tensor
from ..sources import fraction_name
from ..storage import (
    load_array,
    load_images,
    load_resume_state,
    resume_path,
    save_checkpoint,
    save_resume_state,
    settings_fingerprint,
)
from . import make_trainer
from .latents import draw_latents

log = logging.getLogger(__name__)


class RealBatches:
    """Draws real training batches uniformly (with replacement) from the allowed rows, as
    x / 127.5 - 1 (`centred`), or as the authors' SNGAN loader did, x / 128 - 1 + U(0, 1/128)
    (`dequantised`)."""

    def __init__(self, images: np.ndarray, rows: np.ndarray, stream: torch.Generator, device,
                 scaling: str = "centred"):
        self.images, self.rows, self.stream, self.device = images, rows, stream, device
        self.scaling = scaling
        self.drawn = 0

    def __call__(self, batch: int) -> torch.Tensor:
        picks = torch.randint(len(self.rows), (batch,), generator=self.stream).numpy()
        self.drawn += batch
        images = self.images[np.sort(self.rows[picks])]
        if self.scaling == "dequantised":
            values = uint8_tensor(images, self.device).permute(0, 3, 1, 2).float() / 128 - 1
            return values + runtime.to_device(torch.rand(values.shape, generator=self.stream), self.device) / 128
        return to_unit_range(images, self.device)


def training_rows(images: np.ndarray, subset_path: str | None) -> np.ndarray:
    if subset_path is None:
        return np.arange(len(images))
    rows = load_array(subset_path)
    if rows.ndim != 1 or len(rows) == 0 or rows.min() < 0 or rows.max() >= len(images):
        raise GanprintError(f"subset index file {subset_path} does not index the {len(images)} real images")
    return rows


def train_gan(arch: str, settings: dict, images_path: str, output: str, seed: int, threads: int,
              subset_path: str | None = None, checkpoint_every: int | None = None, log_every: int | None = None,
              snapshots: list[float] = (), deterministic: bool = True) -> None:
    """Train one GAN instance. A resumable state is saved every `checkpoint_every` images
    (default: every 2% of the run, and at its end); the job that reads the final weights
    removes it (storage.retire_resume_state).
    `snapshots` are fractions of the run: the checkpoint also holds the final generator's
    weights as they were at each (they cost no training; `load_generator` picks one).
    `deterministic`: deterministic GPU kernels (runtime.configure)."""
    device = runtime.configure(threads, seed, deterministic=deterministic)
    images = load_images(images_path)
    trainer = make_trainer(arch, settings, device)
    resolution = getattr(trainer.settings, "resolution", None)
    if resolution is not None and images.shape[1] != resolution:
        raise GanprintError(f"{images_path} holds {images.shape[1]}px images but gans.{arch}.resolution is {resolution}")
    snapshot_counts = {fraction_name(f): snapshot_images(trainer, f) for f in sorted(set(snapshots))}
    stream = runtime.generator(seed)
    scaling = getattr(trainer.settings, "real_scaling", "centred")
    real = RealBatches(images, training_rows(images, subset_path), stream, device, scaling)

    fingerprint = settings_fingerprint(dict(arch=arch, settings=settings, seed=seed, threads=threads,
                                            images=str(images_path), subset=str(subset_path), device=device.type,
                                            snapshots=snapshot_counts,
                                            generator_first=getattr(trainer, "generator_first", None)))
    state_path = resume_path(output)
    shown, taken = _resume(trainer, stream, state_path, fingerprint)
    checkpoint_every = checkpoint_every or max(trainer.total_images // 50, 1)
    log_every = log_every or min(10_000, max(trainer.total_images // 20, 1))
    progress = Progress(state_path, fingerprint, checkpoint_every, log_every, snapshot_counts, taken)
    _run(trainer, real, stream, device, shown, progress)

    save_checkpoint(output, {
        "arch": arch,
        "settings": dataclasses.asdict(trainer.settings),
        "generator": trainer.final_generator.state_dict(),
        "images_shown": trainer.total_images,
        "seed": seed,
        "snapshots": taken,
    })


def snapshot_images(trainer, fraction: float) -> int:
    """Images shown at a fraction of the run; for a growing GAN, only once the final
    resolution is fully faded in (before that the generator does not make full-size images)."""
    if not 0 < fraction < 1:
        raise GanprintError(f"snapshot fractions must lie strictly between 0 and 1, got {fraction}")
    count = round(fraction * trainer.total_images)
    schedule = getattr(trainer.settings, "schedule", None)
    if schedule is not None and schedule(count) != (trainer.settings.resolution, 1.0):
        raise GanprintError(f"snapshot at {fraction:g} of the run ({count} images) comes before the generator "
                            f"has grown to {trainer.settings.resolution}px; choose a later fraction")
    return count


@dataclasses.dataclass
class Progress:
    """When to log, save the resumable state and take snapshots; the snapshots taken so far."""

    resume_path: Path
    fingerprint: str
    checkpoint_every: int
    log_every: int
    snapshot_counts: dict  # snapshot name -> images shown
    taken: dict  # snapshot name -> {"generator": weights, "images_shown": images}


def _resume(trainer, stream, state_path, fingerprint) -> tuple[int, dict]:
    """Images shown and snapshots taken by the saved state (0 and none without one)."""
    state = load_resume_state(state_path, fingerprint)
    if state is None:
        return 0, {}
    trainer.load_state_dict(state["trainer"])
    stream.set_state(state["stream"])
    log.info("resumed from %s at %d images", state_path, state["images_shown"])
    return int(state["images_shown"]), dict(state["snapshots"])


def _run(trainer, real, stream, device, shown, progress: Progress):
    """Steps to the end of the run. A step's losses stay on the device (reading them would wait
    for the GPU at every step) until a log line needs them."""
    draw = lambda n: runtime.to_device(draw_latents(trainer.latent_distribution, n, trainer.latent_dim, stream), device)  # noqa: E731
    draw_uniform = lambda n: runtime.to_device(torch.rand(n, generator=stream), device)  # noqa: E731
    next_checkpoint = (shown // progress.checkpoint_every + 1) * progress.checkpoint_every
    next_log = (shown // progress.log_every + 1) * progress.log_every
    started, started_at = time.perf_counter(), shown
    while shown < trainer.total_images:
        real.drawn = 0
        losses = trainer.step(shown, real, draw, draw_uniform)
        shown += real.drawn
        for name, count in progress.snapshot_counts.items():
            if shown >= count and name not in progress.taken:
                weights = {key: value.clone() for key, value in trainer.final_generator.state_dict().items()}
                progress.taken[name] = {"generator": weights, "images_shown": shown}
        if shown >= next_log or shown >= trainer.total_images:
            seconds_per_kimg = (time.perf_counter() - started) / max(shown - started_at, 1) * 1000
            values = {name: value.item() if torch.is_tensor(value) else value for name, value in losses.items()}
            log.info(json.dumps({"kimg": round(shown / 1000, 2), **values, "sec_per_kimg": round(seconds_per_kimg, 2)}))
            next_log = (shown // progress.log_every + 1) * progress.log_every
        if shown >= next_checkpoint or shown >= trainer.total_images:
            save_resume_state(progress.resume_path, progress.fingerprint, {
                "trainer": trainer.state_dict(), "stream": stream.get_state(), "images_shown": shown,
                "snapshots": progress.taken,
            })
            next_checkpoint = (shown // progress.checkpoint_every + 1) * progress.checkpoint_every
