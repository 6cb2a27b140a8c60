"""The optimiser settings of attribution training, shared by the classifier and visNet."""

import dataclasses
import math

import torch

from ..errors import GanprintError
from ..settings import defaults_from_schema

LR_SCHEDULES = ("constant", "linear")


@dataclasses.dataclass
@defaults_from_schema("attribution")
class OptimiserSettings:
    learning_rate: float
    betas: tuple
    batch_size: int
    epochs: int
    lr_schedule: str
    flip: bool
    total_images: int | None

    def epochs_over(self, n_images: int) -> int:
        """Passes over `n_images` training images: `epochs`, or as many as show `total_images`
        images (rounded up to whole passes)."""
        return self.epochs if self.total_images is None else math.ceil(self.total_images / n_images)

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.lr_schedule not in LR_SCHEDULES:
            raise GanprintError(f"lr_schedule must be one of {LR_SCHEDULES}, got '{self.lr_schedule}'")
        if self.epochs <= 0 or self.batch_size <= 0 or self.learning_rate <= 0:
            raise GanprintError("epochs, batch_size and learning_rate must be positive")
        if self.total_images is not None and self.total_images <= 0:
            raise GanprintError("total_images must be positive (or null: epochs)")


def scheduled_adam(parameters, optimiser: OptimiserSettings, total_steps: int):
    """Adam with the settings' rate and betas, and its per-step schedule (constant, or linear
    decay to zero at `total_steps`)."""
    adam = torch.optim.Adam(parameters, lr=optimiser.learning_rate, betas=optimiser.betas, eps=1e-8)
    decay = (lambda step: 1.0 - step / total_steps) if optimiser.lr_schedule == "linear" else (lambda step: 1.0)
    return adam, torch.optim.lr_scheduler.LambdaLR(adam, decay)
