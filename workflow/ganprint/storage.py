"""Writing outputs atomically and reading them back.

Every output goes to a temporary name beside its final path and is renamed into place
only when complete, so an interrupted job never leaves a file that looks finished.
torch is imported only by the checkpoint functions: tables and figures do without it.
"""

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import GanprintError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path; rename it to `path` on success, delete it on failure."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, final)
    finally:
        if temporary.exists():
            temporary.unlink()


@contextlib.contextmanager
def image_array_writer(path: str | os.PathLike, count: int, size: int):
    """Yield a writable uint8 memmap of shape (count, size, size, 3) that lands at `path`."""
    with atomic_path(path) as temporary:
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=(count, size, size, 3))
        yield array
        array.flush()
        del array


def write_rows(images: np.ndarray, rows: np.ndarray, output: str | os.PathLike, chunk: int = 4096) -> None:
    """Copy the given rows of an image array to a new array, a chunk at a time."""
    with image_array_writer(output, len(rows), images.shape[1]) as array:
        for start in range(0, len(rows), chunk):
            array[start : start + chunk] = images[rows[start : start + chunk]]


def load_images(path: str | os.PathLike) -> np.ndarray:
    """Read an N x H x W x 3 uint8 image array, memory-mapped."""
    path = Path(path)
    if not path.exists():
        raise GanprintError(f"image array not found: {path}")
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError as error:
        raise GanprintError(f"{path} is not a readable .npy image array: {error}") from error
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise GanprintError(f"{path} holds {array.dtype} {array.shape}, expected uint8 N x H x W x 3")
    return array


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, array)


def save_json(path: str | os.PathLike, content) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def save_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Save plain tensors and containers only; loaded back with weights_only=True."""
    import torch

    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: str | os.PathLike, device="cpu") -> dict:
    import torch

    path = Path(path)
    if not path.exists():
        raise GanprintError(f"checkpoint not found: {path}")
    return torch.load(path, map_location=device, weights_only=True)


def settings_fingerprint(settings: dict) -> str:
    """A short digest of the settings a resumable state was produced with."""
    encoded = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def load_resume_state(path: str | os.PathLike, fingerprint: str) -> dict | None:
    """The saved state at `path` if it was made with the same settings, else None."""
    import torch

    path = Path(path)
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring %s: it was written with other settings", path)
        return None
    return state


def save_resume_state(path: str | os.PathLike, fingerprint: str, state: dict) -> None:
    save_checkpoint(path, {**state, "fingerprint": fingerprint})
