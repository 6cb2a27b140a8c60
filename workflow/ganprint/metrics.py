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


def per_class_count(counts) -> int | str:
    """The number of test images of each class: one count where all classes have it, else
    one count per class in the order of the sources, space-separated (as the `sources` cell)."""
    counts = [int(count) for count in counts]
    return counts[0] if len(set(counts)) == 1 else " ".join(map(str, counts))


def classification_metrics(labels: np.ndarray, predictions: np.ndarray, sources: list[str]) -> dict:
    """The accuracy entries of a metrics file, for predictions over the given sources."""
    confusion = confusion_matrix(labels, predictions, len(sources))
    counts = confusion.sum(axis=1)
    per_class = per_class_accuracy_percent(confusion)
    return {
        "sources": list(sources),
        "accuracy": accuracy_percent(confusion),
        "balanced_accuracy": float(per_class.mean()),
        "per_class_accuracy": dict(zip(sources, per_class.tolist())),
        "confusion": confusion.tolist(),
        "n_classes": len(sources),
        "n_test_per_class": per_class_count(counts),
        "n_test": int(counts.sum()),
    }


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


def fd_ratio_entries(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """The FD ratio of a metrics file, with the fewest images per half it needs.

    A Gaussian fitted to fewer samples than the features have dimensions has a singular
    covariance, and the Frechet distances are then dominated by estimation error: below
    that many images per half, `fd_ratio` is left empty and `fd_ratio_note` says why.
    """
    needed = int(features.shape[1])
    smallest_half = int(np.bincount(labels).min() // 2) if len(labels) else 0
    entries = {"fd_ratio": None, "fd_ratio_min_per_half": needed, "fd_ratio_note": ""}
    if smallest_half < needed:
        entries["fd_ratio_note"] = (f"not computed: {smallest_half} images per half, fewer than the "
                                    f"{needed} feature dimensions it needs")
    else:
        entries["fd_ratio"] = fd_ratio(features, labels, seed)
    return entries


def fd_ratio(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Mean Frechet distance between sources over mean distance within a source.

    Each source is split at random into two disjoint halves A and B; within-source
    distances are FD(A_c, B_c), between-source distances FD(A_a, B_b) for a != b, so both
    are estimated from equally many samples (a ratio near 1 means inseparable sources).
    Larger means sources are more separable.
    """
    rng = np.random.default_rng(seed)
    halves = {}
    for source in np.unique(labels):
        group = features[labels == source]
        order = rng.permutation(len(group))
        half = len(group) // 2
        halves[source] = (group[order[:half]], group[order[half : 2 * half]])
    within = [frechet_distance(first, second) for first, second in halves.values()]
    between = [frechet_distance(halves[a][0], halves[b][1]) for a, b in itertools.permutations(halves, 2)]
    return float(np.mean(between) / max(np.mean(within), 1e-12))
