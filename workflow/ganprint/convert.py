"""Conversion between stored uint8 images and network tensors."""

import numpy as np
import torch

# Rec. 601 luma weights of R, G and B.
LUMINANCE = (0.299, 0.587, 0.114)


def uint8_tensor(images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 array (memory-mapped ones included) -> the same tensor on `device`."""
    return torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)


def to_unit_range(batch: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float N x 3 x H x W in [-1, 1]."""
    tensor = uint8_tensor(batch, device)
    return tensor.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float N x 3 x H x W in [-1, 1] -> uint8 N x H x W x 3 (round to nearest)."""
    scaled = (images.float() + 1.0) * 127.5
    return scaled.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
