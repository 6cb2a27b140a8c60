"""Attributing new image files with a trained attribution model."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .. import GanprintError, runtime
from ..data.images import crop_function, decode_image, list_images
from ..settings import schema_default
from .evaluation import load_model, predict

UNKNOWN = "unknown"

log = logging.getLogger(__name__)


def image_files(paths: list[str]) -> list[Path]:
    """The given files, and the images inside given folders (sorted)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(list_images(path))
        elif path.exists():
            files.append(path)
        else:
            raise GanprintError(f"image not found: {path}")
    if not files:
        raise GanprintError(f"no images in {', '.join(paths)}")
    return files


def decoded_images(paths: list[str], size: int, crop: str, on_bad_image: str = "skip") -> tuple[list[Path], np.ndarray]:
    """The image files of `paths` (files or folders), decoded and cropped to size x size; an
    unreadable one stops the run (`fail`) or is left out with a warning naming it (`skip`)."""
    crop_image = crop_function(crop)
    files, images, skipped = [], [], []
    for path in image_files(paths):
        try:
            images.append(crop_image(decode_image(str(path), str(path)).pixels, size, str(path)))
            files.append(path)
        except GanprintError as error:
            if on_bad_image != "skip":
                raise
            log.warning("skipped %s", error)
            skipped.append(path)
    if skipped:
        log.warning("skipped %d of %d images", len(skipped), len(skipped) + len(files))
    if not files:
        raise GanprintError(f"no readable images in {', '.join(map(str, paths))}")
    return files, np.stack(images)


def attribute(model_path: str, paths: list[str], threshold: float = 0.5, crop: str = "centre",
              batch: int = schema_default("attribution", "eval_batch"), threads: int = 1,
              on_bad_image: str = "skip") -> pd.DataFrame:
    """One row per image: predicted source ("unknown" when the top probability is below
    `threshold`), that probability, and the probability of every source."""
    if not 0.0 <= threshold <= 1.0:
        raise GanprintError(f"threshold must be in [0, 1], got {threshold}")
    device = runtime.configure(threads)
    model = load_model(model_path, device)
    files, images = decoded_images(paths, model.settings.resolution, crop, on_bad_image)
    probabilities, _ = predict(model, images, batch, device)
    best = probabilities.argmax(1)
    confident = probabilities.max(1) >= threshold
    table = pd.DataFrame({
        "image": [str(f) for f in files],
        "source": np.where(confident, np.asarray(model.sources, dtype=object)[best], UNKNOWN),
        "probability": probabilities.max(1).round(5),
    })
    for index, source in enumerate(model.sources):
        table[f"p_{source}"] = probabilities[:, index].round(5)
    return table
