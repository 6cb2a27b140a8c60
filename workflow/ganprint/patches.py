"""How an image becomes what a model reads, recorded with the model: resized to its side
(`centre`, `celeba`), or kept at native resolution (`native`): a centred square window of
native pixels, from which image_size patches are cut with no resampling at all.

Training draws one patch position per image per epoch; evaluation, the baselines and
`ganprint attribute` score a fixed grid of patches per image and combine them. Patch
corners lie on multiples of `align` pixels of the original image (the window's own corner
included), so a trace tied to the image's pixel grid (two-fold upsampling, JPEG's 8x8
blocks) keeps its phase in every patch.
"""

import dataclasses

import numpy as np

from .errors import GanprintError
from .settings import schema, schema_default

NATIVE = "native"
RESIZING_CROPS = ("centre", "celeba")
CROP_MODES = RESIZING_CROPS + (NATIVE,)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a model's input images went through; `window`, `grid` and `align` concern native
    crops only, `resampling` resizing ones only."""

    size: int
    crop: str = "centre"
    window: int = schema_default("patches", "window")
    grid: int = schema_default("patches", "grid")
    align: int = schema_default("patches", "align")
    alpha_background: str = schema_default("datasets", "*", "alpha_background")

    @property
    def native(self) -> bool:
        return self.crop == NATIVE

    @property
    def resampling(self) -> str | None:
        return None if self.native else "lanczos"

    def record(self) -> dict:
        """As stored in a model file and written in its metrics."""
        return {**dataclasses.asdict(self), "resampling": self.resampling}

    @staticmethod
    def from_record(record: dict, where: str) -> "Preprocessing":
        """A model file's preprocessing, refused naming `where` when it is not one ganprint makes."""
        if not isinstance(record, dict):
            raise GanprintError(f"{where}: its preprocessing is a {type(record).__name__}, not a mapping")
        fields = {field.name for field in dataclasses.fields(Preprocessing)}
        unknown = sorted(map(str, set(record) - fields - {"resampling"}))
        if unknown:
            raise GanprintError(f"{where}: unknown preprocessing keys {unknown}; known: {sorted(fields)}")
        try:
            preprocessing = Preprocessing(**{key: record[key] for key in fields & set(record)})
            preprocessing.check()
        except (TypeError, GanprintError) as error:
            raise GanprintError(f"{where}: bad preprocessing {record!r}: {error}") from error
        return preprocessing

    def check(self) -> None:
        sizes = schema()["properties"]["image_size"]["enum"]
        if self.size not in sizes:
            raise GanprintError(f"size {self.size!r} is not one of {sizes}")
        if self.crop not in CROP_MODES:
            raise GanprintError(f"crop {self.crop!r} is not one of {list(CROP_MODES)}")
        for key, value in (("window", self.window), ("grid", self.grid), ("align", self.align)):
            if not isinstance(value, int) or not 1 <= value <= 1 << 14:
                raise GanprintError(f"{key} {value!r} is not a whole number in [1, {1 << 14}]")
        if self.native and self.window < self.size:
            raise GanprintError(f"the native window ({self.window}) is smaller than the {self.size}-pixel patch")


def aligned_window(height: int, width: int, window: int, align: int) -> tuple[int, int, int]:
    """(top, left, side) of the centred square of at most `window` pixels, its corner on
    multiples of `align`."""
    side = min(window, height, width)
    top, left = ((height - side) // 2) // align * align, ((width - side) // 2) // align * align
    return top, left, side


def native_window(pixels: np.ndarray, window: int, align: int, name: str, at_least: int | None = None) -> np.ndarray:
    """The centred window of native pixels; an image smaller than `window` is refused, or,
    given `at_least`, gives a smaller window when its short side holds that many pixels."""
    height, width = pixels.shape[:2]
    needed = window if at_least is None else at_least
    if min(height, width) < needed:
        raise GanprintError(f"image {name} is {width}x{height}, smaller than the {needed}x{needed} native "
                            f"{'window' if at_least is None else 'patch'}")
    top, left, side = aligned_window(height, width, window, align)
    return pixels[top : top + side, left : left + side]


def corner_choices(side: int, patch: int, align: int) -> np.ndarray:
    """The patch corners along one axis of a window of `side` pixels."""
    if side < patch:
        raise GanprintError(f"a {side}-pixel image holds no {patch}-pixel patch")
    return np.arange(0, side - patch + 1, align)


def centre_corner(side: int, patch: int, align: int) -> tuple[int, int]:
    """(top, left) of the aligned patch nearest the window's centre."""
    choices = corner_choices(side, patch, align)
    middle = int(choices[np.abs(choices - (side - patch) / 2).argmin()])
    return middle, middle


def grid_corners(side: int, patch: int, grid: int, align: int) -> np.ndarray:
    """(top, left) of up to grid x grid patches spread evenly over a window, corners aligned;
    one patch, at (0, 0), when the window is the patch."""
    choices = corner_choices(side, patch, align)
    along = np.unique(choices[np.round(np.linspace(0, len(choices) - 1, grid)).astype(int)])
    return np.stack(np.meshgrid(along, along, indexing="ij"), -1).reshape(-1, 2)


def cut(images: np.ndarray, corners: np.ndarray, patch: int) -> np.ndarray:
    """images[i] cut at corners[i] to patch x patch (no copy of whole images)."""
    if images.shape[1] == patch and images.shape[2] == patch:
        return np.asarray(images)
    return np.stack([image[top : top + patch, left : left + patch] for image, (top, left) in zip(images, corners)])


def grid_patches(window: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """The grid of patches of one window: K x patch x patch x 3."""
    corners = grid_corners(window.shape[0], preprocessing.size, preprocessing.grid, preprocessing.align)
    return cut(np.broadcast_to(window, (len(corners),) + window.shape), corners, preprocessing.size)


def mean_by_image(values: np.ndarray, image_rows: np.ndarray, n_images: int) -> np.ndarray:
    """The mean of the rows of `values` that belong to each image (image_rows[i]: the image of row i)."""
    values = np.asarray(values, dtype=np.float64)
    totals = np.zeros((n_images,) + values.shape[1:])
    np.add.at(totals, image_rows, values)
    counts = np.bincount(image_rows, minlength=n_images).reshape((-1,) + (1,) * (values.ndim - 1))
    return totals / np.maximum(counts, 1)


def combined_probabilities(probabilities: np.ndarray, image_rows: np.ndarray, n_images: int) -> np.ndarray:
    """Each image's patches combined by their mean log-probability (a product of the patches'
    probabilities, renormalised): a patch that is sure counts more than one that is not."""
    logs = mean_by_image(np.log(np.clip(probabilities, 1e-30, None)), image_rows, n_images)
    logs -= logs.max(1, keepdims=True)
    combined = np.exp(logs)
    return (combined / combined.sum(1, keepdims=True)).astype(np.float32)

