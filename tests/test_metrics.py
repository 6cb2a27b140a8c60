import numpy as np
import scipy.linalg

from ganprint.metrics import (
    accuracy_percent,
    average_precision,
    open_set_classification_rate,
    ranking_metrics,
    classification_metrics,
    confusion_matrix,
    fd_ratio,
    fd_ratio_entries,
    frechet_distance,
    per_class_accuracy_percent,
)


def direct_frechet(first, second):
    mean_gap = first.mean(0) - second.mean(0)
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = scipy.linalg.sqrtm(cov_first @ cov_second).real
    return mean_gap @ mean_gap + np.trace(cov_first + cov_second - 2 * root)


def test_frechet_distance_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    first = rng.normal(size=(2000, 6)) @ mixing
    second = rng.normal(size=(2000, 6)) @ (mixing * 0.7) + 1.5
    assert np.isclose(frechet_distance(first, second), direct_frechet(first, second), rtol=1e-6)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(1)
    first = rng.normal(0.0, 1.0, size=(200_000, 2))
    second = rng.normal(3.0, 2.0, size=(200_000, 2))
    # ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) = 2*9 + 2*(1 + 4 - 2*2) = 20
    assert abs(frechet_distance(first, second) - 20.0) < 0.2


def test_frechet_distance_is_real_and_finite_for_rank_deficient_covariances():
    rng = np.random.default_rng(2)
    few = rng.normal(size=(10, 64))
    assert np.isfinite(frechet_distance(few, few + 0.1))
    assert abs(frechet_distance(few, few)) < 1e-4


def test_fd_ratio_separated_versus_overlapping():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 400)
    overlapping = rng.normal(size=(1200, 4))
    separated = overlapping + labels[:, None] * 5.0
    assert fd_ratio(separated, labels) > 50
    assert 0.7 < fd_ratio(overlapping, labels) < 1.3


def test_confusion_and_accuracies():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predictions = np.array([0, 1, 1, 1, 2, 2])
    confusion = confusion_matrix(labels, predictions, 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert np.isclose(accuracy_percent(confusion), 400 / 6)
    assert np.allclose(per_class_accuracy_percent(confusion), [50, 200 / 3, 100])


def test_balanced_accuracy_is_the_mean_over_classes_whatever_their_size():
    labels = np.array([0] * 90 + [1] * 10)
    predictions = np.zeros(100, dtype=int)  # everything called class 0
    metrics = classification_metrics(labels, predictions, ["real", "gan"])
    assert metrics["accuracy"] == 90.0 and metrics["balanced_accuracy"] == 50.0


def test_fd_ratio_needs_as_many_images_per_half_as_feature_dimensions():
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1], 40)  # halves of 20
    enough = fd_ratio_entries(rng.normal(size=(80, 20)), labels)
    assert enough["fd_ratio"] is not None and enough["fd_ratio_min_per_half"] == 20 and not enough["fd_ratio_note"]
    too_few = fd_ratio_entries(rng.normal(size=(80, 21)), labels)
    assert too_few["fd_ratio"] is None and "20 images per half" in too_few["fd_ratio_note"]


def test_test_images_per_class_is_one_count_when_equal_and_each_class_count_otherwise():
    """Table 6 keeps every real test image beside a tenth of each GAN's: 500 real, 50 per GAN."""
    labels = np.repeat([0, 1, 2], [500, 50, 50])
    unequal = classification_metrics(labels, labels, ["real", "gan_a", "gan_b"])
    assert unequal["n_test_per_class"] == "500 50 50" and unequal["n_test"] == 600
    equal = classification_metrics(np.repeat([0, 1], 64), np.zeros(128, int), ["real", "gan_a"])
    assert equal["n_test_per_class"] == 64


def test_average_precision_and_roc_auc_per_source_are_scikit_learns_on_fixed_scores():
    """One source against the rest, on scores with ties (votes) and without (probabilities)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 400)
    probabilities = rng.dirichlet(np.ones(3), 400) + 0.6 * np.eye(3)[labels] * rng.random((400, 1))
    votes = rng.integers(0, 6, (400, 3)) + 2 * np.eye(3, dtype=int)[labels]  # many ties
    for scores in (probabilities, votes):
        entries = ranking_metrics(labels, scores, ["a", "b", "c"])
        for index, source in enumerate("abc"):
            positive = labels == index
            assert np.isclose(entries["per_class_ap"][source], 100 * average_precision_score(positive, scores[:, index]))
            assert np.isclose(entries["per_class_auc"][source], 100 * roc_auc_score(positive, scores[:, index]))
        assert np.isclose(entries["mean_ap"], np.mean(list(entries["per_class_ap"].values())))
    assert np.isclose(average_precision(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.8, 0.7, 0.1])), (1 + 2 / 3) / 2)


def test_the_open_set_classification_rate_is_the_area_under_correct_against_false_positive_rate():
    rng = np.random.default_rng(4)
    known, unknown = rng.normal(1.0, 1.0, 300).round(1), rng.normal(0.0, 1.0, 200).round(1)  # ties
    correct = rng.random(300) < 0.8
    # the definition, one threshold at a time from above every score to below every score
    points = [(0.0, 0.0)] + [((unknown >= t).mean(), (correct & (known >= t)).mean())
                             for t in sorted(set(known) | set(unknown), reverse=True)]
    expected = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))
    assert np.isclose(open_set_classification_rate(correct, known, unknown), expected)
    # known and unknown apart: the closed-set accuracy; known below every unknown: nothing
    assert np.isclose(open_set_classification_rate(correct, known + 100, unknown), correct.mean())
    assert np.isclose(open_set_classification_rate(correct, known - 100, unknown), 0.0)
