"""Attributing new image files with a trained attribution model, "unknown" where the rejection
score falls below the threshold calibrated with the model (open_set.py).

Every image is read as the model's training images were (the preprocessing recorded with
the model): decoded to 8-bit RGB (any mode), then either its largest centred square (or the
CelebA crop) resized to the model's resolution with a Lanczos filter, an image smaller than
that first enlarged, with a warning, since enlarging blurs away most of a fingerprint; or,
for a model of native patches, the grid of patches of its native window, their predictions
combined (an image smaller than the window gives a smaller one; smaller than a patch, it is
refused).
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import runtime
from ..errors import GanprintError
from ..data.images import FlatImageError, centre_crop, crop_function, decode_image, list_images
from ..patches import Preprocessing, grid_patches, native_window
from ..settings import schema_default
from ..storage import atomic_path, printable_path, spreadsheet_safe_csv
from .evaluation import load_model, predict
from .open_set import UNKNOWN, Calibration

log = logging.getLogger(__name__)

CALIBRATION_NAME = "calibration.pt"
FORMATS = ("csv", "jsonl")


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


def model_preprocessing(model, model_path: str, crop: str | None) -> Preprocessing:
    """The preprocessing recorded with the model; a --crop that differs is refused, since new
    images must be read as the training images were."""
    recorded = model.preprocessing
    if crop is not None and crop != recorded.crop:
        raise GanprintError(f"{model_path} was trained on images read with crop {recorded.crop}; --crop {crop} would "
                            f"read new images otherwise and its attributions would not hold: leave --crop out")
    return recorded


def read_image(path: Path, preprocessing: Preprocessing) -> tuple[np.ndarray, bool]:
    """The image as the model reads it (K x size x size x 3: its patches, or its one resized
    crop), and whether it had to be enlarged."""
    pixels = decode_image(str(path), str(path), preprocessing.alpha_background).pixels
    size, crop = preprocessing.size, preprocessing.crop
    if preprocessing.native:
        window = native_window(pixels, preprocessing.window, preprocessing.align, str(path), at_least=size)
        return grid_patches(window, preprocessing), False
    enlarged = crop == "centre" and min(pixels.shape[:2]) < size
    if enlarged:
        return centre_crop(pixels, size, str(path), enlarge=True)[None], True
    return crop_function(crop)(pixels, size, str(path))[None], False


@dataclass
class DecodedChunk:
    """Images of a chunk of files: every patch read, and the file (position in `files`) of each."""

    files: list[Path]
    patches: np.ndarray
    image_rows: np.ndarray

    def first_patches(self) -> np.ndarray:
        """One patch per file (its first): what a figure shows."""
        return self.patches[np.searchsorted(self.image_rows, np.arange(len(self.files)))]


def decoded_chunks(files: list[Path], preprocessing: Preprocessing, on_bad_image: str, chunk: int,
                   progress: bool = False):
    """DecodedChunks of at most `chunk` readable images; an unreadable one stops the run
    (`fail`) or is left out with a warning naming it (`skip`)."""
    from tqdm import tqdm

    skipped, enlarged, read = [], 0, 0
    bar = tqdm(total=len(files), unit="image", disable=not progress or None, leave=False)
    batch_files, batch_images = [], []

    def completed():
        rows = np.repeat(np.arange(len(batch_files)), [len(image) for image in batch_images])
        return DecodedChunk(batch_files, np.concatenate(batch_images), rows)

    for path in files:
        bar.update()
        try:
            image, grown = read_image(path, preprocessing)
        except GanprintError as error:
            if on_bad_image != "skip":
                raise
            log.warning("skipped %s", error)
            skipped.append(error)
            continue
        enlarged += grown
        batch_files.append(path)
        batch_images.append(image)
        if len(batch_files) == chunk:
            read += len(batch_files)
            yield completed()
            batch_files, batch_images = [], []
    bar.close()
    if batch_files:
        read += len(batch_files)
        yield completed()
    if enlarged:
        size = preprocessing.size
        log.warning("enlarged %d images smaller than %dx%d: their attribution is unreliable", enlarged, size, size)
    if skipped:
        flat = sum(isinstance(error, FlatImageError) for error in skipped)
        log.warning("skipped %d of %d images (%d unreadable, %d of one flat colour)", len(skipped), len(files),
                    len(skipped) - flat, flat)
    if not read:
        raise GanprintError(f"no readable images in {', '.join(sorted({str(f.parent) for f in files}))}")


def decoded_images(paths: list[str], preprocessing: Preprocessing,
                   on_bad_image: str = "skip") -> tuple[list[Path], np.ndarray]:
    """All the readable image files of `paths` (files or folders), decoded and cropped: one
    image (the first patch of a native model's grid) per file."""
    chunks = list(decoded_chunks(image_files(paths), preprocessing, on_bad_image, chunk=1 << 30))
    return [f for chunk in chunks for f in chunk.files], np.concatenate([chunk.first_patches() for chunk in chunks])


def predict_files(model, chunk: DecodedChunk, batch: int, device):
    """The predictions of a chunk's files: of their patches, combined per file."""
    predictions = predict(model, chunk.patches, batch, device)
    return predictions if len(chunk.patches) == len(chunk.files) else predictions.by_image(chunk.image_rows,
                                                                                          len(chunk.files))


def rejection_rule(model_path: str, model, calibration_path: str | None, score: str | None,
                   threshold: float | None) -> tuple[str, float, Calibration | None]:
    """(score, threshold, calibration): the calibrated ones unless given."""
    path = Path(calibration_path) if calibration_path else Path(model_path).parent / CALIBRATION_NAME
    if not path.exists():
        if calibration_path or threshold is None or score == "distance":
            raise GanprintError(f"no calibration at {path}: evaluate the model with validation images (the workflow "
                                f"writes {CALIBRATION_NAME} beside model.pt), or give --threshold for the msp score")
        return "msp", threshold, None
    calibration = Calibration.load(str(path), model.sources, model.content_digest)
    score = score or calibration.score
    return score, calibration.thresholds[score] if threshold is None else threshold, calibration


def attribute(model_path: str, paths: list[str], calibration_path: str | None = None, score: str | None = None,
              threshold: float | None = None, crop: str | None = None,
              batch: int = schema_default("attribution", "eval_batch"), threads: int = 1,
              on_bad_image: str = "skip", progress: bool = False) -> pd.DataFrame:
    """One row per readable image: its source ("unknown" when its rejection score is below the
    threshold), the nearest known source, the highest probability, the score, and the
    probability of every source. Images are read as the model's training images were; a
    `crop` other than the model's is refused."""
    device = runtime.configure(threads)
    model = load_model(model_path, device)
    preprocessing = model_preprocessing(model, model_path, crop)
    score, threshold, calibration = rejection_rule(model_path, model, calibration_path, score, threshold)
    log.info("rejecting images whose %s score is below %.5g", score, threshold)
    files, probabilities, values = [], [], []
    for chunk in decoded_chunks(image_files(paths), preprocessing, on_bad_image, 8 * batch, progress):
        predictions = predict_files(model, chunk, batch, device)
        files += chunk.files
        probabilities.append(predictions.probabilities)
        values.append(calibration.rejection_scores(predictions)[score] if calibration
                      else predictions.probabilities.max(1))
    probabilities, values = np.concatenate(probabilities), np.concatenate(values)
    nearest = np.asarray(model.sources, dtype=object)[probabilities.argmax(1)]
    table = pd.DataFrame({
        "image": [printable_path(f) for f in files],
        "source": np.where(values >= threshold, nearest, UNKNOWN),
        "nearest_source": nearest,
        "probability": probabilities.max(1).round(5),
        score: values.round(5),
    })
    for index, source in enumerate(model.sources):
        table[f"p_{source}"] = probabilities[:, index].round(5)
    return table


def write_attributions(table: pd.DataFrame, output: str | None, format: str = "csv") -> None:
    """The table as CSV or JSON lines, to a file (written whole or not at all) or to stdout."""
    if format not in FORMATS:
        raise GanprintError(f"unknown format '{format}'; choose one of {list(FORMATS)}")
    text = (spreadsheet_safe_csv(table) if format == "csv"
            else "".join(json.dumps(row) + "\n" for row in table.to_dict(orient="records")))
    if output is None:
        print(text, end="")
        return
    with atomic_path(output) as temporary:
        Path(temporary).write_text(text)
