import json
import warnings

import numpy as np
import pytest
import scipy.fft
import torch
from sklearn.neighbors import KNeighborsClassifier

from ganprint import GanprintError
from ganprint.baselines import dct, eigenface, inception, knn, prnu
from ganprint.baselines.evaluation import evaluate_baseline
from ganprint.baselines.inputs import validation_split
from ganprint.baselines.linear import LinearSettings, fit_logistic, predict_classes
from ganprint.cli import main
from ganprint.neighbours import nearest_neighbours
from ganprint.tables import write_table


def vectors_of(array):
    tensor = torch.as_tensor(array, dtype=torch.float32)
    return lambda positions: tensor[positions]


@pytest.mark.parametrize("query_chunk, reference_chunk", [(4096, 8192), (7, 13), (1, 200)])
def test_knn_matches_scikit_learn_brute_force(query_chunk, reference_chunk):
    rng = np.random.default_rng(0)
    references = rng.normal(size=(200, 24)).astype(np.float32)
    reference_labels = rng.integers(0, 4, size=200)
    queries = rng.normal(size=(60, 24)).astype(np.float32)
    for k in (1, 4, 7):
        expected = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(references, reference_labels)
        _, indices = nearest_neighbours(vectors_of(queries), 60, vectors_of(references), 200, k,
                                        query_chunk=query_chunk, reference_chunk=reference_chunk)
        neighbour_labels = torch.from_numpy(reference_labels)[indices]
        np.testing.assert_array_equal(knn.vote(neighbour_labels, k, 4), expected.predict(queries))


def test_nearest_neighbour_distances_are_exact_squared_distances():
    rng = np.random.default_rng(1)
    queries, references = rng.normal(size=(30, 10)), rng.normal(size=(50, 10))
    distances, indices = nearest_neighbours(vectors_of(queries), 30, vectors_of(references), 50, 3, 8, 16)
    brute = ((queries[:, None, :] - references[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(indices.numpy(), np.argsort(brute, axis=1)[:, :3])
    np.testing.assert_allclose(distances.numpy(), np.sort(brute, axis=1)[:, :3], rtol=1e-4, atol=1e-4)


def test_choose_k_takes_the_best_validation_accuracy():
    # each row: neighbours' labels nearest first; true label 0: k=1 right, k=3 wrong, k=5 right
    neighbours = torch.tensor([[0, 1, 1, 0, 0]] * 4)
    k, accuracy = knn.choose_k(neighbours, np.zeros(4, dtype=int), [1, 3, 5, 9], 2)
    assert accuracy == {1: 1.0, 3: 0.0, 5: 1.0}
    assert k == 1
    with pytest.raises(GanprintError, match="k_values"):
        knn.choose_k(neighbours, np.zeros(4, dtype=int), [9], 2)


def test_validation_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    fitting, held_out = validation_split(labels, 0.1, seed=3)
    assert np.bincount(labels[held_out]).tolist() == [5, 3, 2]
    assert not set(fitting) & set(held_out) and len(fitting) + len(held_out) == 100
    assert np.array_equal(held_out, validation_split(labels, 0.1, seed=3)[1])
    with pytest.raises(GanprintError, match="too few"):
        validation_split(np.repeat([0, 1], [50, 2]), 0.1, seed=0)


@pytest.mark.parametrize("n_rows, n_dims", [(300, 40), (30, 400)])
def test_pca_reconstructs_data_of_known_rank(n_rows, n_dims):
    rng = np.random.default_rng(2)
    rank = 5
    data = rng.normal(size=(n_rows, rank)) @ rng.normal(size=(rank, n_dims)) + rng.normal(size=n_dims)
    data = torch.as_tensor(data, dtype=torch.float32)
    pca = eigenface.fit_pca(data, max_components=50)
    assert len(pca.components) == rank
    np.testing.assert_allclose(pca.reconstruct(pca.project(data)), data, atol=1e-3)
    fewer = pca.reconstruct(pca.project(data, 2))
    assert (fewer - data).abs().max() > 0.1
    np.testing.assert_allclose(pca.components @ pca.components.T, torch.eye(rank), atol=1e-5)
    assert torch.all(pca.variances[:-1] >= pca.variances[1:])


def test_logistic_regression_separates_separable_classes_reproducibly():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=600)
    centres = rng.normal(scale=3.0, size=(3, 8))
    features = centres[labels] + rng.normal(size=(600, 8))
    settings = LinearSettings(epochs=10, batch_size=64, learning_rate=0.01)
    first = fit_logistic(vectors_of(features), labels, 3, settings, seed=0)
    second = fit_logistic(vectors_of(features), labels, 3, settings, seed=0)
    assert torch.equal(first.weight, second.weight)
    predicted = predict_classes(first, vectors_of(features), 600, chunk=100)
    assert np.mean(predicted == labels) > 0.95


def test_wavelet_denoiser_keeps_a_constant_image():
    constant = torch.full((2, 32, 32), 117.0, dtype=torch.float64)
    torch.testing.assert_close(prnu.wavelet_denoise(constant), constant, atol=1e-9, rtol=0)


def test_wavelet_denoiser_removes_most_white_noise_from_a_smooth_image():
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    smooth = 128 + 60 * np.sin(2 * np.pi * x) * np.cos(np.pi * y)
    noisy = smooth + rng.normal(scale=5.0, size=(4, 64, 64))
    error_before = np.sqrt(np.mean((noisy - smooth) ** 2))
    error_after = np.sqrt(np.mean((prnu.wavelet_denoise(torch.from_numpy(noisy), sigma=5.0).numpy() - smooth) ** 2))
    assert error_after < 0.5 * error_before


@pytest.mark.parametrize("size", [8, 32, 128])
def test_periodic_dwt_is_pywavelets_and_is_inverted(size):
    pywt = pytest.importorskip("pywt")
    planes = np.random.default_rng(size).normal(scale=40.0, size=(2, size, size))
    bands = prnu.dwt2(torch.from_numpy(planes)).numpy()
    approximation, (rows, columns, diagonal) = pywt.dwt2(planes, "db4", mode="periodization")
    half = size // 2
    packed = np.block([[approximation, columns], [rows, diagonal]])
    np.testing.assert_allclose(bands, packed, rtol=0, atol=1e-10 * np.abs(planes).max())
    np.testing.assert_allclose(prnu.idwt2(torch.from_numpy(bands)).numpy(), planes, rtol=0, atol=1e-10 * np.abs(planes).max())
    assert bands.shape[-1] == 2 * half


def test_prnu_attribution_is_perfect_on_sources_with_fixed_patterns():
    rng = np.random.default_rng(6)
    y, x = np.mgrid[0:32, 0:32] / 32.0
    patterns = rng.normal(scale=4.0, size=(3, 32, 32, 3))

    def images(n):
        labels = np.arange(n) % 3
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 1))
        clean = 120 + 50 * np.sin(2 * np.pi * x[None, :, :, None] + phase) * y[None, :, :, None]
        return np.clip(clean + patterns[labels], 0, 255).astype(np.uint8), labels

    train_images, train_labels = images(60)
    test_images, test_labels = images(30)
    noise = prnu.colour_noise(train_images, 5.0, 4)
    for estimator in prnu.ESTIMATORS:
        numerator = prnu.class_sums(prnu.numerator_terms(noise, train_images, estimator), train_labels, 3)
        denominator = prnu.class_sums(prnu.denominator_terms(train_images, estimator), train_labels, 3)
        fingerprints = prnu.fingerprints(numerator, denominator, estimator, "toolbox")
        assert fingerprints.shape == (3, 32, 32)
        np.testing.assert_allclose(fingerprints.mean(dim=(1, 2)), 0, atol=1e-4)
        scores = prnu.correlations(prnu.noise_residuals(test_images), fingerprints)
        np.testing.assert_array_equal(scores.argmax(1).numpy(), test_labels)


# The PRNU chain against independent references. The denoiser: polimi-ispl/prnu-python's
# noise_extract (the port of the Binghamton toolbox that ganprint.baselines.prnu follows)
# rewritten with PyWavelets and SciPy, with the port's published settings. The rest of the
# chain: the toolbox's formulas (Lukas, Fridrich, Goljan 2006; Chen et al. 2008) written
# pixel by pixel with numpy.

PORT_WAVELET, PORT_LEVELS, PORT_SIGMA, PORT_WINDOWS = "db4", 4, 5.0, (3, 5, 7, 9)
TOOLBOX_GREY_WEIGHTS = (0.29893602, 0.58704307, 0.11402090)


def port_wavelet_noise(plane, sigma=PORT_SIGMA, levels=PORT_LEVELS, mode="symmetric"):
    """The port's noise_extract on one plane: the detail coefficients of a `levels`-level db4
    decomposition replaced by what adaptive Wiener filtering removes from them, the
    approximation zeroed, transformed back. The port uses PyWavelets' default extension,
    'symmetric'; 'periodization' is the periodic transform ganprint documents."""
    import pywt
    from scipy import ndimage

    def removed(band):
        local = np.min([ndimage.uniform_filter(band**2, width, mode="constant") for width in PORT_WINDOWS], axis=0)
        return band * sigma**2 / (np.maximum(local - sigma**2, 0) + sigma**2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyWavelets warns where levels leave no boundary-free coefficient
        coefficients = pywt.wavedec2(plane, PORT_WAVELET, mode=mode, level=levels)
    noise = [np.zeros_like(coefficients[0])] + [tuple(removed(band) for band in bands) for bands in coefficients[1:]]
    return pywt.waverec2(noise, PORT_WAVELET, mode=mode)[: plane.shape[0], : plane.shape[1]]


def textured_planes(seed, count, size):
    """Smooth shading plus mild noise, rounded to whole grey levels: local variances near sigma^2."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    phases = rng.uniform(0, 2 * np.pi, size=(count, 1, 1))
    return np.clip(120 + 60 * np.sin(2 * np.pi * x + phases) * y + rng.normal(0, 6, (count, size, size)), 0, 255).round()


def test_wavelet_noise_is_the_ports_denoiser_with_a_periodic_transform():
    planes = textured_planes(0, 3, 128)
    expected = np.stack([port_wavelet_noise(plane, mode="periodization") for plane in planes])
    result = prnu.wavelet_noise(torch.from_numpy(planes), PORT_SIGMA, PORT_LEVELS).numpy()
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("size", [16, 32, 64])
def test_below_128_pixels_the_levels_stop_where_pywavelets_runs_out_of_inner_coefficients(size):
    """ganprint caps the levels at pywt.dwt_max_level (the port would run all 4, with warnings)."""
    pywt = pytest.importorskip("pywt")
    planes = textured_planes(size, 2, size)
    levels = pywt.dwt_max_level(size, 8)  # db4: 8 taps
    assert levels < PORT_LEVELS
    expected = np.stack([port_wavelet_noise(plane, levels=levels, mode="periodization") for plane in planes])
    result = prnu.wavelet_noise(torch.from_numpy(planes), PORT_SIGMA, PORT_LEVELS).numpy()
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_wavelet_noise_is_close_to_the_ports_with_its_own_symmetric_extension():
    """The port's boundary extension samples the coefficients at the other phase; the residuals
    still agree closely at the paper's 128x128 (measured: correlation 0.957-0.961; a sigma of 3,
    two levels, a single 3x3 window or the Haar wavelet bring it to 0.91-0.945)."""
    planes = textured_planes(0, 3, 128)
    result = prnu.wavelet_noise(torch.from_numpy(planes), PORT_SIGMA, PORT_LEVELS).numpy()
    for plane, ours in zip(planes, result):
        assert np.corrcoef(port_wavelet_noise(plane).ravel(), ours.ravel())[0, 1] > 0.95


def wave_noise_by_pixels(values, noise_variance):
    """The toolbox's WaveNoise pixel by pixel: v * s^2 / (local + s^2), local the smallest over
    the 3, 5, 7 and 9-wide windows (zero outside) of max(0, mean square - s^2)."""
    reach = max(PORT_WINDOWS) // 2
    padded = np.pad(values**2, reach)
    result = np.empty_like(values)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            windows = [padded[i + reach - w // 2 : i + reach + w // 2 + 1, j + reach - w // 2 : j + reach + w // 2 + 1]
                       for w in PORT_WINDOWS]
            local = min(max(window.mean() - noise_variance, 0.0) for window in windows)
            result[i, j] = values[i, j] * noise_variance / (local + noise_variance)
    return result


def wiener_dft_by_formula(pattern):
    """The toolbox's WienerInDFT with the pattern's own standard deviation (ddof 1): the DFT
    magnitudes / sqrt(HW) Wiener filtered, each coefficient scaled by kept / magnitude (0 where
    the magnitude is 0)."""
    spectrum = np.fft.fft2(pattern)
    magnitude = np.abs(spectrum) / np.sqrt(pattern.size)
    kept = wave_noise_by_pixels(magnitude, pattern.std(ddof=1) ** 2)
    gain = np.divide(kept, magnitude, out=np.zeros_like(kept), where=magnitude != 0)
    return np.fft.ifft2(spectrum * gain).real


def zero_mean_total_by_formula(pattern):
    """The toolbox's ZeroMeanTotal: on each 2x2 sub-lattice, the mean, then the row and the
    column means removed."""
    result = np.array(pattern, dtype=np.float64)
    for row in (0, 1):
        for column in (0, 1):
            lattice = result[row::2, column::2] - result[row::2, column::2].mean()
            lattice = lattice - lattice.mean(axis=1, keepdims=True)
            result[row::2, column::2] = lattice - lattice.mean(axis=0, keepdims=True)
    return result


def grey_by_formula(planes):
    return sum(weight * plane for weight, plane in zip(TOOLBOX_GREY_WEIGHTS, planes))


def colour_noise_by_port(image, levels):
    return [port_wavelet_noise(plane, levels=levels, mode="periodization") for plane in np.moveaxis(image, -1, 0).astype(float)]


def residual_by_formula(image, levels):
    """The port's extract_single: grey noise, sub-lattice zero-mean, Wiener filtered in the DFT."""
    return wiener_dft_by_formula(zero_mean_total_by_formula(grey_by_formula(colour_noise_by_port(image, levels))))


def intensity_scale_by_formula(plane):
    """The toolbox's IntenScale: I / 252 below 252, exp(-(I - 252)^2 / 6) from 252 on."""
    return np.array([[value / 252 if value < 252 else np.exp(-((value - 252.0) ** 2) / 6) for value in row] for row in plane])


def saturation_by_pixels(plane):
    """The saturation mask as ganprint documents it, per plane: False where the plane's maximum
    exceeds 250, the pixel holds it and one of its four cyclic neighbours holds it too."""
    height, width = plane.shape
    top = int(plane.max())
    mask = np.ones(plane.shape, dtype=bool)
    for i in range(height):
        for j in range(width):
            neighbours = [plane[(i - 1) % height, j], plane[(i + 1) % height, j], plane[i, (j - 1) % width],
                          plane[i, (j + 1) % width]]
            mask[i, j] = not (top > 250 and plane[i, j] == top and top in neighbours)
    return mask


def fingerprint_by_formula(images, levels, masked=True):
    """The port's extract_multiple_aligned: per plane sum(W I/255) / (sum (s(I) m(I))^2 + 1),
    then grey, sub-lattice zero-mean and the DFT Wiener filter."""
    numerator, denominator = 0.0, 0.0
    for image in images:
        planes = np.moveaxis(image, -1, 0)
        noise = colour_noise_by_port(image, levels)
        numerator = numerator + np.stack([w * plane / 255.0 for w, plane in zip(noise, planes)])
        mask = [saturation_by_pixels(plane) if masked else 1.0 for plane in planes]
        denominator = denominator + np.stack([(intensity_scale_by_formula(plane) * m) ** 2 for plane, m in zip(planes, mask)])
    return wiener_dft_by_formula(zero_mean_total_by_formula(grey_by_formula(numerator / (denominator + 1))))


def average_fingerprint_by_formula(images, levels):
    """Marra et al.'s fingerprint: the mean of the sources' colour residuals, then grey,
    sub-lattice zero-mean and the DFT Wiener filter of the toolbox's chain."""
    mean = sum(np.stack(colour_noise_by_port(image, levels)) for image in images) / len(images)
    return wiener_dft_by_formula(zero_mean_total_by_formula(grey_by_formula(mean)))


def saturated_images():
    """Six 32x32 images in 90-235 with saturated pixels of every kind the mask tells apart."""
    rng = np.random.default_rng(11)
    images = np.stack([np.moveaxis(textured_planes(seed, 3, 32), 0, -1) for seed in range(6)]).clip(90, 235)
    images = images.astype(np.uint8)
    images[0, 4:7, 9:12, 0] = 255                 # a flat saturated block: masked
    images[1, 20, 3, 1] = 255                     # a lone saturated pixel: counted
    images[1, 10:12, 30, 2] = 251                 # a flat block just above 250: masked
    images[2, 5:7, 5:7, 2] = 250                  # a flat block at 250: counted
    images[3, 0, 17, 0] = images[3, 31, 17, 0] = 254  # neighbours across the border (cyclic): masked
    images[3, 12, 12, 0] = 254                    # the same maximum alone: counted
    images[4, 8:10, 8:10, 1] = 252                # flat at 252 below the plane's lone 255: counted
    images[4, 25, 25, 1] = 255
    images[5] = np.clip(images[5].astype(int) + rng.integers(0, 3, images[5].shape), 0, 255)
    return images


def test_intensity_weights_are_the_toolbox_scale_and_saturation_mask_pixel_by_pixel():
    images = saturated_images()
    expected = np.stack([[(intensity_scale_by_formula(plane) * saturation_by_pixels(plane)) ** 2
                          for plane in np.moveaxis(image, -1, 0)] for image in images])
    np.testing.assert_allclose(prnu.intensity_weights(images).numpy(), expected, rtol=1e-12, atol=0)
    masked = np.stack([[~saturation_by_pixels(plane) for plane in np.moveaxis(image, -1, 0)] for image in images])
    assert masked.sum(axis=(2, 3)).tolist() == [[9, 0, 0], [0, 0, 2], [0, 0, 0], [2, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_wiener_dft_is_the_toolbox_formula():
    rng = np.random.default_rng(2)
    checkerboard = np.indices((8, 8)).sum(0) % 2 * 2.0 - 1  # one non-zero DFT coefficient
    for pattern in (rng.normal(size=(8, 8)), zero_mean_total_by_formula(rng.normal(size=(16, 12))), checkerboard):
        expected = wiener_dft_by_formula(pattern)
        np.testing.assert_allclose(prnu.wiener_dft(torch.from_numpy(pattern[None]))[0].numpy(), expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max())


def test_residuals_are_the_ports_extract_single():
    images = saturated_images()[:3]
    expected = np.stack([residual_by_formula(image, levels=2) for image in images])
    result = prnu.noise_residuals(images, PORT_SIGMA, 2).numpy()
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_fingerprints_are_the_ports_intensity_weighted_estimate_with_saturated_pixels_left_out():
    images = saturated_images()
    labels = np.array([0, 1, 0, 1, 1, 0])
    noise = prnu.colour_noise(images, PORT_SIGMA, 2)
    sums = prnu.class_sums(prnu.numerator_terms(noise, images, "weighted"), labels, 2)
    weights = prnu.class_sums(prnu.denominator_terms(images, "weighted"), labels, 2)
    result = prnu.fingerprints(sums, weights, "weighted", "toolbox").numpy()
    for label in (0, 1):
        expected = fingerprint_by_formula(images[labels == label], levels=2)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(result[label], expected, rtol=0, atol=1e-5 * scale)
        unmasked = fingerprint_by_formula(images[labels == label], levels=2, masked=False)
        assert np.abs(unmasked - expected).max() > 1e-3 * scale  # the mask matters at this tolerance


# The PRNU chain against the tool chain's equations, written out pixel by pixel.

def test_adaptive_wiener_uses_the_smallest_zero_padded_local_variance():
    rng = np.random.default_rng(0)
    values, noise_variance = rng.normal(scale=3.0, size=(9, 11)), 4.0
    padded = np.pad(values**2, 4)
    expected = np.empty_like(values)
    for i in range(9):
        for j in range(11):
            local = min(padded[i + 4 - w // 2 : i + 5 + w // 2, j + 4 - w // 2 : j + 5 + w // 2].sum() / w**2 for w in (3, 5, 7, 9))
            expected[i, j] = values[i, j] * noise_variance / (max(local - noise_variance, 0) + noise_variance)
    np.testing.assert_allclose(prnu.wiener_noise(torch.from_numpy(values), noise_variance).numpy(), expected, rtol=1e-12)


def test_zero_mean_total_zeroes_every_row_and_column_of_every_sub_lattice():
    rng = np.random.default_rng(1)
    pattern = rng.normal(size=(2, 8, 10)) + np.arange(10)
    result = prnu.zero_mean_total(torch.from_numpy(pattern)).numpy()
    for row in (0, 1):
        for column in (0, 1):
            lattice = result[:, row::2, column::2]
            np.testing.assert_allclose(lattice.mean(axis=1), 0, atol=1e-12)
            np.testing.assert_allclose(lattice.mean(axis=2), 0, atol=1e-12)
    # what is removed is a sum of row and column terms per sub-lattice: the second difference vanishes
    removed = (pattern - result)[0, 0::2, 0::2]
    np.testing.assert_allclose(removed[1:, 1:] - removed[:-1, 1:] - removed[1:, :-1] + removed[:-1, :-1], 0, atol=1e-12)


def test_intensity_scale_and_saturation_mask():
    scale = prnu.intensity_scale(torch.tensor([126, 252, 255], dtype=torch.uint8))
    assert scale.tolist() == pytest.approx([0.5, 1.0, np.exp(-1.5)])
    dark = torch.full((1, 3, 4, 4), 100, dtype=torch.uint8)
    assert prnu.saturation(dark).all()  # no pixel near saturation: every pixel counts
    image = torch.arange(48, dtype=torch.uint8).reshape(1, 3, 4, 4) * 5  # distinct values, maximum 235
    image[0, 0, :2, :2] = 255  # a saturated 2x2 block in the first plane
    mask = prnu.saturation(image)
    assert not mask[0, 0, :2, :2].any() and mask[0, 0].sum() == 12  # the saturated block alone is out
    assert mask[0, 1:].all()  # planes below 250 count whole
    lone = dark.clone()
    lone[0, 2, 1, 1] = 255  # a single saturated pixel has no equal neighbour: it counts
    assert prnu.saturation(lone).all()


def test_correlation_is_the_normalised_inner_product():
    residuals, patterns = torch.randn(4, 5, 5), torch.randn(3, 5, 5)
    expected = torch.stack([torch.stack([(r * p).sum() / (r.norm() * p.norm()) for p in patterns]) for r in residuals])
    assert torch.allclose(prnu.correlations(residuals, patterns), expected, atol=1e-6)


def test_dct_matches_scipy_and_a_cosine_peaks_at_its_coefficient():
    planes = torch.rand(2, 3, 16, 16, dtype=torch.float32)
    expected = scipy.fft.dctn(planes.numpy(), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(dct.dct2(planes).numpy(), expected, atol=1e-5)
    position = np.arange(16) + 0.5
    cosine = np.cos(np.pi * 3 * position / 16)[:, None] * np.cos(np.pi * 5 * position / 16)[None, :]
    image = np.repeat((128 + 100 * cosine)[None, :, :, None], 3, axis=3).round().astype(np.uint8)
    spectrum = dct.log_dct_spectra(image, "cpu").reshape(3, 16, 16)
    ac = spectrum.clone()
    ac[:, 0, 0] = -np.inf
    assert np.unravel_index(int(ac[0].argmax()), (16, 16)) == (3, 5)


def test_inception_features_of_a_random_network_and_configured_weights(tmp_path):
    network = inception.fid_inception(None)  # randomly initialised: same architecture, no pretrained weights
    weights = tmp_path / "inception.pth"
    torch.save(network.state_dict(), weights)
    assert inception.locate_weights(str(weights)) == weights
    loaded = inception.fid_inception(weights)
    images = np.random.default_rng(7).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    features = inception.pool3_features(loaded, images, "cpu")
    assert features.shape == (2, 2048)
    assert torch.equal(features, inception.pool3_features(network, images, "cpu"))
    with pytest.raises(GanprintError, match="does not exist"):
        inception.locate_weights(str(tmp_path / "absent.pth"))


@pytest.fixture
def three_sources(tmp_path):
    """Three 16x16 sources told apart by a fixed pattern each, 60 train and 20 test images."""
    rng = np.random.default_rng(8)
    patterns = rng.normal(scale=8.0, size=(3, 16, 16, 3))
    paths = {"train": [], "test": []}
    for label in range(3):
        for split, count in (("train", 60), ("test", 20)):
            base = rng.uniform(115, 135, size=(count, 1, 1, 3)) + rng.normal(scale=3.0, size=(count, 16, 16, 3))
            path = tmp_path / f"{split}{label}.npy"
            np.save(path, np.clip(base + patterns[label], 0, 255).astype(np.uint8))
            paths[split].append(str(path))
    return paths


SMALL_SETTINGS = {"knn": {"k_values": [1, 3]}, "eigenface": {"n_components": [4, 8], "linear": {"epochs": 5}},
                  "prnu": {}, "dct": {"linear": {"epochs": 5}}}


@pytest.mark.parametrize("method", SMALL_SETTINGS)
def test_each_baseline_writes_metrics_of_the_table_form(tmp_path, three_sources, method):
    settings = SMALL_SETTINGS[method]
    output = tmp_path / f"{method}.json"
    code = main(["--quiet", "baseline", "--method", method, "--train", *three_sources["train"], "--test",
                 *three_sources["test"], "--sources", "a", "b", "c", "--settings", json.dumps(settings),
                 "--label", "dataset=tiny", "--metrics", str(output)])
    assert code == 0
    metrics = json.loads(output.read_text())
    assert metrics["method"] == method and metrics["n_test"] == 60 and metrics["n_classes"] == 3
    assert metrics["accuracy"] > 60.0  # chance is 33%
    assert set(metrics["per_class_accuracy"]) == {"a", "b", "c"}
    assert (metrics["fd_ratio"] is not None) == (method == "eigenface")
    table = write_table([str(output)], str(tmp_path / "table.csv"), per_class=True)
    assert table.method.tolist() == [method]


def test_missing_inception_weights_leave_the_fd_ratio_not_computed(tmp_path, three_sources, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    output = tmp_path / "inception.json"
    metrics = evaluate_baseline("inception", [], three_sources["test"], ["a", "b", "c"], {}, str(output),
                                {"dataset": "tiny"})
    assert metrics["fd_ratio"] is None and metrics["accuracy"] is None
    assert "not computed" in metrics["note"] and "pt_inception-2015-12-05" in metrics["note"]
    table = write_table([str(output)], str(tmp_path / "table.csv"))
    assert np.isnan(table.fd_ratio[0]) and "not computed" in table.note[0]


def test_bad_baseline_input_is_named(tmp_path, three_sources):
    output = tmp_path / "m.json"
    with pytest.raises(GanprintError, match="unknown baseline 'svm'"):
        evaluate_baseline("svm", three_sources["train"], three_sources["test"], ["a", "b", "c"], {}, str(output), {})
    with pytest.raises(GanprintError, match="unknown baseline settings"):
        evaluate_baseline("knn", three_sources["train"], three_sources["test"], ["a", "b", "c"], {"kk": 1},
                          str(output), {})
    with pytest.raises(GanprintError, match="2 sources"):
        evaluate_baseline("knn", three_sources["train"], three_sources["test"], ["a", "b"], {}, str(output), {})
    assert not output.exists()


def test_average_fingerprints_are_the_mean_residual_of_each_source():
    images = saturated_images()
    labels = np.array([0, 1, 0, 1, 1, 0])
    noise = prnu.colour_noise(images, PORT_SIGMA, 2)
    sums = prnu.class_sums(prnu.numerator_terms(noise, images, "average"), labels, 2)
    counts = prnu.class_sums(prnu.denominator_terms(images, "average"), labels, 2)
    result = prnu.fingerprints(sums, counts, "average", "toolbox").numpy()
    for label in (0, 1):
        expected = average_fingerprint_by_formula(images[labels == label], levels=2)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(result[label], expected, rtol=0, atol=1e-5 * scale)
        weighted = fingerprint_by_formula(images[labels == label], levels=2)
        assert np.abs(weighted / np.abs(weighted).max() - expected / scale).max() > 1e-3  # the estimators differ


def test_the_marra_chain_correlates_the_mean_colour_residual_as_it_is():
    """`chain: marra`: a source's fingerprint is the mean of its training images' colour
    residuals and a test image's score the normalised correlation of its colour residual with
    it, with no grey, zero-mean or DFT Wiener step; the toolbox chain scores the same images
    otherwise."""
    images, labels = saturated_images(), np.array([0, 1, 0, 1, 1, 0])
    test = np.stack([np.moveaxis(textured_planes(seed, 3, 32), 0, -1) for seed in (6, 7, 8)]).astype(np.uint8)
    sums = prnu.class_sums(prnu.numerator_terms(prnu.colour_noise(images, PORT_SIGMA, 2), images, "average"), labels, 2)
    counts = prnu.class_sums(prnu.denominator_terms(images, "average"), labels, 2)
    test_noise = prnu.colour_noise(test, PORT_SIGMA, 2)
    patterns = {chain: prnu.fingerprints(sums, counts, "average", chain) for chain in prnu.CHAINS}
    scores = {chain: prnu.correlations(prnu.residuals_of_noise(test_noise, chain), patterns[chain]).numpy()
              for chain in prnu.CHAINS}
    means = np.stack([np.mean([colour_noise_by_port(image, 2) for image in images[labels == label]], axis=0)
                      for label in (0, 1)])
    np.testing.assert_allclose(patterns["marra"].numpy(), means, rtol=0, atol=1e-6 * np.abs(means).max())
    residuals = [np.stack(colour_noise_by_port(image, 2)) for image in test]
    expected = [[(r * f).sum() / np.sqrt((r * r).sum() * (f * f).sum()) for f in means] for r in residuals]
    np.testing.assert_allclose(scores["marra"], expected, rtol=0, atol=1e-6)
    assert np.abs(scores["marra"] - scores["toolbox"]).min() > 1e-3  # the chains differ on every score
