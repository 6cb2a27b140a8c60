"""Real image sets: a folder (plain or CelebA), an LSUN LMDB, the embedded photographs, or
procedural dead-leaves images."""

import itertools
import logging
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import GanprintError
from ..settings import schema_default
from ..patches import NATIVE, native_window
from .formats import write_report
from ..storage import image_array_writer
from .procedural import write_dead_leaves
from .images import (IMAGE_SUFFIXES, WIDE_GREY_MODES, FlatImageError, crop_function, decode_image, jpeg_round_trip,
                     list_images, resize)

log = logging.getLogger(__name__)

# Colour photographs bundled with scikit-image that load without a download.
EMBEDDED_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "stereo_motorcycle",
    "colorwheel",
)

CHUNK = 256


def folder_items(folders: list[str | Path], count: int):
    """The images of the folders (each sorted by name, the folders in order) as (name, path)
    pairs, at least `count` of them."""
    paths = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise GanprintError(f"image folder not found: {folder}")
        found = list_images(folder)
        if not found:
            raise GanprintError(f"image folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        paths += found
    _require_count(len(paths), count, " + ".join(map(str, folders)))
    return ((str(p), str(p)) for p in paths)


# Walks the first N keys of an LMDB in a process of its own: damaged index pages can make
# liblmdb abort (SIGABRT) or fault (SIGBUS), which no Python code survives.
LMDB_WALK = """
import sys, lmdb
environment = lmdb.open(sys.argv[1], readonly=True, lock=False, readahead=False, subdir=sys.argv[2] == "dir")
with environment.begin(write=False) as transaction:
    for walked, _ in enumerate(transaction.cursor().iternext(values=False), 1):
        if walked >= int(sys.argv[3]):
            break
"""


# Reading the keys of LSUN's first 200k records takes seconds; far longer means a loop.
LMDB_WALK_SECONDS = 3600


def lmdb_walk_command(path: Path, count: int) -> list[str]:
    return [sys.executable, "-c", LMDB_WALK, str(path), "dir" if path.is_dir() else "file", str(count)]


def check_lmdb_intact(path: Path, environment, count: int) -> None:
    """A truncated copy (its last page beyond the end of the file) or a damaged index (the
    first `count` keys cannot be walked) is one error naming the database."""
    data = path / "data.mdb" if path.is_dir() else path
    last_page, page_size = environment.info()["last_pgno"], environment.stat()["psize"]
    needed, size = (last_page + 1) * page_size, data.stat().st_size
    if size < needed:
        raise GanprintError(f"{path} is truncated: its pages need {needed} bytes, {data} has {size}; copy it again")
    try:
        walk = subprocess.run(lmdb_walk_command(path, count), capture_output=True, text=True, timeout=LMDB_WALK_SECONDS)
    except subprocess.TimeoutExpired as error:
        raise GanprintError(f"{path} is damaged: walking the index of its first {count} records took over "
                            f"{LMDB_WALK_SECONDS} s (a loop in it?); copy it again") from error
    if walk.returncode != 0:
        how = (f"reading its index crashed ({signal_name(-walk.returncode)})" if walk.returncode < 0
               else (walk.stderr.strip().splitlines() or ["reading its index failed"])[-1])
        raise GanprintError(f"{path} is damaged: {how}; copy it again")


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def lmdb_items(path: str | Path, count: int):
    """The records of an LSUN LMDB (keys -> encoded image bytes), streamed, at least `count`."""
    import lmdb

    path = Path(path)
    if not path.exists():
        raise GanprintError(f"LMDB not found: {path}")
    try:
        environment = lmdb.open(str(path), readonly=True, lock=False, readahead=False, subdir=path.is_dir())
    except lmdb.Error as error:
        raise GanprintError(f"{path} is not an LMDB database, or not a readable one: {error}") from error
    try:
        with environment.begin(write=False) as transaction:
            _require_count(transaction.stat()["entries"], count, str(path))
        check_lmdb_intact(path, environment, count)
    except lmdb.Error as error:
        environment.close()
        raise GanprintError(f"{path} is not an LMDB database, or not a readable one: {error}") from error
    except GanprintError:
        environment.close()
        raise

    def records():
        key = b""
        try:
            with environment.begin(write=False) as transaction:
                for key, value in transaction.cursor().iternext():
                    yield f"{path}[{key.decode(errors='replace')}]", bytes(value)
        except lmdb.Error as error:
            raise GanprintError(f"{path} is damaged: reading past record {key.decode(errors='replace')!r} failed "
                                f"({error}); copy it again") from error
        finally:
            environment.close()

    return records()


def _require_count(available: int, requested: int, name: str) -> None:
    if available < requested:
        raise GanprintError(f"{name} holds {available} images, fewer than the {requested} requested")


# How each converted mode was made RGB, for the conversion report.
MODE_CONVERSIONS = {
    "L": "grey copied to R, G, B",
    **{mode: "16-bit grey scaled by 1/257" for mode in WIDE_GREY_MODES},
    "RGBA": "composited on {background}",
    "LA": "composited on {background}",
    "PA": "composited on {background}",
    "P": "palette expanded, transparency composited on {background}",
    "CMYK": "converted from CMYK",
}
BAD_IMAGE_POLICIES = ("fail", "skip")


def image_cropper(crop: str, size: int, window: int, align: int):
    """(crop function of pixels and a name, side of its images): a resizing crop to `size`, or
    the native window (patches.native_window)."""
    if crop == NATIVE:
        return (lambda pixels, name: native_window(pixels, window, align, name)), window
    resizing = crop_function(crop)
    return (lambda pixels, name: resizing(pixels, size, name)), size


def write_decoded(items, count: int, output: str | Path, size: int, crop: str, threads: int,
                  on_bad_image: str = "fail",
                  background: str = schema_default("datasets", "*", "alpha_background"),
                  window: int = schema_default("patches", "window"),
                  align: int = schema_default("patches", "align"), reencode_quality: int | None = None,
                  formats_output: str | None = None) -> None:
    """Decode, crop and store the first `count` images of `items` (resized to size x size, or,
    for crop native, their window x window native pixels); an unreadable image, or one
    that decodes to a single colour, stops the run (`fail`) or is skipped with a warning naming
    it, the next image taking its place (`skip`). Transparency is composited on `background`;
    with `reencode_quality`, every decoded image is encoded as JPEG at that quality and decoded
    again before its crop. Report the images converted to RGB, by mode, and those skipped, by
    kind, with examples; with `formats_output`, write the report of the files' formats."""
    if on_bad_image not in BAD_IMAGE_POLICIES:
        raise GanprintError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got '{on_bad_image}'")
    crop_image, side = image_cropper(crop, size, window, align)
    converted, skipped, files = {}, [], []

    def prepare(item):
        name, data = item
        try:
            decoded = decode_image(data, name, background)
            pixels = decoded.pixels if reencode_quality is None else jpeg_round_trip(decoded.pixels, reencode_quality)
            return name, crop_image(pixels, name), decoded.converted_from, decoded.file
        except GanprintError as error:
            if on_bad_image == "fail":
                raise
            return name, None, error, None

    filled = 0
    with image_array_writer(output, count, side) as array, ThreadPoolExecutor(max(1, threads)) as pool:
        while filled < count:
            chunk = list(itertools.islice(items, min(CHUNK, count - filled)))
            if not chunk:
                raise GanprintError(f"only {filled} of the {count} requested images are readable "
                                    f"({len(skipped)} skipped)")
            for name, pixels, note, file in pool.map(prepare, chunk):
                if pixels is None:
                    log.warning("skipped %s", note)
                    skipped.append((name, note))
                    continue
                array[filled] = pixels
                files.append(file)
                filled += 1
                if note:
                    converted.setdefault(note, []).append(name)
        if formats_output:
            write_report(files, formats_output)
    _report_conversions(converted, skipped, background)
    log.info("wrote %d images of %dx%d to %s", count, side, side, output)


def _report_conversions(converted: dict, skipped: list, background: str) -> None:
    for mode, names in sorted(converted.items()):
        how = MODE_CONVERSIONS.get(mode, "converted by Pillow").format(background=background)
        log.warning("converted %d %s-mode images to RGB (%s), e.g. %s", len(names), mode, how, ", ".join(names[:3]))
    flat = [name for name, error in skipped if isinstance(error, FlatImageError)]
    unreadable = [name for name, error in skipped if not isinstance(error, FlatImageError)]
    if flat:
        log.warning("skipped %d images that decode to one flat colour, e.g. %s", len(flat), ", ".join(flat[:3]))
    if unreadable:
        log.warning("skipped %d unreadable images, e.g. %s", len(unreadable), ", ".join(unreadable[:3]))


def embedded_photos() -> list[np.ndarray]:
    """The bundled colour photographs as H x W x 3 uint8 arrays."""
    import skimage.data

    photos = []
    for name in EMBEDDED_PHOTOS:
        loaded = getattr(skimage.data, name)()
        if isinstance(loaded, tuple):  # stereo_motorcycle: (left, right, disparity)
            photos.extend(image for image in loaded if image.ndim == 3)
        else:
            photos.append(loaded)
    return [np.ascontiguousarray(photo[..., :3]).astype(np.uint8) for photo in photos]


def write_embedded(output: str | Path, size: int, count: int, seed: int) -> None:
    """Random square crops of the embedded photographs, resized to size x size.

    Crop sides are drawn between 1/8 and 1/2 of a photograph's short side (at least
    `size`), so the set mixes textures and larger structures; fully deterministic for a seed.
    """
    photos = embedded_photos()
    rng = np.random.default_rng(seed)
    with image_array_writer(output, count, size) as array:
        for index in range(count):
            photo = photos[rng.integers(len(photos))]
            height, width = photo.shape[:2]
            short = min(height, width)
            side = int(rng.integers(max(size, short // 8), max(size, short // 2) + 1))
            top = int(rng.integers(0, height - side + 1))
            left = int(rng.integers(0, width - side + 1))
            array[index] = resize(photo[top : top + side, left : left + side], size)
    log.info("wrote %d embedded crops of %dx%d to %s", count, size, size, output)


def prepare_real(source: str, output: str, size: int, count: int, path: str | list[str] | None = None,
                 crop: str = schema_default("datasets", "*", "crop"), seed: int = schema_default("datasets", "*", "seed"),
                 threads: int = 1, on_bad_image: str = schema_default("datasets", "*", "on_bad_image"),
                 alpha_background: str = schema_default("datasets", "*", "alpha_background"),
                 window: int = schema_default("patches", "window"), align: int = schema_default("patches", "align"),
                 reencode_quality: int | None = None, formats_output: str | None = None) -> None:
    """Real images of a source into one array; a folder source may be several folders."""
    if count <= 0:
        raise GanprintError(f"count must be positive, got {count}")
    if source == "embedded":
        write_embedded(output, size, count, seed)
        return
    if source == "deadleaves":
        write_dead_leaves(output, size, count, seed)
        return
    paths = [path] if isinstance(path, (str, Path)) else [p for p in path or [] if p]
    if not paths:
        raise GanprintError(f"real source '{source}' needs a path")
    if source == "folder":
        items = folder_items(paths, count)
    elif source == "lmdb":
        if len(paths) != 1:
            raise GanprintError(f"an lmdb source reads one database, got {len(paths)} paths")
        items = lmdb_items(paths[0], count)
    else:
        raise GanprintError(f"unknown real source '{source}'; choose deadleaves, embedded, folder or lmdb")
    write_decoded(items, count, output, size, crop, threads, on_bad_image, alpha_background, window, align,
                  reencode_quality, formats_output)
