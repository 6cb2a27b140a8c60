"""The frequency-domain baseline of Frank et al. (ICML 2020): log-scaled 2-D DCT spectra
of the image, then a linear classifier (baselines.linear)."""

import math

import numpy as np
import torch

from ..convert import uint8_tensor

# Added to |coefficient| (pixels on the 0-255 scale) before the log, so that an exactly
# zero coefficient (a flat crop) does not become an extreme outlier.
LOG_OFFSET = 1e-3


def dct_matrix(size: int, device=None) -> torch.Tensor:
    """Orthonormal DCT-II matrix C: the transform of a length-`size` signal x is C @ x."""
    frequency = torch.arange(size, dtype=torch.float64).unsqueeze(1)
    position = torch.arange(size, dtype=torch.float64).unsqueeze(0)
    matrix = torch.cos(math.pi * (2.0 * position + 1.0) * frequency / (2.0 * size)) * math.sqrt(2.0 / size)
    matrix[0] /= math.sqrt(2.0)
    return matrix.float().to(device)


def dct2(planes: torch.Tensor) -> torch.Tensor:
    """2-D orthonormal DCT-II over the last two axes (square planes)."""
    matrix = dct_matrix(planes.shape[-1], planes.device)
    return matrix @ planes @ matrix.T


def log_dct_spectra(images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x (3 H W): log |DCT| of each colour channel."""
    planes = uint8_tensor(images, device).permute(0, 3, 1, 2).float()
    return torch.log(dct2(planes).abs() + LOG_OFFSET).reshape(len(images), -1)
