"""Procedural real images: the dead-leaves model of natural images.

Occluding discs of random colour, with radii drawn from a power law p(r) ~ r^-3 between
`min_radius` and `max_radius` (fractions of the image side), give scale-invariant images
with the edge and spectrum statistics of photographs (Lee, Mumford & Huang 2001). Every
pixel varies strongly from image to image and the mean image is flat, so a generator is
told from another by how it renders content, not by what the content is. Rendered at
`SUPERSAMPLE` times the size and box-filtered down, so edges are anti-aliased as a camera
would record them. Fully deterministic for a seed.
"""

import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..storage import image_array_writer

log = logging.getLogger(__name__)

SUPERSAMPLE = 2
CHUNK = 512


def dead_leaves_radii(rng: np.random.Generator, shape, min_radius: float, max_radius: float) -> np.ndarray:
    """Radii with density ~ r^-3 on [min_radius, max_radius], by inverting the CDF."""
    u = rng.random(shape)
    low, high = min_radius**-2, max_radius**-2
    return (low - u * (low - high)) ** -0.5


def render_dead_leaves(rng: np.random.Generator, count: int, size: int, discs: int,
                       min_radius: float, max_radius: float) -> np.ndarray:
    """`count` images, uint8 count x size x size x 3: discs painted back to front over a
    random background colour (the last leaf)."""
    side = size * SUPERSAMPLE
    backgrounds = rng.integers(0, 256, (count, 3))
    radii_unit = dead_leaves_radii(rng, (count, discs), min_radius, max_radius)
    centres = (rng.random((count, discs, 2)) * (1 + 2 * radii_unit[..., None]) - radii_unit[..., None]) * side
    radii = radii_unit * side
    colours = rng.integers(0, 256, (count, discs, 3))
    canvases = np.empty((count, side, side, 3), dtype=np.uint8)
    for index in range(count):
        canvas = Image.new("RGB", (side, side), tuple(int(c) for c in backgrounds[index]))
        draw = ImageDraw.Draw(canvas)
        for (y, x), radius, colour in zip(centres[index], radii[index], colours[index]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tuple(int(c) for c in colour))
        canvases[index] = np.asarray(canvas)
    pooled = canvases.reshape(count, size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(2, 4))
    return np.rint(pooled).astype(np.uint8)


def write_dead_leaves(output: str | Path, size: int, count: int, seed: int, discs: int = 20,
                      min_radius: float = 0.08, max_radius: float = 0.5) -> None:
    rng = np.random.default_rng(seed)
    with image_array_writer(output, count, size) as array:
        for start in range(0, count, CHUNK):
            n = min(CHUNK, count - start)
            array[start : start + n] = render_dead_leaves(rng, n, size, discs, min_radius, max_radius)
    log.info("wrote %d dead-leaves images of %dx%d to %s", count, size, size, output)
