"""Open-set attribution: an image whose rejection score falls below a threshold is "unknown".

Two scores, higher for images like the known sources': the maximum softmax probability
(msp), and a distance score measured at every layer of the network. At each layer the
image is described (each conv block by the mean and standard deviation of its output maps,
then the fingerprint features) and its squared Mahalanobis distance to the nearest known
source's mean description taken, with one covariance shared by the sources and shrunk
towards a multiple of the identity (Ledoit-Wolf); the score is minus the mean over layers
of these distances, each standardised by its spread over validation images (a multi-layer
Mahalanobis detector, after Lee et al., NeurIPS 2018). Validation images of the known
sources, which no training saw, are halved: the means and covariances are estimated on
one half, the standardisation and each threshold on the other, so that a target fraction
of it (the false-rejection rate) is rejected.
"""

import dataclasses

import numpy as np

from ..errors import GanprintError
from ..metrics import open_set_classification_rate, roc_auc
from ..storage import load_checkpoint, save_checkpoint

SCORES = ("msp", "distance")
UNKNOWN = "unknown"
# The validation rows that fit the metrics, and those that calibrate the thresholds.
FIT_ROWS, CALIBRATION_ROWS = slice(0, None, 2), slice(1, None, 2)


@dataclasses.dataclass(frozen=True)
class LayerMetric:
    """The Mahalanobis metric of one layer's descriptors, made Euclidean by `whitening`."""

    whitening: np.ndarray  # descriptors @ whitening
    means: np.ndarray  # per source, its whitened mean descriptor
    centre: float = 0.0  # mean and spread of the squared distances of validation images
    spread: float = 1.0

    def squared_distances(self, descriptors: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each descriptor (row) to its nearest source mean."""
        points = descriptors.astype(np.float64) @ self.whitening
        squared = (points**2).sum(1)[:, None] - 2.0 * points @ self.means.T + (self.means**2).sum(1)[None, :]
        return np.clip(squared, 0.0, None).min(1)

    def standardised(self, descriptors: np.ndarray) -> np.ndarray:
        return (self.squared_distances(descriptors) - self.centre) / self.spread


@dataclasses.dataclass(frozen=True)
class Calibration:
    sources: list[str]
    score: str  # the score attribution uses by default
    false_rejection_rate: float
    thresholds: dict[str, float]
    layers: list[LayerMetric]
    model_digest: str = ""  # the content digest of the model it calibrates (storage.content_digest)

    def rejection_scores(self, predictions) -> dict[str, np.ndarray]:
        """Each score of each image of `predictions` (evaluation.Predictions)."""
        if len(predictions.layers) != len(self.layers):
            raise GanprintError(f"the calibration measures {len(self.layers)} layers, the model gives "
                                f"{len(predictions.layers)}: it calibrates another network")
        distances = [metric.standardised(layer) for metric, layer in zip(self.layers, predictions.layers)]
        return {"msp": predictions.probabilities.max(1).astype(np.float64), "distance": -np.mean(distances, axis=0)}

    def save(self, path: str) -> None:
        import torch

        layers = [{"whitening": torch.from_numpy(metric.whitening), "means": torch.from_numpy(metric.means),
                   "centre": metric.centre, "spread": metric.spread} for metric in self.layers]
        save_checkpoint(path, {"sources": self.sources, "score": self.score, "thresholds": self.thresholds,
                               "false_rejection_rate": self.false_rejection_rate, "layers": layers,
                               "model_digest": self.model_digest})

    @classmethod
    def load(cls, path: str, sources: list[str], model_digest: str) -> "Calibration":
        """The calibration of the model attributing `sources` whose content digest is `model_digest`."""
        fields = ("sources", "score", "false_rejection_rate", "thresholds", "layers")
        content = load_checkpoint(path, required=fields, kind="ganprint calibration")
        if list(content["sources"]) != list(sources):
            raise GanprintError(f"{path} calibrates a model of sources {content['sources']}, not {list(sources)}")
        if content.get("model_digest") != model_digest:
            made_for = f"the model of digest {content['model_digest'][:12]}" if content.get("model_digest") else \
                "a model it does not name (made before calibrations named theirs)"
            raise GanprintError(f"{path} calibrates {made_for}, not this one ({model_digest[:12]}): its thresholds "
                                "would not hold; evaluate this model with validation images to calibrate it")
        layers = [LayerMetric(metric["whitening"].numpy(), metric["means"].numpy(), float(metric["centre"]),
                              float(metric["spread"])) for metric in content["layers"]]
        return cls(list(content["sources"]), content["score"], float(content["false_rejection_rate"]),
                   {name: float(value) for name, value in content["thresholds"].items()}, layers, model_digest)


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


def fit_metric(descriptors: np.ndarray, labels: np.ndarray, n_classes: int) -> LayerMetric:
    """The metric of labelled descriptors: their shared shrunk covariance, whitened means."""
    counts = np.bincount(labels, minlength=n_classes)
    if counts.min() < 2:
        raise GanprintError(f"every source needs at least 4 validation images; halves hold {counts.tolist()}")
    descriptors = descriptors.astype(np.float64)
    means = np.zeros((n_classes, descriptors.shape[1]))
    np.add.at(means, labels, descriptors)
    means /= counts[:, None]
    covariance = shrunk_covariance(descriptors - means[labels])
    covariance += 1e-9 * np.trace(covariance) / len(covariance) * np.eye(len(covariance))  # dead units
    whitening = np.linalg.cholesky(np.linalg.inv(covariance))  # inverse = W W^T, so |x W| is Mahalanobis
    return LayerMetric(whitening, means @ whitening)


def standardise(metric: LayerMetric, descriptors: np.ndarray) -> LayerMetric:
    distances = metric.squared_distances(descriptors)
    return dataclasses.replace(metric, centre=float(distances.mean()), spread=float(distances.std()) or 1.0)


def calibrate(validation, labels: np.ndarray, sources: list[str], false_rejection_rate: float,
              score: str, model_digest: str = "") -> Calibration:
    """The metrics from half the validation images (evaluation.Predictions), and thresholds
    rejecting `false_rejection_rate` of the other half, for every score."""
    if score not in SCORES:
        raise GanprintError(f"unknown rejection score '{score}'; choose one of {list(SCORES)}")
    if not 0.0 < false_rejection_rate < 1.0:
        raise GanprintError(f"the target false-rejection rate must be in (0, 1), got {false_rejection_rate}")
    fitting, calibrating = validation[FIT_ROWS], validation[CALIBRATION_ROWS]
    layers = [standardise(fit_metric(fit, labels[FIT_ROWS], len(sources)), held)
              for fit, held in zip(fitting.layers, calibrating.layers)]
    calibration = Calibration(list(sources), score, false_rejection_rate, {}, layers, model_digest)
    held_scores = calibration.rejection_scores(calibrating)
    thresholds = {name: float(np.quantile(values, false_rejection_rate)) for name, values in held_scores.items()}
    return dataclasses.replace(calibration, thresholds=thresholds)


def rejected_percent(scores: np.ndarray, threshold: float) -> float:
    return float(100.0 * (scores < threshold).mean())


def open_set_entries(calibration: Calibration, validation_scores: dict, test_scores: dict,
                     unknown_scores: dict | None = None, test_correct: np.ndarray | None = None) -> dict:
    """The metrics entry of a calibration: per score its threshold and the percentages of
    the known sources' images it rejects (of the validation images that calibrated it, and of
    the test images); with images of a source the model was not trained on, the percentage
    of those rejected, the AUROC of known against unknown and, given which test images are
    attributed correctly, the open-set classification rate (OSCR)."""
    entries = {}
    for name, threshold in calibration.thresholds.items():
        entry = {"threshold": threshold,
                 "validation_rejected": rejected_percent(validation_scores[name], threshold),
                 "test_rejected": rejected_percent(test_scores[name], threshold)}
        if unknown_scores is not None:
            entry["unknown_rejected"] = rejected_percent(unknown_scores[name], threshold)
            entry["auroc"] = roc_auc(test_scores[name], unknown_scores[name])
            if test_correct is not None:
                entry["oscr"] = open_set_classification_rate(test_correct, test_scores[name], unknown_scores[name])
        entries[name] = entry
    return {"score": calibration.score, "target_rejected": 100.0 * calibration.false_rejection_rate, "scores": entries}
