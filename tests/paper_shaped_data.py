"""Small data sets shaped like the paper's: an aligned-CelebA folder (178x218 JPEGs named
000001.jpg ...) and an LSUN-layout LMDB (JPEG and WebP records, shorter side 256), their
pictures cut from scikit-image's photographs so that every one is a different, textured
image. The rehearsal tests and the pre-flight tests run on them."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

CELEBA_SIZE = (178, 218)  # width, height of img_align_celeba
LSUN_SIZES = [(342, 256), (256, 341), (384, 256)]  # LSUN bedrooms: shorter side 256


def photographs() -> list[np.ndarray]:
    from skimage import data

    names = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "colorwheel"]
    return [getattr(data, name)()[..., :3] for name in names]


def picture(index: int, size: tuple[int, int], pictures: list[np.ndarray]) -> Image.Image:
    """A crop of one photograph at a place and scale set by `index`, resized to `size`."""
    rng = np.random.default_rng(index)
    photo = pictures[index % len(pictures)]
    height, width = photo.shape[:2]
    side = int(rng.integers(min(height, width) // 3, min(height, width)))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side])
    return crop.resize(size, Image.Resampling.BILINEAR)


def celeba_folder(folder, count: int) -> Path:
    """`count` CelebA-shaped JPEGs (quality 95, as img_align_celeba's) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pictures = photographs()
    for index in range(count):
        picture(index, CELEBA_SIZE, pictures).save(folder / f"{index + 1:06d}.jpg", quality=95)
    return folder


def lsun_lmdb(path, count: int) -> Path:
    """An LMDB of `count` records keyed like LSUN's (hex digests), every other one WebP
    (LSUN's files) and the rest JPEG."""
    import hashlib

    import lmdb

    pictures = photographs()
    environment = lmdb.open(str(path), map_size=1 << 30)
    with environment.begin(write=True) as transaction:
        for index in range(count):
            encoded = io.BytesIO()
            kind = "WEBP" if index % 2 else "JPEG"
            picture(index, LSUN_SIZES[index % len(LSUN_SIZES)], pictures).save(encoded, kind, quality=75)
            key = hashlib.sha1(str(index).encode()).hexdigest().encode()
            transaction.put(key, encoded.getvalue())
    environment.close()
    return Path(path)
