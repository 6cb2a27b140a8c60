"""Labelled image sets: one image array per source, the label being the source's position.

Every image is read as a patch of the set's `resolution`: a source whose images are larger
(native-resolution windows, patches.py) gives the patch at the corners asked for, its centre
patch otherwise; `PatchGrid` reads each image as its grid of patches."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..errors import GanprintError
from ..convert import uint8_tensor
from ..patches import Preprocessing, centre_corner, corner_choices, cut, grid_corners
from ..runtime import to_device
from ..storage import load_images


class LabelledImages:
    """The images of one array per source; with `patch`, arrays of larger images are read as
    patches of that side (without it, every array must hold images of one size)."""

    def __init__(self, paths: list[str], patch: int | None = None, align: int = 1):
        if not paths:
            raise GanprintError("an attribution task needs at least one source")
        self.paths = list(paths)
        self.arrays = [load_images(path) for path in self.paths]
        self.sides = [array.shape[1] for array in self.arrays]
        shapes = ", ".join(f"{p}: {a.shape[1]}x{a.shape[2]}" for p, a in zip(self.paths, self.arrays))
        if patch is None and len(set(self.sides)) != 1:
            raise GanprintError(f"sources have different image sizes ({shapes})")
        self.resolution = patch or self.sides[0]
        if min(self.sides) < self.resolution:
            raise GanprintError(f"sources hold images smaller than the {self.resolution}-pixel patch ({shapes})")
        self.align = align
        self.offsets = np.cumsum([0] + [len(array) for array in self.arrays])
        self.labels = np.repeat(np.arange(len(self.arrays)), np.diff(self.offsets))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def counts(self) -> list[int]:
        return [len(array) for array in self.arrays]

    @property
    def native(self) -> bool:
        """Whether some source's images are larger than the patch read."""
        return max(self.sides) > self.resolution

    def centre_corners(self, rows: np.ndarray) -> np.ndarray:
        """The corner of each row's centre patch."""
        centres = np.asarray([centre_corner(side, self.resolution, self.align) for side in self.sides])
        return centres[self.labels[rows]]

    def random_corners(self, stream: torch.Generator) -> np.ndarray:
        """One patch corner per image, drawn from `stream`, on the aligned positions."""
        counts = np.asarray([len(corner_choices(side, self.resolution, self.align)) for side in self.sides])
        draws = torch.rand(len(self), 2, generator=stream, dtype=torch.float64).numpy()
        return (np.floor(draws * counts[self.labels, None]).astype(np.int64) * self.align)

    def gather(self, rows: np.ndarray, corners: np.ndarray | None = None,
               perturb=None) -> tuple[np.ndarray, np.ndarray]:
        """Images (patches at `corners`, one per row; centre patches without) and labels of
        the given global rows (in the order given). `perturb(images, label, positions)`
        replaces the whole images of a source, at those positions of its array, before their
        patches are cut."""
        rows = np.asarray(rows)
        labels = self.labels[rows]
        if self.native and corners is None:
            corners = self.centre_corners(rows)
        images = np.empty((len(rows), self.resolution, self.resolution, 3), dtype=np.uint8)
        for label in np.unique(labels):
            where = np.flatnonzero(labels == label)
            # each image read once, in file order, however many of its patches are asked for
            stored, copies = np.unique(rows[where] - self.offsets[label], return_inverse=True)
            whole = self.arrays[label][stored]
            if perturb is not None:
                whole = perturb(whole, label, stored)
            whole = whole[copies]
            images[where] = whole if corners is None else cut(whole, corners[where], self.resolution)
        return images, labels


def read_as(paths: list[str], preprocessing: Preprocessing | None) -> LabelledImages:
    """The arrays as a model of this preprocessing reads them: native windows as patches of its
    size; resized images whole, and of its size (any one size without a preprocessing)."""
    if preprocessing is not None and preprocessing.native:
        return LabelledImages(paths, preprocessing.size, preprocessing.align)
    data = LabelledImages(paths)
    if preprocessing is not None and data.resolution != preprocessing.size:
        raise GanprintError(f"{', '.join(paths)}: {data.resolution}-pixel images, not the {preprocessing.size} "
                            "pixels of the model's input")
    return data


class PatchGrid:
    """Every image of a labelled set as its grid of patches (patches.grid_corners), one row
    per patch: the rows the baselines and evaluation score, `image_rows` saying whose they are."""

    def __init__(self, data: LabelledImages, grid: int):
        self.data, self.arrays, self.resolution = data, data.arrays, data.resolution
        per_source = [grid_corners(side, data.resolution, grid, data.align) for side in data.sides]
        per_image = [len(per_source[label]) for label in data.labels]
        self.image_rows = np.repeat(np.arange(len(data)), per_image)
        self.corners = np.concatenate([per_source[label] for label in data.labels])
        self.labels = data.labels[self.image_rows]

    def __len__(self) -> int:
        return len(self.image_rows)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows)
        return self.data.gather(self.image_rows[rows], self.corners[rows])


def epoch_batches(data: LabelledImages, order: np.ndarray, batch_size: int, device, prefetch: bool | None = None,
                  corners: np.ndarray | None = None, perturb=None):
    """(uint8 images, labels) tensors on `device` for consecutive batches of the rows in
    `order` (patches at `corners`, one per row of the set, when given; images perturbed as
    LabelledImages.gather says, with `perturb`). With `prefetch` (the
    default on a GPU) a worker thread gathers the next batch
    from the memory-mapped arrays and starts its copy while the current one is used; on the
    CPU that thread would take a core the job was not given."""
    device = torch.device(device)
    prefetch = device.type == "cuda" if prefetch is None else prefetch
    starts = range(0, len(order), batch_size)

    def load(start):
        rows = order[start : start + batch_size]
        images, labels = data.gather(rows, None if corners is None else corners[rows], perturb)
        return uint8_tensor(images, device), to_device(torch.from_numpy(labels), device)

    if not prefetch:
        yield from map(load, starts)
        return
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending = None
        for start in starts:
            current = pending.result() if pending is not None else load(start)
            following = start + batch_size
            pending = worker.submit(load, following) if following < len(order) else None
            yield current
