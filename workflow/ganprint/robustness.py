"""How attribution holds up when test images are degraded after the fact, with no retraining:
accuracy of the classifier and of the baselines (fitted once, on the clean training images)
on test images re-encoded as JPEG at falling quality, downscaled and resized back, or
blurred, one level at a time.

Each perturbation is fixed by its level (no random draws): JPEG through Pillow's encoder and
decoder; downscaling by a factor with a Lanczos filter, then back to the image's side with
the same filter; blur with a Gaussian of the given sigma (kernel 2 ceil(3 sigma) + 1 taps).
The images are perturbed as stored (a native source's whole window), then read as the
model reads them.
"""

import logging
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from . import runtime
from .data.images import jpeg_round_trip
from .attribution.evaluation import load_model, predict_arrays
from .baselines.evaluation import baseline_images, baseline_metrics, fit_baseline
from .errors import GanprintError
from .filters import gaussian_kernel, separable_filter
from .metrics import classification_metrics
from .settings import schema_default
from .storage import image_array_writer, load_images, save_table

log = logging.getLogger(__name__)

COLUMNS = ["dataset", "perturbation", "level", "method", "accuracy", "mean_ap", "n_classes"]


def jpeg(images: np.ndarray, quality: float, threads: int) -> np.ndarray:
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return np.stack(list(pool.map(lambda image: jpeg_round_trip(image, int(quality)), images)))


def downscale(images: np.ndarray, factor: float, threads: int) -> np.ndarray:
    side = images.shape[1]
    small = max(1, round(side * factor))

    def round_trip(image):
        reduced = Image.fromarray(image).resize((small, small), Image.LANCZOS)
        return np.asarray(reduced.resize((side, side), Image.LANCZOS), dtype=np.uint8)

    with ThreadPoolExecutor(max(1, threads)) as pool:
        return np.stack(list(pool.map(round_trip, images)))


def blur(images: np.ndarray, sigma: float, threads: int) -> np.ndarray:
    planes = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).double()
    taps = 2 * math.ceil(3 * sigma) + 1
    blurred = separable_filter(planes, gaussian_kernel(taps, sigma).double())
    return blurred.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


PERTURBATIONS = {"jpeg": jpeg, "downscale": downscale, "blur": blur}


def perturb_arrays(paths: list[str], perturbation: str, level: float, folder: Path, threads: int,
                   chunk: int = 1024) -> list[str]:
    """Each array perturbed at `level`, written under `folder`; the paths written."""
    written = []
    for index, path in enumerate(paths):
        images = load_images(path)
        output = folder / f"{index}.npy"
        with image_array_writer(output, len(images), images.shape[1]) as array:
            for start in range(0, len(images), chunk):
                array[start : start + chunk] = PERTURBATIONS[perturbation](images[start : start + chunk], level, threads)
        written.append(str(output))
    return written


def levels_of(settings: dict) -> list[tuple[str, float]]:
    """(perturbation, level) of every point, the clean images first (perturbation 'none')."""
    keys = {"jpeg": "jpeg_quality", "downscale": "downscale", "blur": "blur_sigma"}
    return [("none", 0.0)] + [(name, float(level)) for name, key in keys.items() for level in settings[key]]


def robustness_table(model_path: str, train_paths: list[str], test_paths: list[str], settings: dict,
                     baseline_settings: dict, output: str, dataset: str, threads: int = 1,
                     batch: int = schema_default("attribution", "eval_batch"),
                     seed: int = schema_default("baselines", "seed")) -> pd.DataFrame:
    """Accuracy (and mean AP) of the model and of each of `settings['methods']` at every level
    of every perturbation; one row per point and method."""
    device = runtime.configure(threads, seed)
    model = load_model(model_path, device, retire_resume=True)
    if len(test_paths) != len(model.sources) or len(train_paths) != len(model.sources):
        raise GanprintError(f"{model_path} attributes {len(model.sources)} sources, got {len(train_paths)} train and "
                            f"{len(test_paths)} test sets")
    preprocessing = model.preprocessing if model.preprocessing.native else None
    fitted = {method: fit_baseline(method, train_paths, len(model.sources), baseline_settings.get(method, {}), seed,
                                   device, preprocessing) for method in settings["methods"]}
    rows = []
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="robustness-", dir=Path(output).parent) as scratch:
        for perturbation, level in levels_of(settings):
            folder = Path(scratch) / f"{perturbation}-{level:g}"
            folder.mkdir()
            paths = test_paths if perturbation == "none" else perturb_arrays(test_paths, perturbation, level, folder,
                                                                             threads)
            predictions, truth = predict_arrays(model, paths, batch, device)
            measured = {"ours": classification_metrics(truth, predictions.probabilities.argmax(1), model.sources,
                                                       predictions.probabilities)}
            test = baseline_images(paths, preprocessing)
            for method, fit in fitted.items():
                measured[method] = baseline_metrics(method, fit, test, model.sources, {}, seed)
            for method, metrics in measured.items():
                rows.append({"dataset": dataset, "perturbation": perturbation, "level": level, "method": method,
                             "accuracy": round(metrics["accuracy"], 3), "mean_ap": round(metrics["mean_ap"], 3),
                             "n_classes": len(model.sources)})
            log.info("%s %g: %s", perturbation, level,
                     ", ".join(f"{method} {metrics['accuracy']:.1f}" for method, metrics in measured.items()))
            for path in paths if perturbation != "none" else ():
                Path(path).unlink()
    table = pd.DataFrame(rows, columns=COLUMNS)
    save_table(output, table)
    return table


def write_robustness_table(paths: list[str], output: str) -> pd.DataFrame:
    """The data sets' robustness tables as one."""
    table = pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    missing = [column for column in COLUMNS if column not in table]
    if missing:
        raise GanprintError(f"{', '.join(paths)}: not robustness tables (no {missing})")
    save_table(output, table)
    return table
