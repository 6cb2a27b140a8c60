"""What the baselines share: a validation split of the training rows and pixel vectors."""

import numpy as np
import torch

from ..errors import GanprintError
from ..attribution.data import LabelledImages
from ..convert import uint8_tensor


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows kept for fitting and rows held out for choosing a hyperparameter, per class, sorted."""
    if not 0.0 < fraction < 1.0:
        raise GanprintError(f"validation_fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    fitting, held_out = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_held_out = int(round(fraction * len(rows)))
        if n_held_out < 1 or n_held_out >= len(rows):
            raise GanprintError(f"class {label} has {len(rows)} training images: too few for a validation "
                                f"fraction of {fraction}")
        held_out.append(rows[:n_held_out])
        fitting.append(rows[n_held_out:])
    return np.sort(np.concatenate(fitting)), np.sort(np.concatenate(held_out))


def pixel_vectors(images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x (H W 3) in [0, 1]."""
    tensor = uint8_tensor(images, device)
    return tensor.reshape(len(images), -1).float().div_(255.0)


def row_vectors(data: LabelledImages, rows: np.ndarray, transform, device):
    """A function of positions into `rows` giving the transformed images of those rows."""
    return lambda positions: transform(data.gather(rows[positions])[0], device)


def chunked(n: int, chunk: int = 4096):
    """Consecutive position arrays covering range(n)."""
    for start in range(0, n, chunk):
        yield np.arange(start, min(start + chunk, n))


def stacked(vectors, n: int, chunk: int = 4096) -> torch.Tensor:
    """All n vectors of a vector function, computed a chunk at a time."""
    return torch.cat([vectors(positions) for positions in chunked(n, chunk)])
