"""The one image reader and the crops applied to real images."""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import GanprintError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"}

# CelebA aligned images are 178 x 218; the authors crop 128 x 128 around this point.
CELEBA_CENTRE = (89, 121)
CELEBA_CROP = 128


def list_images(folder: Path) -> list[Path]:
    """Image files below a folder, sorted by path."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


@dataclass
class DecodedImage:
    pixels: np.ndarray  # H x W x 3 uint8
    converted_from: str | None  # original PIL mode when it was not RGB


def decode_image(data: bytes | str, name: str) -> DecodedImage:
    """Decode a file path or encoded bytes to RGB; `name` is used in error messages."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            image.load()
            mode = image.mode
            rgb = image.convert("RGB") if mode != "RGB" else image.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise GanprintError(f"cannot read image {name}: {error}") from error
    return DecodedImage(np.asarray(rgb, dtype=np.uint8), None if mode == "RGB" else mode)


def resize(pixels: np.ndarray, size: int) -> np.ndarray:
    if pixels.shape[0] == size and pixels.shape[1] == size:
        return pixels
    image = Image.fromarray(pixels).resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def centre_crop(pixels: np.ndarray, size: int, name: str) -> np.ndarray:
    """Largest centred square, resized to size x size (the authors' LSUN preprocessing)."""
    height, width = pixels.shape[:2]
    side = min(height, width)
    if side < size:
        raise GanprintError(f"image {name} is {width}x{height}, smaller than the {size}x{size} output")
    top, left = (height - side) // 2, (width - side) // 2
    return resize(pixels[top : top + side, left : left + side], size)


def celeba_crop(pixels: np.ndarray, size: int, name: str) -> np.ndarray:
    """128 x 128 around (89, 121) of the aligned CelebA image, resized to size x size."""
    height, width = pixels.shape[:2]
    half = CELEBA_CROP // 2
    x, y = CELEBA_CENTRE
    if x - half < 0 or y - half < 0 or x + half > width or y + half > height:
        raise GanprintError(
            f"image {name} is {width}x{height}; the CelebA crop needs the 178x218 aligned image"
        )
    return resize(pixels[y - half : y + half, x - half : x + half], size)


CROPS = {"centre": centre_crop, "celeba": celeba_crop}


def crop_function(name: str):
    if name not in CROPS:
        raise GanprintError(f"unknown crop '{name}'; choose one of {sorted(CROPS)}")
    return CROPS[name]
