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


# How generated images become bytes: `round` to the nearest level; `truncate`, clip and
# drop the fraction (Chainer's SNGAN, np.uint8 of x * 127.5 + 127.5); `stretch`, each image's
# minimum to 0 and maximum to 255, rounding half up (scipy.misc.imsave of a float array, as
# the MMD-GAN code base saved its samples).
EXPORTS = ("round", "truncate", "stretch")


def to_uint8(images: torch.Tensor, export: str = "round") -> np.ndarray:
    """float N x 3 x H x W in [-1, 1] -> uint8 N x H x W x 3, by one of EXPORTS."""
    if export == "stretch":
        values = images.double()
        low = values.amin(dim=(1, 2, 3), keepdim=True)
        span = values.amax(dim=(1, 2, 3), keepdim=True) - low
        levels = ((values - low) * (255.0 / torch.where(span == 0, 1.0, span))).clamp_(0, 255).add_(0.5).floor_()
    else:
        levels = ((images.float() + 1.0) * 127.5).clamp_(0, 255)
        levels = levels.floor_() if export == "truncate" else levels.round_()
    return levels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
