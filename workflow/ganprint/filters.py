"""Separable low-pass filters and the Gaussian pyramid built from them.

One implementation serves every stage that blurs or resamples images: the component
analysis (pre-downsampling and its residual band) and the blur attack.
"""

import math

import torch
import torch.nn.functional as F

# The 5-tap binomial filter [1, 4, 6, 4, 1] / 16, whose outer product / 256 is the 5x5
# Gaussian of the Laplacian pyramid (Burt & Adelson) and of the authors' pre-downsampling.
BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)


def binomial_kernel() -> torch.Tensor:
    taps = torch.tensor(BINOMIAL_5)
    return taps / taps.sum()


# OpenCV's getGaussianKernel with sigma <= 0 uses these fixed kernels up to 7 taps (the
# 5-tap one is BINOMIAL_5) and a sampled Gaussian of sigma 0.3 ((size - 1) / 2 - 1) + 0.8 above.
OPENCV_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}


def gaussian_kernel(size: int, sigma: float | None = None) -> torch.Tensor:
    """A normalised 1-D Gaussian of odd `size`; with no sigma, the kernel OpenCV's GaussianBlur
    uses for a zero sigma."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be odd and positive, got {size}")
    if sigma is None:
        if size in OPENCV_SMALL_KERNELS:
            return torch.tensor(OPENCV_SMALL_KERNELS[size])
        sigma = 0.3 * ((size - 1) * 0.5 - 1.0) + 0.8
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(offsets**2) / (2.0 * sigma**2))
    return (taps / taps.sum()).float()


def separable_filter(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Filter every channel of N x C x H x W images with kernel (x) kernel, reflect padding
    (replicate where an image is too small to reflect)."""
    size = kernel.numel()
    if size == 1:
        return images * kernel.item()
    channels = images.shape[1]
    pad = size // 2
    mode = "reflect" if min(images.shape[-2:]) > pad else "replicate"
    kernel = kernel.to(images)
    horizontal = kernel.reshape(1, 1, 1, size).expand(channels, 1, 1, size)
    vertical = kernel.reshape(1, 1, size, 1).expand(channels, 1, size, 1)
    padded = F.pad(images, [pad, pad, pad, pad], mode=mode)
    return F.conv2d(F.conv2d(padded, horizontal, groups=channels), vertical, groups=channels)


def gaussian_downsample(images: torch.Tensor) -> torch.Tensor:
    """Blur with the 5x5 binomial Gaussian, keep every second row and column."""
    return separable_filter(images, binomial_kernel())[..., ::2, ::2]


def gaussian_upsample(images: torch.Tensor) -> torch.Tensor:
    """Insert zeros between samples and blur with the 5x5 binomial Gaussian times 4 (the gain
    that restores the mean lost to the zeros)."""
    batch, channels, height, width = images.shape
    spread = images.new_zeros(batch, channels, 2 * height, 2 * width)
    spread[..., ::2, ::2] = images
    return separable_filter(spread, binomial_kernel()) * 4.0


def downsample_to(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Repeated Gaussian 2x downsampling to `resolution` (a power-of-two fraction of the size)."""
    steps = int(round(math.log2(images.shape[-1] / resolution)))
    if steps < 0 or images.shape[-1] != resolution * 2**steps:
        raise ValueError(f"cannot downsample {images.shape[-1]}px images to {resolution}px by halving")
    for _ in range(steps):
        images = gaussian_downsample(images)
    return images


def laplacian_band(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """The pyramid band between 2 x resolution and resolution: the image at 2r minus the
    Gaussian-upsampled image at r (2r x 2r)."""
    finer = downsample_to(images, 2 * resolution)
    return finer - gaussian_upsample(gaussian_downsample(finer))
