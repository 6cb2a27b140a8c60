"""Accuracy, confusion and the Frechet-distance ratio of PAPER.md."""

import itertools

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def accuracy_percent(confusion: np.ndarray) -> float:
    return float(100.0 * np.trace(confusion) / confusion.sum())


def per_class_accuracy_percent(confusion: np.ndarray) -> np.ndarray:
    return 100.0 * np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples).

    tr(sqrt(S1 S2)) is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix sqrt(S1) S2 sqrt(S1), which has the same spectrum. Numerical guard:
    eigenvalues that round-off makes slightly negative (covariances of few samples are
    rank-deficient) are clipped to zero, so the result is always real.
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    cov_first = np.atleast_2d(np.cov(first, rowvar=False))
    cov_second = np.atleast_2d(np.cov(second, rowvar=False))
    root_first = _psd_sqrt(cov_first)
    cross = np.linalg.eigvalsh(root_first @ cov_second @ root_first)
    trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
    return float(mean_gap @ mean_gap + np.trace(cov_first) + np.trace(cov_second) - 2.0 * trace_root)


def fd_ratio(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Mean Frechet distance between sources over mean distance between two random
    disjoint halves of the same source. Larger means sources are more separable."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    groups = {c: features[labels == c] for c in classes}
    between = [frechet_distance(groups[a], groups[b]) for a, b in itertools.combinations(classes, 2)]
    within = []
    for group in groups.values():
        order = rng.permutation(len(group))
        half = len(group) // 2
        within.append(frechet_distance(group[order[:half]], group[order[half : 2 * half]]))
    return float(np.mean(between) / max(np.mean(within), 1e-12))
