"""Figures: sample grids (Figure 4) and the component-analysis curves (Tables 4 and 5)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .errors import GanprintError  # noqa: E402
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


def text_width_inches(texts: list[str], fontsize: float) -> float:
    """The width the widest of the texts takes when drawn (lines of a text one above the other)."""
    figure = plt.figure(dpi=100)
    renderer = figure.canvas.get_renderer()
    width = max(figure.text(0, 0, text, fontsize=fontsize).get_window_extent(renderer).width for text in texts)
    plt.close(figure)
    return width / 100


def strip_grid(strips: list[np.ndarray], labels: list[str], output: str, title: str = "") -> None:
    """Image strips one above the other, each with its label on the left, in a margin as wide
    as the widest label (all in inches, at 100 pixels per inch)."""
    height, width = strips[0].shape[:2]
    scale = max(1.0, 96 / height)  # readable rows even for 32x32 images
    pad, gap, label_gap, fontsize = 0.15, 0.15, 0.08, 9
    strip_width, strip_height = width * scale / 100, height * scale / 100
    left = pad + text_width_inches(labels, fontsize) + label_gap
    top = 0.4 if title else pad
    figure_width = max(left + strip_width + pad, 2 * pad + text_width_inches([title], 10))
    figure_height = top + len(strips) * strip_height + (len(strips) - 1) * gap + pad
    figure = plt.figure(figsize=(figure_width, figure_height))
    for row, (strip, label) in enumerate(zip(strips, labels)):
        bottom = figure_height - top - (row + 1) * strip_height - row * gap
        axis = figure.add_axes((left / figure_width, bottom / figure_height,
                                strip_width / figure_width, strip_height / figure_height))
        axis.imshow(strip, interpolation="nearest", aspect="auto")
        axis.set_xticks([])
        axis.set_yticks([])
        figure.text((left - label_gap) / figure_width, (bottom + strip_height / 2) / figure_height, label,
                    ha="right", va="center", fontsize=fontsize)
    if title:
        figure.suptitle(title, fontsize=10, y=1 - 0.1 / figure_height, va="top")
    save_figure(figure, output, tight=False)


def save_figure(figure, output: str, tight: bool = True) -> None:
    if tight:
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


# (marker, line style) of each method's curve in turn; the first is drawn widest, underneath.
CURVE_STYLES = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", (0, (5, 1, 1, 1, 1, 1))), ("P", (0, (1, 2)))]


def accuracy_limits(accuracies, chance: float) -> tuple[float, float]:
    """The accuracy axis around the curves, with a margin; down to chance where the lowest
    curve is nearer chance than 100%."""
    low, high = float(np.nanmin(accuracies)), float(np.nanmax(accuracies))
    if low - chance < 100 - low:
        low = min(low, chance)
    margin = max(0.06 * (high - low), 0.5)
    return low - margin, high + margin


def training_length_curves(table_path: str, dataset: str, output: str, title: str = "") -> None:
    """Accuracy of each method against the GANs' training length, chance in the legend (and
    drawn where the axis reaches it). Curves that coincide stay visible: each later one is
    narrower, with its own marker (hollow) and line style."""
    table = pd.read_csv(table_path)
    rows = table[table["dataset"] == dataset]
    if rows.empty:
        raise GanprintError(f"{table_path} has no rows for data set '{dataset}'")
    x_column = "images_shown" if "images_shown" in rows.columns else "fraction"
    methods = sorted(rows["method"].unique(), key=lambda method: method != "ours")
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for order, method in enumerate(methods):
        curve = rows[rows["method"] == method].sort_values(x_column)
        marker, line_style = CURVE_STYLES[order % len(CURVE_STYLES)]
        axis.plot(curve[x_column], curve["accuracy"], marker=marker, linestyle=line_style, label=method,
                  linewidth=max(4.5 * 0.7**order, 0.8), markersize=max(12 - 1.5 * order, 4), markerfacecolor="none",
                  markeredgewidth=1.5, zorder=2 + order)
    chance = 100.0 / rows["n_classes"].iloc[0]
    axis.axhline(chance, color="grey", linestyle=":", label=f"chance ({chance:.3g}%)")
    axis.set_ylim(*accuracy_limits(rows["accuracy"], chance))
    axis.set_xlabel("real images shown to each GAN" if x_column == "images_shown" else "fraction of the GAN run")
    axis.set_ylabel("test accuracy (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="best")
    if title:
        axis.set_title(title, fontsize=10)
    save_figure(figure, output)


# The x axis of each perturbation of the robustness figure, from mild to strong.
ROBUSTNESS_AXES = {"jpeg": ("JPEG quality", True), "downscale": ("downscaling factor", True),
                   "blur": ("Gaussian blur sigma (pixels)", False)}


def robustness_curves(table_path: str, dataset: str, output: str, title: str = "") -> None:
    """One panel per perturbation: each method's accuracy against its level (mild on the left,
    the clean images' accuracy as the first point), chance drawn."""
    table = pd.read_csv(table_path)
    rows = table[table["dataset"] == dataset]
    if rows.empty:
        raise GanprintError(f"{table_path} has no rows for data set '{dataset}'")
    clean = rows[rows["perturbation"] == "none"].set_index("method")["accuracy"]
    methods = sorted(rows["method"].unique(), key=lambda method: method != "ours")
    shown = [name for name in ROBUSTNESS_AXES if name in set(rows["perturbation"])]
    figure, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.4), sharey=True, squeeze=False)
    chance = 100.0 / rows["n_classes"].iloc[0] if "n_classes" in rows else None
    for axis, perturbation in zip(axes[0], shown):
        label, descending = ROBUSTNESS_AXES[perturbation]
        for order, method in enumerate(methods):
            curve = rows[(rows["perturbation"] == perturbation) & (rows["method"] == method)].sort_values("level")
            marker, style = CURVE_STYLES[order % len(CURVE_STYLES)]
            axis.plot(curve["level"], curve["accuracy"], marker=marker, linestyle=style, label=method,
                      markerfacecolor="none", linewidth=max(3 * 0.75**order, 0.8), zorder=2 + order)
            axis.axhline(clean.get(method, np.nan), color=axis.lines[-1].get_color(), alpha=0.25, linewidth=1)
        if descending:
            axis.invert_xaxis()
        if chance is not None:
            axis.axhline(chance, color="grey", linestyle=":", label=f"chance ({chance:.3g}%)")
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][0].set_ylim(*accuracy_limits(rows["accuracy"], chance if chance is not None else 0.0))
    axes[0][-1].legend(fontsize=7, loc="best")
    if title:
        figure.suptitle(title, fontsize=10)
    save_figure(figure, output)


def _signed_display(pattern: np.ndarray) -> tuple[np.ndarray, float]:
    """A signed pattern mapped to [0, 1] around grey by its largest magnitude m (returned)."""
    largest = float(np.abs(pattern).max()) or 1.0
    return np.clip(0.5 + 0.5 * pattern / largest, 0, 1), largest


def _bare(axis) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)


def fingerprint_grid(model_fingerprints: np.ndarray, sources: list[str], rows: list[dict], output: str,
                     matrix: np.ndarray | None = None, title: str = "") -> None:
    """Figure 7: the model fingerprint of each source across the top; below, per image: the
    image, its reconstruction, its image fingerprint and its response to each model
    fingerprint (under the model fingerprint it answers); beside them, the matrix of mean
    correlations. Signed panels are scaled to their own largest magnitude m, stated under
    each: image fingerprints in grey levels, model fingerprints (unit norm) as m."""
    n_sources = len(sources)
    columns = 3 + n_sources
    matrix_width = 0.55 * n_sources + 1.6 if matrix is not None else 0
    figure = plt.figure(figsize=(1.0 * columns + 0.9 + matrix_width, 1.05 * (1 + len(rows)) + 0.4), layout="constrained")
    grid_figure, matrix_figure = (figure.subfigures(1, 2, width_ratios=[columns + 0.9, matrix_width])
                                  if matrix is not None else (figure, None))
    axes = grid_figure.subplots(1 + len(rows), columns, squeeze=False)
    for axis in axes.flat:
        _bare(axis)
    axes[0, 0].text(0.5, 0.5, "model\nfingerprints", ha="center", va="center", fontsize=8)
    for index, source in enumerate(sources):
        shown, largest = _signed_display(model_fingerprints[index])
        axes[0, 3 + index].imshow(shown, interpolation="nearest")
        axes[0, 3 + index].set_title(source, fontsize=7)
        axes[0, 3 + index].set_xlabel(f"m={largest:.3f}", fontsize=6)
    for row, axes_row in zip(rows, axes[1:]):
        axes_row[0].imshow(np.clip((row["image"] + 1) / 2, 0, 1), interpolation="nearest")
        axes_row[0].set_ylabel(row["label"], rotation=0, ha="right", va="center", fontsize=7)
        axes_row[1].imshow(np.clip((row["reconstruction"] + 1) / 2, 0, 1), interpolation="nearest")
        shown, largest = _signed_display(row["fingerprint"])
        axes_row[2].imshow(shown, interpolation="nearest")
        axes_row[2].set_xlabel(f"m={127.5 * largest:.0f} levels", fontsize=6)
        for index, response in enumerate(row["responses"]):
            limit = float(np.abs(response).max()) or 1.0
            axes_row[3 + index].imshow(response, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            axes_row[3 + index].set_xlabel(f"r={row['correlations'][index]:+.2f}", fontsize=6)
    for column, name in enumerate(("image", "reconstruction", "image fingerprint")):
        axes[1, column].set_title(name, fontsize=7)
    if matrix is not None:
        _correlation_matrix(matrix_figure.subplots(), matrix, sources)
    if title:
        figure.suptitle(title, fontsize=10)
    with atomic_path(output) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def _correlation_matrix(axis, matrix: np.ndarray, sources: list[str]) -> None:
    limit = float(np.abs(matrix).max()) or 1.0
    axis.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                  color="white" if abs(value) > 0.6 * limit else "black",
                  fontweight="bold" if value == matrix[row].max() else "normal")
    axis.set_xticks(range(len(sources)), sources, rotation=45, ha="right", fontsize=7)
    axis.set_yticks(range(len(sources)), sources, fontsize=7)
    axis.set_xlabel("model fingerprint", fontsize=8)
    axis.set_ylabel("source of the test images", fontsize=8)
    axis.set_title("mean correlation", fontsize=9)


def scatter_maps(maps: dict, labels: np.ndarray, sources: list[str], output: str, title: str = "") -> None:
    """2-D point maps side by side (name -> N x 2), one colour per source."""
    figure, axes = plt.subplots(1, len(maps), figsize=(4.6 * len(maps) + 1.2, 4.4), squeeze=False)
    for axis, (name, points) in zip(axes[0], maps.items()):
        for label, source in enumerate(sources):
            where = labels == label
            axis.scatter(points[where, 0], points[where, 1], s=4, alpha=0.7, label=source)
        axis.set_title(name, fontsize=9)
        _bare(axis)
    axes[0, -1].legend(fontsize=7, markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        figure.suptitle(title, fontsize=10)
    save_figure(figure, output)
