"""Conversion between stored uint8 images and network tensors."""

import numpy as np
import torch

from .runtime import to_device

# Rec. 601 luma weights of R, G and B.
LUMINANCE = (0.299, 0.587, 0.114)


def uint8_tensor(images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 array (memory-mapped ones included) -> the same tensor on `device`."""
    return to_device(torch.from_numpy(np.require(images, requirements=["C", "W"])), device)


def to_unit_range(batch: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float N x 3 x H x W in [-1, 1]."""
    return unit_range(uint8_tensor(batch, device))


def unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 tensor N x H x W x 3 -> float N x 3 x H x W in [-1, 1], on its device."""
    return images.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float N x 3 x H x W in [-1, 1] -> uint8 N x H x W x 3 (round to nearest)."""
    scaled = (images.float() + 1.0) * 127.5
    return scaled.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
