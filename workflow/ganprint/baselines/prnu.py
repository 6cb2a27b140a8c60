"""PRNU-style fingerprints (Marra et al., MIPR 2019) with the standard PRNU tool chain's
wavelet denoiser.

Noise residual = image - denoised image. The denoiser decomposes each colour plane with a
db4 wavelet (periodic extension, up to 4 levels), estimates the local signal variance of
every detail coefficient as the smallest of max(0, mean(c^2) - sigma^2) over 3, 5, 7 and
9-wide windows, and keeps c * var / (var + sigma^2) (Wiener filtering); the residual is
what is removed, c * sigma^2 / (var + sigma^2), with the approximation band dropped. The
colour residuals are combined to luminance. A source's fingerprint is the mean residual of
its training images with row and column means removed; a test image is attributed to the
fingerprint of highest normalised cross-correlation with its residual.

All operations act on whole batches of images (PyWavelets and scipy.ndimage over the
leading axes); nothing loops over pixels in Python.
"""

import numpy as np
import pywt
import torch
from scipy import ndimage

from ..convert import LUMINANCE
from ..neighbours import Vectors

WAVELET = "db4"
WINDOWS = (3, 5, 7, 9)


def wavelet_levels(size: int, levels: int) -> int:
    return max(1, min(levels, pywt.dwt_max_level(size, pywt.Wavelet(WAVELET).dec_len)))


def _wiener_noise(coefficients: np.ndarray, sigma: float) -> np.ndarray:
    """The part of detail coefficients (.. x h x w) that Wiener filtering removes."""
    squared = coefficients**2
    window_shape = (1,) * (coefficients.ndim - 2)
    variance = np.min([ndimage.uniform_filter(squared, size=window_shape + (w, w), mode="nearest")
                       for w in WINDOWS], axis=0)
    variance = np.maximum(variance - sigma**2, 0.0)
    return coefficients * (sigma**2 / (variance + sigma**2))


def wavelet_noise(planes: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    """The noise the wavelet denoiser removes from float planes (.. x H x W, H == W)."""
    planes = np.asarray(planes, dtype=np.float64)
    level = wavelet_levels(planes.shape[-1], levels)
    coefficients = pywt.wavedec2(planes, WAVELET, mode="periodization", level=level, axes=(-2, -1))
    noise = [np.zeros_like(coefficients[0])]
    noise += [tuple(_wiener_noise(band, sigma) for band in details) for details in coefficients[1:]]
    return pywt.waverec2(noise, WAVELET, mode="periodization", axes=(-2, -1))


def wavelet_denoise(planes: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    return np.asarray(planes, dtype=np.float64) - wavelet_noise(planes, sigma, levels)


def noise_residuals(images: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    """uint8 N x H x W x 3 (0-255) -> float32 N x H x W luminance noise residuals."""
    planes = np.moveaxis(np.asarray(images, dtype=np.float64), -1, 1)
    residual = wavelet_noise(planes, sigma, levels)
    return np.tensordot(np.array(LUMINANCE), residual, axes=([0], [1])).astype(np.float32)


def zero_mean(patterns: torch.Tensor) -> torch.Tensor:
    """Remove the mean, then every row's and column's mean (the tool chain's zero-meaning)."""
    patterns = patterns - patterns.mean(dim=(-2, -1), keepdim=True)
    patterns = patterns - patterns.mean(dim=-1, keepdim=True)
    return patterns - patterns.mean(dim=-2, keepdim=True)


def _unit_rows(vectors: torch.Tensor) -> torch.Tensor:
    centred = vectors - vectors.mean(dim=1, keepdim=True)
    return centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-12)


def fingerprints(residuals: Vectors, labels: np.ndarray, n_classes: int, chunk: int = 1024) -> torch.Tensor:
    """n_classes x H x W: zero-meaned mean residual of each class."""
    totals = None
    for start in range(0, len(labels), chunk):
        positions = np.arange(start, min(start + chunk, len(labels)))
        batch = residuals(positions).double()
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(labels[positions]).to(batch.device), n_classes)
        contribution = torch.einsum("nc,nhw->chw", one_hot.double(), batch)
        totals = contribution if totals is None else totals + contribution
    counts = torch.from_numpy(np.bincount(labels, minlength=n_classes)).to(totals)
    return zero_mean(totals / counts.reshape(-1, 1, 1)).float()


def correlations(residuals: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Normalised cross-correlation of each residual (N x H x W) with each pattern (C x H x W)."""
    return _unit_rows(residuals.flatten(1)) @ _unit_rows(patterns.flatten(1)).T
