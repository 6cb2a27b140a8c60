"""PRNU fingerprints (Marra et al., MIPR 2019) with the standard PRNU tool chain: the
Binghamton toolbox of Lukas, Fridrich and Goljan, as ported by polimi-ispl/prnu-python.

Noise residual of an image (the port's `extract_single`): each colour plane goes through
the wavelet denoiser (db4, the toolbox's 8-tap Daubechies filter; periodic transform, up to
4 levels): every detail coefficient c gets the local signal variance
v = min over 3, 5, 7 and 9-wide zero-padded windows of max(0, mean(c^2) - sigma^2), and what
Wiener filtering removes, c * sigma^2 / (v + sigma^2), is kept (approximation band
dropped). The planes are combined to grey (the toolbox's weights), each of the four 2x2
sub-lattices is made zero-mean by total, row and column means, and the result is Wiener
filtered in the DFT domain (the same adaptive filter on the DFT magnitudes, with the
residual's own standard deviation as the noise level).
Fingerprint of a source (`extract_multiple_aligned`): per colour plane the
intensity-weighted estimate K = sum W I / (sum (s(I) m(I))^2 + 1) over its training images
(W the plane's residual, I the plane / 255, s the toolbox's intensity scale, m its
saturation mask), then grey, sub-lattice zero-mean and DFT Wiener filtering as above.
A test image goes to the fingerprint of highest normalised correlation with its residual.

All operations act on whole batches of images; nothing loops over pixels in Python.
"""

import numpy as np
import pywt
import torch
from scipy import ndimage

WAVELET = "db4"
WINDOWS = (3, 5, 7, 9)
TOOLBOX_GREY = (0.29893602, 0.58704307, 0.11402090)
INTENSITY_KNEE, INTENSITY_WIDTH = 252, 6  # the toolbox's IntenScale
SATURATED = 250


def wavelet_levels(size: int, levels: int) -> int:
    return max(1, min(levels, pywt.dwt_max_level(size, pywt.Wavelet(WAVELET).dec_len)))


def wiener_noise(values: np.ndarray, noise_variance: float) -> np.ndarray:
    """The toolbox's WaveNoise on the last two axes: the part of `values` that adaptive
    Wiener filtering removes, values * s^2 / (v + s^2)."""
    squared = values**2
    window_shape = (1,) * (values.ndim - 2)
    local = np.min([ndimage.uniform_filter(squared, size=window_shape + (w, w), mode="constant")
                    for w in WINDOWS], axis=0)
    variance = np.maximum(local - noise_variance, 0.0)
    return values * (noise_variance / (variance + noise_variance))


def wavelet_noise(planes: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    """The noise the wavelet denoiser removes from float planes (.. x H x W, H == W)."""
    planes = np.asarray(planes, dtype=np.float64)
    level = wavelet_levels(planes.shape[-1], levels)
    coefficients = pywt.wavedec2(planes, WAVELET, mode="periodization", level=level, axes=(-2, -1))
    noise = [np.zeros_like(coefficients[0])]
    noise += [tuple(wiener_noise(band, sigma**2) for band in details) for details in coefficients[1:]]
    return pywt.waverec2(noise, WAVELET, mode="periodization", axes=(-2, -1))


def wavelet_denoise(planes: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    return np.asarray(planes, dtype=np.float64) - wavelet_noise(planes, sigma, levels)


def colour_noise(images: np.ndarray, sigma: float, levels: int) -> np.ndarray:
    """uint8 N x H x W x 3 -> float64 N x 3 x H x W wavelet noise of each colour plane."""
    return wavelet_noise(np.moveaxis(np.asarray(images, dtype=np.float64), -1, 1), sigma, levels)


def grey(planes: np.ndarray) -> np.ndarray:
    """.. x 3 x H x W -> .. x H x W with the toolbox's weights."""
    return np.tensordot(planes, np.array(TOOLBOX_GREY), axes=([-3], [0]))


def zero_mean(patterns: np.ndarray) -> np.ndarray:
    """The toolbox's ZeroMean('both'): remove the mean, then every row's and column's mean."""
    patterns = patterns - patterns.mean(axis=(-2, -1), keepdims=True)
    patterns = patterns - patterns.mean(axis=-1, keepdims=True)
    return patterns - patterns.mean(axis=-2, keepdims=True)


def zero_mean_total(patterns: np.ndarray) -> np.ndarray:
    """The toolbox's ZeroMeanTotal: ZeroMean on each of the four 2x2 sub-lattices."""
    result = np.array(patterns, dtype=np.float64)
    for row in (0, 1):
        for column in (0, 1):
            result[..., row::2, column::2] = zero_mean(result[..., row::2, column::2])
    return result


def wiener_dft(patterns: np.ndarray) -> np.ndarray:
    """The toolbox's WienerInDFT of each pattern (.. x H x W), with the pattern's standard
    deviation (ddof 1) as the noise level."""
    height, width = patterns.shape[-2:]
    sigmas = patterns.reshape(*patterns.shape[:-2], -1).std(axis=-1, ddof=1)[..., None, None]
    spectrum = np.fft.fft2(patterns)
    magnitude = np.abs(spectrum) / np.sqrt(height * width)
    kept = wiener_noise(magnitude, sigmas**2)
    gain = np.divide(kept, magnitude, out=np.zeros_like(magnitude), where=magnitude != 0)
    return np.real(np.fft.ifft2(spectrum * gain))


def finish(planes: np.ndarray) -> np.ndarray:
    """Colour residuals or fingerprints -> grey, sub-lattice zero-mean, DFT-Wiener filtered."""
    return wiener_dft(zero_mean_total(grey(planes)))


def residuals_of_noise(noise: np.ndarray) -> np.ndarray:
    return finish(noise).astype(np.float32)


def noise_residuals(images: np.ndarray, sigma: float = 5.0, levels: int = 4) -> np.ndarray:
    """uint8 N x H x W x 3 -> float32 N x H x W noise residuals (the port's extract_single)."""
    return residuals_of_noise(colour_noise(images, sigma, levels))


def intensity_scale(planes: np.ndarray) -> np.ndarray:
    """The toolbox's IntenScale of uint8 values: I / 252 below 252, a narrow Gaussian above."""
    values = planes.astype(np.float64)
    above = np.exp(-((values - INTENSITY_KNEE) ** 2) / INTENSITY_WIDTH)
    return np.where(values < INTENSITY_KNEE, values / INTENSITY_KNEE, above)


def saturation(planes: np.ndarray) -> np.ndarray:
    """The toolbox's Saturation mask of uint8 N x 3 x H x W planes: 0 at pixels that hold
    their plane's maximum, where it exceeds 250, and share it with one of their four
    (cyclic) neighbours; 1 elsewhere. (Both the toolbox and its port also change the
    other planes of such an image, in opposite ways; this keeps them whole.)"""
    values = planes.astype(np.int16)
    differs = [values != np.roll(values, shift, axis) for shift, axis in ((1, -1), (1, -2), (-1, -1), (-1, -2))]
    flat = ~(differs[0] & differs[1] & differs[2] & differs[3])
    plane_max = values.max(axis=(-2, -1), keepdims=True)
    return ~((plane_max > SATURATED) & (values == plane_max) & flat)


def intensity_weights(images: np.ndarray) -> np.ndarray:
    """uint8 N x H x W x 3 -> N x 3 x H x W: the denominator terms (s(I) m(I))^2."""
    planes = np.moveaxis(np.asarray(images), -1, 1)
    return (intensity_scale(planes) * saturation(planes)) ** 2


def weighted_noise(noise: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The numerator terms W I of colour noise N x 3 x H x W and its uint8 images."""
    return noise * (np.moveaxis(np.asarray(images), -1, 1) / 255.0)


def class_sums(values: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """n_classes x ..: the sum of the values of each class."""
    one_hot = np.eye(n_classes)[labels]
    return (one_hot.T @ values.reshape(len(values), -1)).reshape(n_classes, *values.shape[1:])


def fingerprints(numerator: np.ndarray, denominator: np.ndarray) -> torch.Tensor:
    """n_classes x H x W fingerprints from the class sums of W I and of (s(I) m(I))^2 (the
    port's extract_multiple_aligned)."""
    return torch.from_numpy(finish(numerator / (denominator + 1.0)).astype(np.float32))


def correlations(residuals: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Normalised correlation (the port's aligned_cc) of each residual (N x H x W) with each
    pattern (C x H x W)."""
    unit = lambda x: x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)  # noqa: E731
    return unit(residuals.flatten(1)) @ unit(patterns.flatten(1)).T
