"""What visNet shows (Figure 7): model fingerprints, and for chosen images their
reconstructions, image fingerprints and responses; the mean correlation of each source's
image fingerprints with every model fingerprint; the same panels for any image files."""

import numpy as np
import pandas as pd
import torch

from .. import runtime
from ..errors import GanprintError
from ..convert import to_unit_range
from ..settings import schema_default
from ..storage import atomic_path, printable_path, save_table, spreadsheet_safe_csv
from .data import LabelledImages, read_as
from .evaluation import load_model
from .visnet import VisNet, fingerprint_panels, unit_patterns


def load_visnet(path: str, device) -> VisNet:
    model = load_model(path, device)
    if model.architecture != VisNet.architecture:
        raise GanprintError(f"{path} is a {model.architecture} model, not a visNet (train it with --network visnet)")
    return model


def image_rows(model: VisNet, images: np.ndarray, labels: list[str], device) -> list[dict]:
    """One row of Figure 7 per uint8 image: the image, its reconstruction, fingerprint and
    responses as numpy arrays (images H x W x 3 in [-1, 1], responses S x H x W)."""
    inputs = to_unit_range(images, device)
    panels = fingerprint_panels(model, inputs)
    as_image = lambda tensor: tensor.permute(0, 2, 3, 1).cpu().numpy()  # noqa: E731
    columns = {"image": as_image(inputs), "reconstruction": as_image(panels["reconstructions"]),
               "fingerprint": as_image(panels["fingerprints"]), "responses": panels["responses"].cpu().numpy(),
               "correlations": panels["correlations"].cpu().numpy()}
    return [{"label": label, **{key: value[index] for key, value in columns.items()}} for index, label in enumerate(labels)]


def model_fingerprint_images(model: VisNet) -> np.ndarray:
    """The model fingerprints, zero-mean and unit-norm, S x H x W x 3."""
    shape = model.model_fingerprints.shape
    return unit_patterns(model.model_fingerprints.detach()).reshape(shape).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def image_correlations(model: VisNet, images: np.ndarray, device) -> np.ndarray:
    """N x sources correlations of the image fingerprints of uint8 images with the model fingerprints."""
    inputs = to_unit_range(images, device)
    return model.correlations(inputs - model.reconstruct(inputs)).cpu().numpy()


def mean_correlations(model: VisNet, data: LabelledImages, batch: int, device) -> np.ndarray:
    """sources x sources: mean correlation of the image fingerprints of each source's images
    (rows) with each model fingerprint (columns)."""
    sums = np.zeros((len(data.arrays), len(model.sources)))
    rows = np.arange(len(data))
    for start in range(0, len(rows), batch):
        images, labels = data.gather(rows[start : start + batch])
        np.add.at(sums, labels, image_correlations(model, images, device))
    return sums / np.asarray(data.counts)[:, None]


def fingerprint_figure(model_path: str, test_paths: list[str], output: str, correlations_output: str,
                       per_source: int = 2, batch: int = schema_default("attribution", "eval_batch"),
                       threads: int = 1, title: str = "") -> pd.DataFrame:
    """Figure 7 from a visNet and its test sets (one per source, in its source order), and
    the mean-correlation matrix as CSV."""
    from ..figures import fingerprint_grid

    device = runtime.configure(threads)
    model = load_visnet(model_path, device)
    if len(test_paths) != len(model.sources):
        raise GanprintError(f"{model_path} attributes {len(model.sources)} sources, got {len(test_paths)} test sets")
    data = read_as(test_paths, model.preprocessing)
    matrix = mean_correlations(model, data, batch, device)
    table = pd.DataFrame(matrix, index=model.sources, columns=model.sources).rename_axis("image source \\ model fingerprint")
    rows = []
    for label, source in enumerate(model.sources):
        first = data.offsets[label] + np.arange(min(per_source, data.counts[label]))
        images = data.gather(first)[0]  # a native source's centre patches
        rows += image_rows(model, images, [f"{source} #{i}" for i in range(len(images))], device)
    fingerprint_grid(model_fingerprint_images(model), model.sources, rows, output, matrix, title)
    save_table(correlations_output, table.round(5).reset_index())
    return table


def visualise_files(model_path: str, paths: list[str], output: str, table_output: str | None = None,
                    crop: str | None = None, shown: int = 8, batch: int = schema_default("attribution", "eval_batch"),
                    threads: int = 1, on_bad_image: str = "skip") -> pd.DataFrame:
    """Figure 7's panels for the first `shown` of the image files or folders (read as the
    model's training images were; for a model of native patches, the first patch of each
    image's grid), each labelled with its file and attributed source (the
    model fingerprint of highest correlation); every image's correlations as a table."""
    from ..figures import fingerprint_grid
    from .inference import decoded_images, model_preprocessing

    device = runtime.configure(threads)
    model = load_visnet(model_path, device)
    files, images = decoded_images(paths, model_preprocessing(model, model_path, crop), on_bad_image)
    correlations = np.concatenate([image_correlations(model, images[start : start + batch], device)
                                   for start in range(0, len(images), batch)])
    attributed = np.asarray(model.sources, dtype=object)[correlations.argmax(1)]
    labels = [f"{f.name}\n-> {source}" for f, source in zip(files[:shown], attributed)]
    fingerprint_grid(model_fingerprint_images(model), model.sources, image_rows(model, images[:shown], labels, device),
                     output)
    table = pd.DataFrame({"image": [printable_path(f) for f in files], "source": attributed})
    for index, source in enumerate(model.sources):
        table[f"correlation_{source}"] = correlations[:, index].round(5)
    if table_output:
        with atomic_path(table_output) as temporary:
            temporary.write_text(spreadsheet_safe_csv(table))
    return table
