"""A multinomial logistic-regression classifier on standardised feature vectors.

Trained by Adam on minibatches streamed through a vector function, so that features that
do not fit in memory (DCT spectra of 10^5 images at 128x128) never need to be stored.
"""

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GanprintError
from ..neighbours import Vectors
from ..settings import defaults_from_schema
from .inputs import chunked


@dataclasses.dataclass
@defaults_from_schema("baselines", "linear")
class LinearSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float

    def __post_init__(self):
        if self.epochs <= 0 or self.batch_size <= 0 or self.learning_rate <= 0 or self.weight_decay < 0:
            raise GanprintError(f"linear classifier settings out of range: {self}")


@dataclasses.dataclass
class LinearClassifier:
    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, vectors: torch.Tensor) -> torch.Tensor:
        return ((vectors - self.mean) / self.scale) @ self.weight + self.bias


def standardisation(vectors: Vectors, n: int, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation (1 where a dimension is constant), in one pass."""
    total = total_square = None
    for positions in chunked(n, chunk):
        batch = vectors(positions).double()
        total = batch.sum(0) if total is None else total + batch.sum(0)
        total_square = batch.square().sum(0) if total_square is None else total_square + batch.square().sum(0)
    mean = total / n
    variance = (total_square / n - mean.square()).clamp_(min=0.0)
    scale = torch.where(variance > 1e-12, variance.sqrt(), torch.ones_like(variance))
    return mean.float(), scale.float()


def fit_logistic(vectors: Vectors, labels: np.ndarray, n_classes: int, settings: LinearSettings,
                 seed: int) -> LinearClassifier:
    """Cross-entropy with L2 weight decay, learning rate decayed linearly to zero."""
    mean, scale = standardisation(vectors, len(labels))
    device = mean.device
    weight = torch.zeros(mean.shape[0], n_classes, device=device, requires_grad=True)
    bias = torch.zeros(n_classes, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([weight, bias], lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps_per_epoch = -(-len(labels) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 1.0 - step / (settings.epochs * steps_per_epoch))
    classifier = LinearClassifier(mean, scale, weight, bias)
    targets = torch.from_numpy(labels).long().to(device)
    rng = np.random.default_rng(seed)
    for _ in range(settings.epochs):
        order = rng.permutation(len(labels))
        for start in range(0, len(order), settings.batch_size):
            positions = np.sort(order[start : start + settings.batch_size])
            loss = F.cross_entropy(classifier.logits(vectors(positions)), targets[positions])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return LinearClassifier(mean, scale, weight.detach(), bias.detach())


@torch.no_grad()
def predict_logits(classifier: LinearClassifier, vectors: Vectors, n: int, chunk: int = 4096) -> np.ndarray:
    return np.concatenate([classifier.logits(vectors(p)).cpu().numpy() for p in chunked(n, chunk)])


def predict_classes(classifier: LinearClassifier, vectors: Vectors, n: int, chunk: int = 4096) -> np.ndarray:
    return predict_logits(classifier, vectors, n, chunk).argmax(1)
