"""The one image reader and the crops applied to real images."""

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import GanprintError
from ..settings import schema_default
from .formats import FileFormat, file_format

log = logging.getLogger(__name__)

# Image files by their names: the formats ganprint reads, where this Pillow reads them (AVIF
# since Pillow 11.3; HEIC needs a plugin Pillow does not have).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".gif",
                  ".avif", ".heic"} & set(Image.registered_extensions())
# The colours transparent pixels can be composited on (white: what image viewers show).
ALPHA_BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}
ALPHA_MODES = ("RGBA", "LA", "PA")
# Pillow's modes of one channel of 16 or 32 bits; their values are read as 16-bit (0-65535),
# and 32-bit values outside that range are refused.
WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
SIXTEEN_BITS = 65535

# CelebA aligned images are 178 x 218; the authors crop 128 x 128 around this point.
CELEBA_CENTRE = (89, 121)
CELEBA_CROP = 128


def list_images(folder: Path) -> list[Path]:
    """Image files below a folder, linked folders followed (each real folder once), sorted by
    path; hidden files and folders (names starting with a dot, such as macOS's AppleDouble
    `._x.png`) are not images. Files that are not images by their names are named in a warning."""
    folder = Path(folder)
    images, others, seen = [], [], set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or a second way to a folder
            folders[:] = []
            continue
        seen.add(real)
        # in name order, real folders before links: the images found do not depend on the
        # order the file system lists folders in, and a folder is read under its own name
        folders[:] = sorted((name for name in folders if not name.startswith(".")),
                            key=lambda name: (os.path.islink(os.path.join(root, name)), name))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            (images if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() else others).append(path)
    if others:
        log.warning("%s: %d files are not read, their names not those of images ganprint reads (%s): %s",
                    folder, len(others), " ".join(sorted(IMAGE_SUFFIXES)), ", ".join(map(str, sorted(others)[:5])))
    return sorted(images)


class FlatImageError(GanprintError):
    """An image that decodes to one colour: almost never what the user meant."""


@dataclass
class DecodedImage:
    pixels: np.ndarray  # H x W x 3 uint8
    converted_from: str | None  # original PIL mode when it was not RGB
    file: FileFormat | None = None  # what the file was: container, JPEG quality, size


def decode_image(data: bytes | str, name: str,
                 background: str = schema_default("datasets", "*", "alpha_background")) -> DecodedImage:
    """Decode a file path or encoded bytes to 8-bit RGB, upright (EXIF orientation applied);
    `name` is used in error messages. 16-bit images are scaled by their range (/257),
    transparency is composited on `background` (a name of ALPHA_BACKGROUNDS); floating-point
    images, and images of one colour after all that (FlatImageError), are refused."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            _warn_if_huge(image, name)
            _refuse_frames(image, name)
            image.load()
            mode, file = image.mode, file_format(image)
            pixels = _rgb_pixels(ImageOps.exif_transpose(image), name, ALPHA_BACKGROUNDS[background])
    except Image.DecompressionBombError as error:
        raise GanprintError(f"cannot read image {name}: too large to decode safely ({error})") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise GanprintError(f"cannot read image {name}: {error}") from error
    _refuse_flat(pixels, name, mode, background)
    return DecodedImage(pixels, None if mode == "RGB" else mode, file)


def _warn_if_huge(image: Image.Image, name: str) -> None:
    """Pillow's own warning of an image near its decompression limit does not say which."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        log.warning("image %s has %d pixels, more than Pillow's limit of %d: it takes that much memory to decode",
                    name, image.width * image.height, limit)


def _refuse_frames(image: Image.Image, name: str) -> None:
    """A generator makes one picture per file: an animation or a multi-page file is refused
    rather than read as its first frame. A camera's multi-picture JPEG (MPO: the photograph,
    then previews or depth maps) is read as its first picture, the photograph."""
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        raise GanprintError(f"image {name} holds {frames} frames (an animation or a multi-page file); ganprint reads "
                            "files of one picture: save the frame you mean as an image of its own")


def _refuse_flat(pixels: np.ndarray, name: str, mode: str, background: str) -> None:
    if (pixels == pixels[0, 0]).all():
        hint = (f"; its picture may be in the alpha channel, composited here on {background} "
                "(alpha_background chooses another colour)") if mode in ALPHA_MODES or mode == "P" else ""
        raise FlatImageError(f"image {name} decodes to one flat colour, RGB {tuple(map(int, pixels[0, 0]))}{hint}")


def _rgb_pixels(image: Image.Image, name: str, background: tuple[int, int, int]) -> np.ndarray:
    if image.mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if image.mode == "F":
        raise GanprintError(f"image {name} has floating-point pixels; save it with 8 or 16 bits per channel")
    if image.mode in WIDE_GREY_MODES:
        grey = np.asarray(image).astype(np.float64)
        if grey.min() < 0 or grey.max() > SIXTEEN_BITS:
            raise GanprintError(f"image {name} has 32-bit pixels from {grey.min():.0f} to {grey.max():.0f}, outside the "
                                "16-bit range; save it with 8 or 16 bits per channel")
        grey = np.round(grey / 257.0).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    """The image encoded as JPEG by Pillow at `quality` (4:2:0 chroma)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after JPEG encoding at `quality` and decoding."""
    with Image.open(io.BytesIO(jpeg_bytes(image, quality))) as decoded:
        return np.asarray(decoded.convert("RGB"))


def resize(pixels: np.ndarray, size: int) -> np.ndarray:
    if pixels.shape[0] == size and pixels.shape[1] == size:
        return pixels
    image = Image.fromarray(pixels).resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def centre_crop(pixels: np.ndarray, size: int, name: str, enlarge: bool = False) -> np.ndarray:
    """Largest centred square, resized to size x size (the authors' LSUN preprocessing); a
    smaller square is an error unless `enlarge`."""
    height, width = pixels.shape[:2]
    side = min(height, width)
    if side < size and not enlarge:
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
