"""Figures: sample grids (Figure 4) and the component-analysis curves (Tables 4 and 5)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import GanprintError  # noqa: E402
from .storage import atomic_path, load_images  # noqa: E402

import pandas as pd  # noqa: E402


def sample_strip(images: np.ndarray, count: int, gap: int = 2) -> np.ndarray:
    """The first `count` images side by side, separated by white gaps."""
    if len(images) < count:
        raise GanprintError(f"a sample grid needs {count} images per source, got {len(images)}")
    size = images.shape[1]
    strip = np.full((size, count * (size + gap) - gap, 3), 255, dtype=np.uint8)
    for column, image in enumerate(images[:count]):
        strip[:, column * (size + gap) : column * (size + gap) + size] = image
    return strip


def sample_grid(image_paths: list[str], labels: list[str], output: str, per_source: int = 8, title: str = "") -> None:
    """One labelled row of samples per source (the first test images of each), as a PNG."""
    if len(image_paths) != len(labels):
        raise GanprintError(f"{len(image_paths)} image arrays but {len(labels)} labels")
    strip_grid([sample_strip(load_images(path), per_source) for path in image_paths], labels, output, title)


def selection_grid(image_paths: list[str], selection_paths: list[str], labels: list[str], output: str,
                   per_row: int = 8, title: str = "") -> None:
    """Figure 5: per source, a row of images in the artifact-free subset and a row of images
    not in it (the first of each, in test-set order)."""
    if not len(image_paths) == len(selection_paths) == len(labels):
        raise GanprintError(f"{len(image_paths)} image arrays, {len(selection_paths)} selections, {len(labels)} labels")
    strips, row_labels = [], []
    for path, selection_path, label in zip(image_paths, selection_paths, labels):
        images = load_images(path)
        chosen = np.zeros(len(images), dtype=bool)
        chosen[np.load(selection_path)["selected"]] = True
        for name, rows in (("selected", np.flatnonzero(chosen)), ("not selected", np.flatnonzero(~chosen))):
            strips.append(sample_strip(images[rows[:per_row]], min(per_row, len(rows))))
            row_labels.append(f"{label}\n{name}")
    width = max(strip.shape[1] for strip in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    from .artifact_free import lpips_backbone

    strip_grid(strips, row_labels, output, f"{title} (LPIPS backbone: {lpips_backbone(selection_paths)})")


def strip_grid(strips: list[np.ndarray], labels: list[str], output: str, title: str = "") -> None:
    """Image strips one above the other, each with its label on the left."""
    height, width = strips[0].shape[:2]
    scale = max(1.0, 96 / height)  # readable rows even for 32x32 images
    figure, axes = plt.subplots(len(strips), 1, squeeze=False,
                                figsize=(width * scale / 100 + 1.6, len(strips) * (height * scale / 100 + 0.15) + 0.4))
    for axis, strip, label in zip(axes[:, 0], strips, labels):
        axis.imshow(strip, interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    save_figure(figure, output)


def save_figure(figure, output: str) -> None:
    figure.tight_layout()
    with atomic_path(output) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


# (column, legend label, line style) of each curve of a component figure
COMPONENT_CURVES = {
    "bands": ("resolution", [("low_band_accuracy", "low band (pre-downsampling)", "-o"),
                             ("high_band_accuracy", "high band (pre-downsampling residual)", "--s")],
              "switching resolution r (pixels)"),
    "patches": ("patch_size", [("accuracy", "post-pooling", "-o")], "patch size (pixels)"),
}


def component_curves(table_path: str, kind: str, output: str, title: str = "") -> None:
    """Accuracy against resolution (both bands) or against patch size, one colour per data set."""
    table = pd.read_csv(table_path)
    x_column, curves, x_label = COMPONENT_CURVES[kind]
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for colour, (dataset, rows) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], table.groupby("dataset")):
        rows = rows.sort_values(x_column)
        for column, label, style in curves:
            present = rows[column].notna()
            axis.plot(rows[x_column][present], rows[column][present], style, color=colour, label=f"{dataset}: {label}")
    axis.set_xscale("log", base=2)
    axis.set_xticks(sorted(table[x_column].unique()), [str(v) for v in sorted(table[x_column].unique())])
    axis.set_xlabel(x_label)
    axis.set_ylabel("accuracy (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    if title:
        axis.set_title(title, fontsize=10)
    save_figure(figure, output)


def training_length_curves(table_path: str, dataset: str, output: str, title: str = "") -> None:
    """Accuracy of each method against the GANs' training length, with chance marked."""
    table = pd.read_csv(table_path)
    rows = table[table["dataset"] == dataset]
    if rows.empty:
        raise GanprintError(f"{table_path} has no rows for data set '{dataset}'")
    x_column = "images_shown" if "images_shown" in rows.columns else "fraction"
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for method, curve in rows.groupby("method", sort=False):
        curve = curve.sort_values(x_column)
        axis.plot(curve[x_column], curve["accuracy"], "o-" if method == "ours" else "s--",
                  linewidth=2.2 if method == "ours" else 1.2, label=method)
    axis.axhline(100.0 / rows["n_classes"].iloc[0], color="grey", linestyle=":", label="chance")
    axis.set_xlabel("real images shown to each GAN" if x_column == "images_shown" else "fraction of the GAN run")
    axis.set_ylabel("test accuracy (%)")
    axis.set_ylim(0, 101)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower left")
    if title:
        axis.set_title(title, fontsize=10)
    save_figure(figure, output)
