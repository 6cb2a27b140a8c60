"""Running one baseline on an experiment's train and test images and writing its metrics.

The metrics file has the form of the attribution network's (`method` is one of
names.METHODS), plus `hyperparameters` (what was chosen on validation data) and a
`note` where something was not computed. Each method gives a score per test image and
source (logits, neighbour votes, correlations); on native-resolution sources it is fitted
on, and scores, every patch of the grid, and an image's scores are its patches' mean.
"""

import dataclasses
import logging
from collections.abc import Callable

import numpy as np
import torch

from .. import runtime
from ..errors import GanprintError
from ..attribution.data import PatchGrid, read_as
from ..metrics import classification_metrics, fd_ratio_entries, per_class_count
from ..patches import Preprocessing, mean_by_image
from ..names import BASELINE_SHARED_SETTINGS, METHODS, WITHOUT_TRAINING
from ..settings import block_defaults, schema_default
from ..storage import save_json
from . import dct, eigenface, knn
from .inputs import chunked, pixel_vectors, row_vectors, stacked, validation_split
from .linear import LinearSettings, fit_logistic, predict_logits

log = logging.getLogger(__name__)


def all_rows(data: PatchGrid) -> np.ndarray:
    return np.arange(len(data))


@dataclasses.dataclass
class Fitted:
    """A method fitted on training images: `attribute` gives its entries for a set of test
    images (`scores`: one per row and source; `features`: what its FD ratio measures)."""

    attribute: Callable[[PatchGrid], dict]
    hyperparameters: str = ""
    note: str = ""
    resolution: int | None = None  # of the training images' rows


def fit_knn(train: PatchGrid, settings: dict, seed: int, device) -> Fitted:
    fitting, held_out = validation_split(train.labels, settings["validation_fraction"], seed)
    n_classes = len(train.arrays)
    validation = knn.neighbour_labels(
        row_vectors(train, held_out, pixel_vectors, device), len(held_out),
        row_vectors(train, fitting, pixel_vectors, device), train.labels[fitting], max(settings["k_values"]))
    k, accuracies = knn.choose_k(validation, train.labels[held_out], settings["k_values"], n_classes)
    log.info("kNN validation accuracy by k: %s; k = %d", accuracies, k)

    def attribute(test):
        neighbours = knn.neighbour_labels(
            row_vectors(test, all_rows(test), pixel_vectors, device), len(test),
            row_vectors(train, all_rows(train), pixel_vectors, device), train.labels, k)
        return {"scores": knn.vote_counts(neighbours, k, n_classes)}

    return Fitted(attribute, f"k={k}")


def fit_eigenface(train: PatchGrid, settings: dict, seed: int, device) -> Fitted:
    fitting, held_out = validation_split(train.labels, settings["validation_fraction"], seed)
    candidates = sorted(settings["n_components"])
    pca_rows = np.sort(np.random.default_rng(seed).permutation(fitting)[: settings["fit_images"]])
    pca = eigenface.fit_pca(pixel_vectors(train.gather(pca_rows)[0], device), max(candidates))

    def coordinates(data):
        return stacked(row_vectors(data, all_rows(data), lambda im, dev: pca.project(pixel_vectors(im, dev)), device),
                       len(data))

    train_coordinates, n_classes = coordinates(train), len(train.arrays)
    linear = LinearSettings(**settings["linear"])

    def classifier(rows, n):
        return fit_logistic(lambda p: train_coordinates[rows[p], :n], train.labels[rows], n_classes, linear, seed)

    def logits(fitted, n, queries):
        return predict_logits(fitted, lambda p: queries[p, :n], len(queries))

    usable = [n for n in candidates if n <= len(pca.components)] or [len(pca.components)]
    validation = {n: float(np.mean(logits(classifier(fitting, n), n, train_coordinates[held_out]).argmax(1)
                                   == train.labels[held_out])) for n in usable}
    n = max(usable, key=lambda c: (validation[c], -c))
    log.info("Eigenface validation accuracy by number of components: %s; %d components", validation, n)
    final = classifier(all_rows(train), n)

    def attribute(test):
        test_coordinates = coordinates(test)[:, :n]
        return {"scores": logits(final, n, test_coordinates), "features": test_coordinates.cpu().numpy()}

    return Fitted(attribute, f"n_components={n}")


def fit_dct(train: PatchGrid, settings: dict, seed: int, device) -> Fitted:
    classifier = fit_logistic(row_vectors(train, all_rows(train), dct.log_dct_spectra, device), train.labels,
                              len(train.arrays), LinearSettings(**settings["linear"]), seed)

    def attribute(test):
        test_spectra = row_vectors(test, all_rows(test), dct.log_dct_spectra, device)
        return {"scores": predict_logits(classifier, test_spectra, len(test))}

    return Fitted(attribute)


def fit_prnu(train: PatchGrid, settings: dict, seed: int, device) -> Fitted:
    """Fingerprints from the fitting rows for each candidate sigma, scored on the held-out
    rows; the chosen sigma's fingerprints then take every training image (the sums add up).
    The whole chain runs on `device`."""
    from . import prnu  # PyWavelets' import: a fifth of a second that only PRNU needs

    fitting, held_out = validation_split(train.labels, settings["validation_fraction"], seed)
    levels, estimator, chain = settings["levels"], settings["estimator"], settings["chain"]
    n_classes = len(train.arrays)

    def chunks(rows):
        return (train.gather(rows[positions]) for positions in chunked(len(rows), 1024))

    def total(rows, terms):
        return sum(prnu.class_sums(terms(images), labels, n_classes) for images, labels in chunks(rows))

    def noise_terms(sigma):
        return lambda images: prnu.numerator_terms(prnu.colour_noise(images, sigma, levels, device), images, estimator)

    def weight_terms(images):
        return prnu.denominator_terms(images, estimator, device)

    fitting_denominator = total(fitting, weight_terms)
    denominator = fitting_denominator + total(held_out, weight_terms)
    numerators, validation = {}, {}
    for sigma in settings["sigmas"]:
        numerator = total(fitting, noise_terms(sigma))
        patterns = prnu.fingerprints(numerator, fitting_denominator, estimator, chain)
        correct = 0
        for images, labels in chunks(held_out):
            noise = prnu.colour_noise(images, sigma, levels, device)
            numerator = numerator + prnu.class_sums(prnu.numerator_terms(noise, images, estimator), labels, n_classes)
            predicted = prnu.correlations(prnu.residuals_of_noise(noise, chain), patterns).argmax(1)
            correct += int((predicted.cpu().numpy() == labels).sum())
        numerators[sigma], validation[sigma] = numerator, correct / len(held_out)
    sigma = max(validation, key=lambda s: (validation[s], -s))
    log.info("PRNU validation accuracy by sigma: %s; sigma = %s", validation, sigma)
    patterns = prnu.fingerprints(numerators[sigma], denominator, estimator, chain)

    def residuals(images, device):
        return prnu.residuals_of_noise(prnu.colour_noise(images, sigma, levels, device), chain)

    def attribute(test):
        test_residuals = row_vectors(test, all_rows(test), residuals, device)
        scores = [prnu.correlations(test_residuals(p), patterns) for p in chunked(len(test), 1024)]
        return {"scores": torch.cat(scores).cpu().numpy()}

    return Fitted(attribute, f"sigma={sigma} levels={levels} estimator={estimator}")


def fit_inception(train: None, settings: dict, seed: int, device) -> Fitted:
    """Nothing to fit: the FID Inception network's features of the test images."""
    from . import inception  # torchvision's import alone takes seconds

    weights = inception.locate_weights(settings["weights"])
    if weights is None:
        note = f"FD ratio not computed: FID Inception weights not found; {inception.how_to_get_weights()}"
        log.warning(note)
        return Fitted(lambda test: {}, note=note)
    network = inception.fid_inception(weights).to(device)

    def attribute(test):
        features = stacked(lambda p: inception.pool3_features(network, test.gather(p)[0], device).cpu(), len(test), 64)
        return {"features": features.numpy()}

    return Fitted(attribute)


FITTERS = {"knn": fit_knn, "eigenface": fit_eigenface, "prnu": fit_prnu, "dct": fit_dct, "inception": fit_inception}
assert set(FITTERS) == set(METHODS)


def default_settings() -> dict:
    """What a method's settings hold when not given: its block of the schema's `baselines`,
    and the blocks the methods share (the validation fraction, the linear classifier)."""
    baselines = block_defaults("baselines")
    merged = {key: baselines[key] for keys in BASELINE_SHARED_SETTINGS.values() for key in keys}
    for method in METHODS:
        merged.update(baselines.get(method, {}))
    return merged


def fit_baseline(method: str, train_paths: list[str], n_sources: int, settings: dict, seed: int, device,
                 preprocessing: Preprocessing | None = None) -> Fitted:
    """`method` fitted on the training images (one array per source), its settings checked."""
    if method not in FITTERS:
        raise GanprintError(f"unknown baseline '{method}'; known: {list(METHODS)}")
    if method not in WITHOUT_TRAINING and len(train_paths) != n_sources:
        raise GanprintError(f"{n_sources} sources but {len(train_paths)} train sets")
    defaults = default_settings()
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise GanprintError(f"unknown baseline settings {unknown}; known: {sorted(defaults)}")
    train = baseline_images(train_paths, preprocessing) if method not in WITHOUT_TRAINING else None
    fitted = FITTERS[method](train, {**defaults, **settings}, seed, device)
    return dataclasses.replace(fitted, resolution=train.resolution if train is not None else None)


def baseline_metrics(method: str, fitted: Fitted, test: PatchGrid, sources: list[str], labels: dict,
                     seed: int) -> dict:
    """The metrics of a fitted method on test images (rows: images, or their patches)."""
    if fitted.resolution not in (None, test.resolution):
        raise GanprintError(f"train images are {fitted.resolution}px, test images {test.resolution}px")
    result = fitted.attribute(test)
    images = test.data
    metrics = {**labels, "method": method, "sources": list(sources), "accuracy": None, "balanced_accuracy": None,
               "fd_ratio": None, "n_classes": len(sources), "n_test_per_class": per_class_count(images.counts),
               "n_test": len(images), "per_class_accuracy": {}, "hyperparameters": fitted.hyperparameters,
               "note": fitted.note}
    if "scores" in result:
        scores = by_image(result["scores"], test)
        metrics.update(classification_metrics(images.labels, scores.argmax(1), list(sources), scores))
    if "features" in result:
        metrics.update(fd_ratio_entries(by_image(result["features"], test), images.labels, seed))
    return metrics


def evaluate_baseline(method: str, train_paths: list[str], test_paths: list[str], sources: list[str],
                      settings: dict, metrics_output: str, labels: dict, threads: int = 1,
                      seed: int = schema_default("baselines", "seed"), preprocessing: Preprocessing | None = None) -> dict:
    """Fit `method` on the training images, attribute the test images, write the metrics;
    with a native `preprocessing`, on the grid of patches of every image."""
    if len(test_paths) != len(sources):
        raise GanprintError(f"{len(sources)} sources but {len(train_paths)} train and {len(test_paths)} test sets")
    device = runtime.configure(threads, seed)
    fitted = fit_baseline(method, train_paths, len(sources), settings, seed, device, preprocessing)
    metrics = baseline_metrics(method, fitted, baseline_images(test_paths, preprocessing), sources, labels, seed)
    save_json(metrics_output, metrics)
    log.info("%s: accuracy %s, FD ratio %s", method, metrics["accuracy"], metrics["fd_ratio"])
    return metrics


def baseline_images(paths: list[str], preprocessing: Preprocessing | None) -> PatchGrid:
    """The arrays as rows a method reads: each image, or each patch of its grid (native crops)."""
    native = preprocessing is not None and preprocessing.native
    return PatchGrid(read_as(paths, preprocessing), preprocessing.grid if native else 1)


def by_image(values: np.ndarray, rows: PatchGrid) -> np.ndarray:
    """Per-row values as per-image ones: the mean over each image's patches."""
    values = np.asarray(values)
    if len(rows) == len(rows.data):
        return values
    return mean_by_image(values, rows.image_rows, len(rows.data))
