"""Labelled image sets: one image array per source, the label being the source's position."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..errors import GanprintError
from ..convert import uint8_tensor
from ..runtime import to_device
from ..storage import load_images


class LabelledImages:
    def __init__(self, paths: list[str]):
        if not paths:
            raise GanprintError("an attribution task needs at least one source")
        self.paths = list(paths)
        self.arrays = [load_images(path) for path in self.paths]
        sizes = {array.shape[1:3] for array in self.arrays}
        if len(sizes) != 1:
            shapes = ", ".join(f"{p}: {a.shape[1]}x{a.shape[2]}" for p, a in zip(self.paths, self.arrays))
            raise GanprintError(f"sources have different image sizes ({shapes})")
        self.resolution = self.arrays[0].shape[1]
        self.offsets = np.cumsum([0] + [len(array) for array in self.arrays])
        self.labels = np.repeat(np.arange(len(self.arrays)), np.diff(self.offsets))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def counts(self) -> list[int]:
        return [len(array) for array in self.arrays]

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of the given global rows (in the order given)."""
        rows = np.asarray(rows)
        labels = self.labels[rows]
        images = np.empty((len(rows), self.resolution, self.resolution, 3), dtype=np.uint8)
        for label in np.unique(labels):
            where = np.flatnonzero(labels == label)
            local = rows[where] - self.offsets[label]
            order = np.argsort(local)
            images[where[order]] = self.arrays[label][local[order]]
        return images, labels


def epoch_batches(data: LabelledImages, order: np.ndarray, batch_size: int, device, prefetch: bool | None = None):
    """(uint8 images, labels) tensors on `device` for consecutive batches of the rows in
    `order`. With `prefetch` (the default on a GPU) a worker thread gathers the next batch
    from the memory-mapped arrays and starts its copy while the current one is used; on the
    CPU that thread would take a core the job was not given."""
    device = torch.device(device)
    prefetch = device.type == "cuda" if prefetch is None else prefetch
    starts = range(0, len(order), batch_size)

    def load(start):
        images, labels = data.gather(order[start : start + batch_size])
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
