"""Image sources with the same content that differ only in a trace at native resolution: the
cleanest test of whether a method sees a generator's fingerprint rather than its pictures.

Every source draws its own random crops of the embedded photographs, each reduced to half
the output side (the "content" a generator makes), then enlarges them two-fold its own way:
pixel replication, bilinear interpolation, a transposed convolution of a fixed kernel (the
checkerboard of GAN upsampling layers), or a Lanczos enlargement plus a fixed faint pattern
(a sensor-noise-like fingerprint). What tells them apart lives at the finest scale only; a
resize to a quarter of the side removes most of it.
"""

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import GanprintError
from ..storage import atomic_path
from .images import resize
from .real import embedded_photos

log = logging.getLogger(__name__)

# Amplitude, in 8-bit levels, of the `pattern` trace.
PATTERN_LEVELS = 2.0


def _replicate(content: np.ndarray, rng) -> np.ndarray:
    return content.repeat(2, axis=0).repeat(2, axis=1)


def _pillow(method):
    def enlarge(content: np.ndarray, rng) -> np.ndarray:
        height, width = content.shape[:2]
        return np.asarray(Image.fromarray(content).resize((2 * width, 2 * height), method), dtype=np.uint8)
    return enlarge


def _transposed_kernel() -> torch.Tensor:
    """A fixed 3x3 kernel per colour channel, strided by 2: its taps overlap unevenly, so the
    even and odd pixels of the output weigh their neighbours differently (a checkerboard)."""
    taps = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=torch.float64)
    skew = torch.tensor([[0.9, 1.0, 1.1], [1.0, 1.0, 1.0], [1.1, 1.0, 0.9]], dtype=torch.float64)
    return (taps * skew).expand(3, 1, 3, 3).clone()


def _transposed(content: np.ndarray, rng) -> np.ndarray:
    planes = torch.from_numpy(np.array(content)).permute(2, 0, 1).unsqueeze(0).double()
    enlarged = F.conv_transpose2d(planes, _transposed_kernel(), stride=2, padding=1, output_padding=1, groups=3)
    return enlarged[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _fixed_pattern(side: int) -> np.ndarray:
    return np.random.default_rng(20190101).standard_normal((side, side, 3)) * PATTERN_LEVELS


def _patterned(content: np.ndarray, rng) -> np.ndarray:
    enlarged = _pillow(Image.LANCZOS)(content, rng).astype(np.float64)
    return np.clip(np.round(enlarged + _fixed_pattern(enlarged.shape[0])), 0, 255).astype(np.uint8)


TRACES = {
    "nearest": _replicate,
    "bilinear": _pillow(Image.BILINEAR),
    "transposed": _transposed,
    "pattern": _patterned,
}


def content_crops(count: int, side: int, seed: int) -> list[np.ndarray]:
    """Random square crops of the embedded photographs (a quarter to a half of a photograph's
    short side), reduced to side x side."""
    photos = embedded_photos()
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        height, width = photo.shape[:2]
        short = min(height, width)
        crop = int(rng.integers(max(side, short // 4), max(side, short // 2) + 1))
        top, left = int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
        crops.append(resize(photo[top : top + crop, left : left + crop], side))
    return crops


def traced_images(trace: str, count: int, size: int, seed: int) -> list[np.ndarray]:
    """`count` images of size x size whose content is drawn with `seed`, enlarged by `trace`."""
    if trace not in TRACES:
        raise GanprintError(f"unknown trace '{trace}'; choose from {sorted(TRACES)}")
    if size % 2:
        raise GanprintError(f"traced images are enlarged two-fold: size must be even, got {size}")
    rng = np.random.default_rng(seed)
    return [TRACES[trace](content, rng) for content in content_crops(count, size // 2, seed)]


def save_image(pixels: np.ndarray, path: Path, quality: int | None = None) -> None:
    """PNG, or JPEG at `quality` (4:2:0 chroma, Pillow's default), written whole or not at all."""
    with atomic_path(path) as temporary:
        if quality is None:
            Image.fromarray(pixels).save(temporary, format="PNG")
        else:
            Image.fromarray(pixels).save(temporary, format="JPEG", quality=quality)


def write_trace_folders(output: str | Path, sources: dict, count: int, size: int = 128, seed: int = 0) -> list[Path]:
    """One folder of `count` images per source under `output`: sources[name] is (trace, JPEG
    quality or None for PNG, content seed or None). Each source draws its own content from
    the same distribution (seed + 1000 x its position), or the content of the seed it names:
    sources of one content seed hold the very same pictures."""
    folders = []
    for index, (name, (trace, quality, content_seed)) in enumerate(sources.items()):
        folder = Path(output) / name
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".png" if quality is None else ".jpg"
        drawn = seed + 1000 * index if content_seed is None else content_seed
        for number, pixels in enumerate(traced_images(trace, count, size, drawn)):
            save_image(pixels, folder / f"{number:05d}{suffix}", quality)
        log.info("wrote %d %s images of %dx%d to %s", count, trace, size, size, folder)
        folders.append(folder)
    return folders


def trace_sources() -> dict:
    """Every trace as a source of PNG files, named after it."""
    return {trace: (trace, None, None) for trace in TRACES}


def format_sources(trace: str = "bilinear", quality: int = 90) -> dict:
    """Two sources of the very same pictures, one saved as PNG, one as JPEG at `quality`: all
    that tells them apart is the file format."""
    return {"png": (trace, None, 0), "jpeg": (trace, quality, 0)}
