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
Fingerprint of a source, per colour plane over its training images, by one of two estimators:
`average`, Marra et al.'s: the mean residual, sum W / N (W the plane's residual); or
`weighted`, the toolbox's maximum-likelihood estimate (`extract_multiple_aligned`):
K = sum W I / (sum (s(I) m(I))^2 + 1) (I the plane / 255, s the toolbox's intensity scale, m
its saturation mask). Then grey, sub-lattice zero-mean and DFT Wiener filtering as above.
A test image goes to the fingerprint of highest normalised correlation with its residual.
That is the `toolbox` chain; the `marra` chain, Marra et al.'s method as they describe it,
skips the grey, zero-mean and DFT Wiener steps, of the residuals and of the fingerprints
alike: the colour planes' wavelet noise is correlated with the estimate as it is.

Everything is torch in float64 on the device the images are sent to, and acts on whole
batches: on a GPU the chain runs there, on the CPU it gives PyWavelets' and SciPy's results
to rounding.
"""

import functools

import numpy as np
import torch

from ..convert import uint8_tensor

WAVELET = "db4"
WINDOWS = (3, 5, 7, 9)
TOOLBOX_GREY = (0.29893602, 0.58704307, 0.11402090)
INTENSITY_KNEE, INTENSITY_WIDTH = 252, 6  # the toolbox's IntenScale
SATURATED = 250
ESTIMATORS = ("average", "weighted")
CHAINS = ("toolbox", "marra")


@functools.cache
def wavelet_filters() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The wavelet's decomposition low-pass and high-pass filters."""
    import pywt  # only PRNU needs it, and only for the filter taps

    wavelet = pywt.Wavelet(WAVELET)
    return tuple(wavelet.dec_lo), tuple(wavelet.dec_hi)


def wavelet_levels(size: int, levels: int) -> int:
    """At most `levels`, and no more than the filter length allows (PyWavelets' dwt_max_level)."""
    taps = len(wavelet_filters()[0])
    longest = int(np.floor(np.log2(size / (taps - 1)))) if size >= taps - 1 else 0
    return max(1, min(levels, longest))


@functools.cache
def wavelet_matrix(size: int, device: str) -> torch.Tensor:
    """size x size: one level of the periodic DWT (PyWavelets' periodization) of a length-size
    signal, the low band's rows first. It is orthogonal: its transpose inverts it."""
    matrix = torch.zeros(size, size, dtype=torch.float64)
    outputs = torch.arange(size // 2)
    for band, taps in enumerate(wavelet_filters()):
        for tap, weight in enumerate(taps):
            matrix[band * (size // 2) + outputs, (2 * outputs + len(taps) // 2 - tap) % size] += weight
    return matrix.to(device)


def both_sides(rows: torch.Tensor, values: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """rows @ values @ columns.T for .. x H x W values, as two plain matrix products."""
    height, width = values.shape[-2:]
    across = (values.reshape(-1, width) @ columns.T).reshape(-1, height, columns.shape[0])
    down = across.transpose(-1, -2).reshape(-1, height) @ rows.T
    return down.reshape(-1, columns.shape[0], rows.shape[0]).transpose(-1, -2).reshape(
        *values.shape[:-2], rows.shape[0], columns.shape[0])


def dwt2(planes: torch.Tensor) -> torch.Tensor:
    """.. x H x W -> .. x H x W in the packed layout: the approximation in the top-left
    quarter, the details in the other three."""
    device = str(planes.device)
    height, width = planes.shape[-2:]
    return both_sides(wavelet_matrix(height, device), planes, wavelet_matrix(width, device))


def idwt2(bands: torch.Tensor) -> torch.Tensor:
    """The inverse of `dwt2`."""
    device = str(bands.device)
    height, width = bands.shape[-2:]
    return both_sides(wavelet_matrix(height, device).T, bands, wavelet_matrix(width, device).T)


def window_means(values: torch.Tensor, widths) -> list[torch.Tensor]:
    """For each odd width, the mean over width x width windows centred on each entry of the
    last two axes, zero outside: differences of running sums, one per axis."""
    reach = max(widths) // 2
    rows = torch.nn.functional.pad(values, (reach + 1, reach)).cumsum(-1)
    size = values.shape[-1]
    means = []
    for width in widths:
        half = width // 2
        across = rows[..., reach + half + 1 : reach + half + 1 + size] - rows[..., reach - half : reach - half + size]
        columns = torch.nn.functional.pad(across, (0, 0, half + 1, half)).cumsum(-2)
        means.append((columns[..., width:, :] - columns[..., :-width, :]) / width**2)
    return means


def wiener_noise(values: torch.Tensor, noise_variance) -> torch.Tensor:
    """The toolbox's WaveNoise on the last two axes: the part of `values` that adaptive
    Wiener filtering removes, values * s^2 / (v + s^2)."""
    local = None
    for means in window_means(values**2, WINDOWS):
        local = means if local is None else torch.minimum(local, means, out=local)
    variance = (local - noise_variance).clamp_min(0.0)
    return values * (noise_variance / (variance + noise_variance))


def wavelet_noise(planes: torch.Tensor, sigma: float = 5.0, levels: int = 4) -> torch.Tensor:
    """The noise the wavelet denoiser removes from float planes (.. x H x W, H == W)."""
    packed = [dwt2(planes.to(torch.float64))]
    for _ in range(wavelet_levels(planes.shape[-1], levels) - 1):
        packed.append(dwt2(_quarters(packed[-1])[0]))
    noise = torch.zeros_like(_quarters(packed[-1])[0])
    for bands in reversed(packed):  # each packed level's details are replaced by their noise in place
        approximation, *details = _quarters(bands)
        for band in details:
            band.copy_(wiener_noise(band, sigma**2))
        approximation.copy_(noise)
        noise = idwt2(bands)
    return noise


def _quarters(bands: torch.Tensor) -> list[torch.Tensor]:
    """Views of the approximation and the three detail quarters of a packed level."""
    half = bands.shape[-1] // 2
    return [bands[..., :half, :half], bands[..., :half, half:], bands[..., half:, :half], bands[..., half:, half:]]


def wavelet_denoise(planes: torch.Tensor, sigma: float = 5.0, levels: int = 4) -> torch.Tensor:
    return planes.to(torch.float64) - wavelet_noise(planes, sigma, levels)


def colour_planes(images, device) -> torch.Tensor:
    """uint8 N x H x W x 3 (array or tensor) -> uint8 N x 3 x H x W on `device`."""
    tensor = images if torch.is_tensor(images) else uint8_tensor(np.asarray(images), device)
    return tensor.to(device).permute(0, 3, 1, 2)


def colour_noise(images, sigma: float, levels: int, device="cpu") -> torch.Tensor:
    """uint8 N x H x W x 3 -> float64 N x 3 x H x W wavelet noise of each colour plane."""
    return wavelet_noise(colour_planes(images, device), sigma, levels)


def grey(planes: torch.Tensor) -> torch.Tensor:
    """.. x 3 x H x W -> .. x H x W with the toolbox's weights."""
    weights = torch.tensor(TOOLBOX_GREY, dtype=planes.dtype, device=planes.device)
    return torch.tensordot(planes, weights, dims=([-3], [0]))


def zero_mean(patterns: torch.Tensor) -> torch.Tensor:
    """The toolbox's ZeroMean('both'): remove the mean, then every row's and column's mean."""
    patterns = patterns - patterns.mean(dim=(-2, -1), keepdim=True)
    patterns = patterns - patterns.mean(dim=-1, keepdim=True)
    return patterns - patterns.mean(dim=-2, keepdim=True)


def zero_mean_total(patterns: torch.Tensor) -> torch.Tensor:
    """The toolbox's ZeroMeanTotal: ZeroMean on each of the four 2x2 sub-lattices."""
    result = patterns.to(torch.float64).clone()
    for row in (0, 1):
        for column in (0, 1):
            result[..., row::2, column::2] = zero_mean(result[..., row::2, column::2])
    return result


def wiener_dft(patterns: torch.Tensor) -> torch.Tensor:
    """The toolbox's WienerInDFT of each pattern (.. x H x W), with the pattern's standard
    deviation (ddof 1) as the noise level."""
    height, width = patterns.shape[-2:]
    sigmas = patterns.flatten(-2).std(dim=-1, correction=1)[..., None, None]
    spectrum = torch.fft.fft2(patterns)
    magnitude = spectrum.abs() / np.sqrt(height * width)
    kept = wiener_noise(magnitude, sigmas**2)
    gain = torch.where(magnitude != 0, kept / torch.where(magnitude != 0, magnitude, 1.0), 0.0)
    return torch.fft.ifft2(spectrum * gain).real


def finish(planes: torch.Tensor, chain: str) -> torch.Tensor:
    """Colour residuals or fingerprints (.. x 3 x H x W) -> the patterns the chain correlates:
    `toolbox`, grey, sub-lattice zero-mean, DFT-Wiener filtered (.. x H x W); `marra`, the
    colour planes as they are."""
    return wiener_dft(zero_mean_total(grey(planes))) if chain == "toolbox" else planes


def residuals_of_noise(noise: torch.Tensor, chain: str) -> torch.Tensor:
    return finish(noise, chain).float()


def noise_residuals(images, sigma: float = 5.0, levels: int = 4, device="cpu") -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x H x W noise residuals on `device` (the port's extract_single)."""
    return residuals_of_noise(colour_noise(images, sigma, levels, device), "toolbox")


def intensity_scale(planes: torch.Tensor) -> torch.Tensor:
    """The toolbox's IntenScale of uint8 values: I / 252 below 252, a narrow Gaussian above."""
    values = planes.to(torch.float64)
    above = torch.exp(-((values - INTENSITY_KNEE) ** 2) / INTENSITY_WIDTH)
    return torch.where(values < INTENSITY_KNEE, values / INTENSITY_KNEE, above)


def saturation(planes: torch.Tensor) -> torch.Tensor:
    """The toolbox's Saturation mask of uint8 N x 3 x H x W planes: False at pixels that hold
    their plane's maximum, where it exceeds 250, and share it with one of their four
    (cyclic) neighbours; True elsewhere. (Both the toolbox and its port also change the
    other planes of such an image, in opposite ways; this keeps them whole.)"""
    values = planes.to(torch.int16)
    differs = [values != torch.roll(values, shift, dim) for shift, dim in ((1, -1), (1, -2), (-1, -1), (-1, -2))]
    flat = ~(differs[0] & differs[1] & differs[2] & differs[3])
    plane_max = values.amax(dim=(-2, -1), keepdim=True)
    return ~((plane_max > SATURATED) & (values == plane_max) & flat)


def intensity_weights(images, device="cpu") -> torch.Tensor:
    """uint8 N x H x W x 3 -> N x 3 x H x W: the denominator terms (s(I) m(I))^2."""
    planes = colour_planes(images, device)
    return (intensity_scale(planes) * saturation(planes)) ** 2


def weighted_noise(noise: torch.Tensor, images) -> torch.Tensor:
    """The numerator terms W I of colour noise N x 3 x H x W and its uint8 images."""
    return noise * (colour_planes(images, noise.device).to(torch.float64) / 255.0)


def numerator_terms(noise: torch.Tensor, images, estimator: str) -> torch.Tensor:
    """Per image, what the estimator sums over a source's images above the fraction bar."""
    return noise if estimator == "average" else weighted_noise(noise, images)


def denominator_terms(images, estimator: str, device="cpu") -> torch.Tensor:
    """Per image, what the estimator sums below the fraction bar: 1 (a count) or (s(I) m(I))^2."""
    if estimator == "average":
        return torch.ones(len(images), 1, 1, 1, dtype=torch.float64, device=device)
    return intensity_weights(images, device)


def class_sums(values: torch.Tensor, labels, n_classes: int) -> torch.Tensor:
    """n_classes x ..: the sum of the values of each class."""
    labels = torch.as_tensor(np.asarray(labels), device=values.device)
    return values.new_zeros(n_classes, *values.shape[1:]).index_add_(0, labels, values)


def fingerprints(numerator: torch.Tensor, denominator: torch.Tensor, estimator: str, chain: str) -> torch.Tensor:
    """n_classes fingerprints (the chain's patterns) from the class sums of `numerator_terms`
    and `denominator_terms`: the mean residual, or the port's extract_multiple_aligned."""
    estimate = numerator / denominator if estimator == "average" else numerator / (denominator + 1.0)
    return finish(estimate, chain).float()


def correlations(residuals: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Normalised correlation (the port's aligned_cc) of each residual (N x H x W) with each
    pattern (C x H x W)."""
    unit = lambda x: x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)  # noqa: E731
    return unit(residuals.flatten(1)) @ unit(patterns.flatten(1)).T
