"""Evaluating an attribution model: accuracy, per-class accuracy, confusion, features, FD ratio."""

import dataclasses
import logging

import numpy as np
import pandas as pd
import torch

from .. import runtime
from ..errors import GanprintError
from ..convert import to_unit_range
from ..metrics import classification_metrics, fd_ratio_entries
from ..patches import Preprocessing, combined_probabilities, mean_by_image
from ..settings import schema, complete_block, schema_default
from ..storage import atomic_path, content_digest, load_checkpoint, retire_resume_state, save_json, save_table
from .data import PatchGrid, read_as
from .network import AttributionNetwork, AttributionSettings
from .open_set import CALIBRATION_ROWS, Calibration, calibrate, open_set_entries
from .visnet import VisNet

log = logging.getLogger(__name__)


# Bounds of the numbers a model file's settings may hold: beyond them a crafted file could ask
# for networks that exhaust memory.
SETTING_BOUNDS = {"n_classes": (2, 100_000), "fmap_base": (1, 1 << 16), "fmap_max": (1, 1 << 13)}


def checked_settings(path, settings, sources) -> AttributionSettings:
    """A model file's network settings and source names, refused with one error naming the
    file where they cannot describe a network ganprint would make."""
    if not isinstance(settings, dict):
        raise GanprintError(f"{path}: its settings are a {type(settings).__name__}, not a mapping")
    known = {field.name for field in dataclasses.fields(AttributionSettings)}
    unknown = sorted(map(str, set(settings) - known))
    if unknown:
        raise GanprintError(f"{path}: unknown network settings {unknown}; known: {sorted(known)}")
    sizes = schema()["properties"]["image_size"]["enum"]
    if settings.get("resolution") not in sizes:
        raise GanprintError(f"{path}: resolution {settings.get('resolution')!r} is not one of {sizes}")
    for key, (low, high) in SETTING_BOUNDS.items():
        value = settings.get(key)
        if key in settings and (not isinstance(value, int) or not low <= value <= high):
            raise GanprintError(f"{path}: {key} {value!r} is not a whole number in [{low}, {high}]")
    try:
        checked = AttributionSettings(**settings)
    except (TypeError, ValueError) as error:
        raise GanprintError(f"{path}: bad network settings: {error}") from error
    if not isinstance(sources, (list, tuple)) or not all(isinstance(name, str) for name in sources) \
            or len(sources) != checked.n_classes:
        raise GanprintError(f"{path}: its sources {sources!r} are not {checked.n_classes} names, one per output")
    return checked


def model_preprocessing(path, checkpoint: dict, settings: AttributionSettings) -> Preprocessing:
    """How the model's training images were prepared; a model file without the record was
    trained on resized images."""
    if "preprocessing" not in checkpoint:
        return Preprocessing(size=settings.resolution)
    preprocessing = Preprocessing.from_record(checkpoint["preprocessing"], str(path))
    if preprocessing.size != settings.resolution:
        raise GanprintError(f"{path}: its preprocessing makes {preprocessing.size}-pixel inputs for a network of "
                            f"{settings.resolution} pixels")
    return preprocessing


def load_model(path: str, device, retire_resume: bool = False) -> AttributionNetwork | VisNet:
    """The attribution network or visNet of a checkpoint (its `architecture`), for evaluation;
    the workflow's stages that read a finished training's model retire its resumable state
    (`retire_resume`), the user commands never write beside a model."""
    checkpoint = load_checkpoint(path, required=("settings", "model", "sources"), kind="ganprint attribution model")
    settings = checked_settings(path, checkpoint["settings"], checkpoint["sources"])
    model = VisNet(settings) if checkpoint.get("architecture") == VisNet.architecture else AttributionNetwork(settings)
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, TypeError, AttributeError) as error:
        detail = (str(error).strip().splitlines() or [""])[0][:200]
        raise GanprintError(f"{path}: its weights do not fit the network its settings describe: {detail}") from error
    model.sources = list(checkpoint["sources"])
    model.preprocessing = model_preprocessing(path, checkpoint, settings)
    model.content_digest = content_digest(checkpoint)
    if retire_resume:
        retire_resume_state(path)
    return model.to(device).eval().requires_grad_(False)


def network_description(model: AttributionNetwork | VisNet) -> dict:
    settings = model.settings
    return {"architecture": model.architecture, "variant": settings.variant,
            "switch_resolution": settings.switch_resolution, "high_band_input": settings.high_band_input,
            "resolution": settings.resolution, "input": settings.input, "preprocessing": model.preprocessing.record()}


@dataclasses.dataclass
class Predictions:
    """Softmax probabilities and the open-set layer descriptors of images (rows), the last of
    which are the fingerprint features."""

    probabilities: np.ndarray
    layers: list[np.ndarray]

    @property
    def features(self) -> np.ndarray:
        return self.layers[-1]

    def __getitem__(self, rows) -> "Predictions":
        return Predictions(self.probabilities[rows], [layer[rows] for layer in self.layers])

    @staticmethod
    def concatenate(parts: list["Predictions"]) -> "Predictions":
        return Predictions(np.concatenate([p.probabilities for p in parts]),
                           [np.concatenate(layer) for layer in zip(*(p.layers for p in parts))])

    def by_image(self, image_rows: np.ndarray, n_images: int) -> "Predictions":
        """The predictions of patches combined into their images': probabilities by mean
        log-probability, the layer descriptors averaged."""
        return Predictions(combined_probabilities(self.probabilities, image_rows, n_images),
                           [mean_by_image(layer, image_rows, n_images).astype(np.float32) for layer in self.layers])


@torch.no_grad()
def predict(model: AttributionNetwork | VisNet, images: np.ndarray, batch: int, device) -> Predictions:
    """The predictions of uint8 images, in batches."""
    parts = []
    for start in range(0, len(images), batch):
        logits, layers = model.predict(to_unit_range(images[start : start + batch], device))
        parts.append(Predictions(torch.softmax(logits, dim=1).cpu().numpy(), [layer.cpu().numpy() for layer in layers]))
    return Predictions.concatenate(parts)


def predict_arrays(model: AttributionNetwork | VisNet, paths: list[str], batch: int, device) -> tuple[Predictions, np.ndarray]:
    """The predictions and labels of every image of the arrays (one per source), in chunks,
    so that arrays larger than memory can be evaluated."""
    data = read_as(paths, model.preprocessing)
    patches = PatchGrid(data, model.preprocessing.grid)
    rows = np.arange(len(patches))
    parts = [predict(model, patches.gather(rows[start : start + 8 * batch])[0], batch, device)
             for start in range(0, len(rows), 8 * batch)]
    predictions = Predictions.concatenate(parts)
    if len(patches) != len(data):
        predictions = predictions.by_image(patches.image_rows, len(data))
    return predictions, data.labels


def evaluate_attribution(model_path: str, test_paths: list[str], metrics_output: str, features_output: str,
                         confusion_output: str, labels: dict, batch: int = schema_default("attribution", "eval_batch"),
                         threads: int = 1, seed: int = schema_default("attribution", "seed"),
                         validation_paths: list[str] = (), calibration_output: str | None = None,
                         open_set: dict | None = None, unknown_paths: list[str] = ()) -> dict:
    """Evaluate on one test set per source (in the model's source order); `labels` (dataset,
    experiment, method, ...) are copied into the metrics so that tables can be assembled from them.
    With validation sets (one per source), also calibrate open-set rejection (`open_set`: the
    config block) and measure it; with `unknown_paths`, on images of sources the model was not
    trained on."""
    device = runtime.configure(threads, seed)
    model = load_model(model_path, device, retire_resume=True)
    for kind, paths in (("test", test_paths), ("validation", validation_paths)):
        if paths and len(paths) != len(model.sources):
            raise GanprintError(f"{model_path} attributes {len(model.sources)} sources, got {len(paths)} {kind} sets")
    test, truth = predict_arrays(model, test_paths, batch, device)
    metrics = {
        **labels,
        **classification_metrics(truth, test.probabilities.argmax(1), model.sources, test.probabilities),
        **fd_ratio_entries(test.features, truth, seed),
        "network": network_description(model),
    }
    if validation_paths:
        calibration, metrics["open_set"] = _calibrate_and_measure(model, validation_paths, test, truth, unknown_paths,
                                                                  open_set or {}, batch, device)
        calibration.save(calibration_output)
    with atomic_path(features_output) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, features=test.features.astype(np.float32), labels=truth)
    save_table(confusion_output, pd.DataFrame(metrics["confusion"], index=model.sources, columns=model.sources)
               .rename_axis("true \\ predicted").reset_index())
    save_json(metrics_output, metrics)
    log.info("accuracy %.2f%%, FD ratio %s on %d test images", metrics["accuracy"], metrics["fd_ratio"], len(truth))
    return metrics


def _calibrate_and_measure(model, validation_paths, test: Predictions, test_truth: np.ndarray, unknown_paths, settings,
                           batch, device) -> tuple[Calibration, dict]:
    settings = complete_block(settings, "open_set")
    validation, truth = predict_arrays(model, validation_paths, batch, device)
    calibration = calibrate(validation, truth, model.sources, settings["false_rejection_rate"], settings["score"],
                            model.content_digest)
    unknown_scores = None
    if unknown_paths:
        unknown_scores = calibration.rejection_scores(predict_arrays(model, unknown_paths, batch, device)[0])
    entries = open_set_entries(calibration, calibration.rejection_scores(validation[CALIBRATION_ROWS]),
                               calibration.rejection_scores(test), unknown_scores,
                               test.probabilities.argmax(1) == test_truth)
    return calibration, entries
