"""Accuracy, confusion, the ranking measures of each source against the rest (average
precision, ROC-AUC), the open-set classification rate, and the Frechet-distance ratio of PAPER.md."""

import itertools

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def accuracy_percent(confusion: np.ndarray) -> float:
    return float(100.0 * np.trace(confusion) / confusion.sum())


def accuracy_over_classes_percent(confusion: np.ndarray, classes: list[int]) -> float:
    """Accuracy over the test images of some classes only (predictions among all classes)."""
    rows = np.asarray(confusion)[classes]
    return float(100.0 * rows[np.arange(len(classes)), classes].sum() / rows.sum())


def per_class_accuracy_percent(confusion: np.ndarray) -> np.ndarray:
    return 100.0 * np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)


def per_class_count(counts) -> int | str:
    """The number of test images of each class: one count where all classes have it, else
    one count per class in the order of the sources, space-separated (as the `sources` cell)."""
    counts = [int(count) for count in counts]
    return counts[0] if len(set(counts)) == 1 else " ".join(map(str, counts))


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half): the area
    under the ROC curve."""
    from scipy.stats import rankdata

    positive, negative = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    ranks = rankdata(np.concatenate([positive, negative]))
    return float((ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2)
                 / (len(positive) * len(negative)))


def average_precision(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """The mean of the precision at each positive's rank, images of equal score taken
    together (the area under the step precision-recall curve, no interpolation)."""
    is_positive, scores = np.asarray(is_positive, bool), np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_positive = scores[order], is_positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked_scores)), len(scores) - 1]
    true_positives = np.cumsum(ranked_positive)[last_of_tie]
    precision = true_positives / (last_of_tie + 1)
    recall_steps = np.diff(np.r_[0, true_positives]) / max(int(is_positive.sum()), 1)
    return float((recall_steps * precision).sum())


def ranking_metrics(labels: np.ndarray, scores: np.ndarray, sources: list[str]) -> dict:
    """Average precision and ROC-AUC (%) of each source against the rest, from per-image
    scores of every source (probabilities, logits, votes: higher means more likely), and
    their means over the sources."""
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    ap, auc = {}, {}
    for index, source in enumerate(sources):
        positive = labels == index
        if positive.all() or not positive.any():
            continue
        ap[source] = 100.0 * average_precision(positive, scores[:, index])
        auc[source] = 100.0 * roc_auc(scores[positive, index], scores[~positive, index])
    mean = lambda values: float(np.mean(list(values.values()))) if values else None  # noqa: E731
    return {"mean_ap": mean(ap), "mean_auc": mean(auc), "per_class_ap": ap, "per_class_auc": auc}


def open_set_classification_rate(correct: np.ndarray, known: np.ndarray, unknown: np.ndarray) -> float:
    """OSCR (Dhamija et al., 2018): the area under the curve of the correct classification rate
    (known images attributed correctly and scoring at least the threshold) against the false
    positive rate (unknown images scoring at least the threshold), over every threshold;
    the closed-set accuracy when known and unknown images are perfectly apart."""
    correct, known, unknown = np.asarray(correct, bool), np.asarray(known, np.float64), np.asarray(unknown, np.float64)
    thresholds = np.unique(np.concatenate([known, unknown]))[::-1]

    def share_at_least(values: np.ndarray, total: int) -> np.ndarray:
        ordered = np.sort(values)
        return np.r_[0.0, (len(ordered) - np.searchsorted(ordered, thresholds, side="left")) / total]

    return float(np.trapezoid(share_at_least(known[correct], len(known)), share_at_least(unknown, len(unknown))))


def classification_metrics(labels: np.ndarray, predictions: np.ndarray, sources: list[str],
                           scores: np.ndarray | None = None) -> dict:
    """The accuracy entries of a metrics file, for predictions over the given sources; with
    per-image `scores` of every source, the ranking measures too (ranking_metrics)."""
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
        **(ranking_metrics(labels, scores, sources) if scores is not None else {}),
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
