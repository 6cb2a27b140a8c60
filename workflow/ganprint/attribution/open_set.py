"""Open-set attribution: an image whose rejection score falls below a threshold is "unknown".

Two scores, higher for images like the known sources': the maximum softmax probability
(msp), and minus the distance of the image's fingerprint features to the nearest source's
mean fingerprint (distance), measured in the fingerprints' own spread (Mahalanobis, with one
covariance shared by the sources and shrunk towards a multiple of the identity by the
Ledoit-Wolf estimate). Validation images of the known sources, which no training saw, are
halved: the means and covariance are estimated on one half, and each threshold on the
other, so that a target fraction of it (the false-rejection rate) is rejected.
"""

import dataclasses

import numpy as np

from .. import GanprintError
from ..storage import load_json, save_json

SCORES = ("msp", "distance")
# The validation rows that fit the metric, and those that calibrate the thresholds.
FIT_ROWS, CALIBRATION_ROWS = slice(0, None, 2), slice(1, None, 2)
UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Calibration:
    sources: list[str]
    score: str  # the score attribution uses by default
    false_rejection_rate: float
    thresholds: dict[str, float]
    class_means: list[list[float]]  # per source, its mean fingerprint features (whitened)
    whitening: list[list[float]]  # features @ whitening: the Mahalanobis metric made Euclidean

    def rejection_scores(self, probabilities: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        whitened = features.astype(np.float64) @ np.asarray(self.whitening)
        return {"msp": probabilities.max(1).astype(np.float64),
                "distance": -nearest_distance(whitened, np.asarray(self.class_means))}

    def save(self, path: str) -> None:
        save_json(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path: str, sources: list[str]) -> "Calibration":
        """The calibration of the model attributing `sources`."""
        content = load_json(path)
        fields = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(content, dict) or not fields <= content.keys():
            raise GanprintError(f"{path} is not a ganprint calibration (it lacks {sorted(fields - set(content or {}))})")
        calibration = cls(**{key: content[key] for key in fields})
        if list(calibration.sources) != list(sources):
            raise GanprintError(f"{path} calibrates a model of sources {calibration.sources}, not {list(sources)}")
        return calibration


def nearest_distance(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distance of each point (row) to its nearest centre."""
    squared = (points**2).sum(1)[:, None] - 2.0 * points @ centres.T + (centres**2).sum(1)[None, :]
    return np.sqrt(np.clip(squared, 0.0, None).min(1))


def shrunk_covariance(centred: np.ndarray) -> np.ndarray:
    """The Ledoit-Wolf covariance of centred samples (rows): the sample covariance shrunk
    towards a multiple of the identity by the weight that minimises the expected squared error."""
    count, dimension = centred.shape
    sample = centred.T @ centred / count
    scale = np.trace(sample) / dimension
    squared = centred**2
    spread = ((squared.T @ squared).sum() / count - (sample**2).sum()) / (count * dimension)
    distance = ((sample - scale * np.eye(dimension)) ** 2).sum() / dimension
    shrinkage = 0.0 if distance == 0 else min(spread, distance) / distance
    return (1.0 - shrinkage) * sample + shrinkage * scale * np.eye(dimension)


def fit_metric(features: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(whitening matrix, whitened class means) of labelled features."""
    counts = np.bincount(labels, minlength=n_classes)
    if counts.min() < 2:
        raise GanprintError(f"every source needs at least 4 validation images; halves hold {counts.tolist()}")
    features = features.astype(np.float64)
    means = np.zeros((n_classes, features.shape[1]))
    np.add.at(means, labels, features)
    means /= counts[:, None]
    covariance = shrunk_covariance(features - means[labels])
    whitening = np.linalg.cholesky(np.linalg.inv(covariance))  # inverse = W W^T, so |x W| is Mahalanobis
    return whitening, means @ whitening


def calibrate(probabilities: np.ndarray, features: np.ndarray, labels: np.ndarray, sources: list[str],
              false_rejection_rate: float, score: str) -> Calibration:
    """The metric from half the validation images, and thresholds rejecting
    `false_rejection_rate` of the other half, for every score."""
    if score not in SCORES:
        raise GanprintError(f"unknown rejection score '{score}'; choose one of {list(SCORES)}")
    if not 0.0 < false_rejection_rate < 1.0:
        raise GanprintError(f"the target false-rejection rate must be in (0, 1), got {false_rejection_rate}")
    whitening, means = fit_metric(features[FIT_ROWS], labels[FIT_ROWS], len(sources))
    calibration = Calibration(list(sources), score, false_rejection_rate, {}, means.tolist(), whitening.tolist())
    held = calibration.rejection_scores(probabilities[CALIBRATION_ROWS], features[CALIBRATION_ROWS])
    thresholds = {name: float(np.quantile(values, false_rejection_rate)) for name, values in held.items()}
    return dataclasses.replace(calibration, thresholds=thresholds)


def rejected_percent(scores: np.ndarray, threshold: float) -> float:
    return float(100.0 * (scores < threshold).mean())


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """The probability that a known source's image scores above an unknown one's (ties: half)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([known, unknown]))
    return float((ranks[: len(known)].sum() - len(known) * (len(known) + 1) / 2) / (len(known) * len(unknown)))


def open_set_entries(calibration: Calibration, validation_scores: dict, test_scores: dict,
                     unknown_scores: dict | None = None) -> dict:
    """The metrics entry of a calibration: per score its threshold and the percentages of
    the known sources' images it rejects (of the validation images that calibrated it, and of
    the test images); with images of a source the model was not trained on, the percentage
    of those rejected and the AUROC of known against unknown."""
    entries = {}
    for name, threshold in calibration.thresholds.items():
        entry = {"threshold": threshold,
                 "validation_rejected": rejected_percent(validation_scores[name], threshold),
                 "test_rejected": rejected_percent(test_scores[name], threshold)}
        if unknown_scores is not None:
            entry["unknown_rejected"] = rejected_percent(unknown_scores[name], threshold)
            entry["auroc"] = auroc(test_scores[name], unknown_scores[name])
        entries[name] = entry
    return {"score": calibration.score, "target_rejected": 100.0 * calibration.false_rejection_rate, "scores": entries}
