"""Perturbation attacks on uint8 image batches (Sec. 4.4): noise, blur, crop, JPEG, relighting
and their combination.

Every image draws its attack parameters (and its noise) from its own stream,
SeedSequence([seed, index]), so an attacked set is the same whatever the batch size. The
images are processed as batches on the given device (GPU when there is one); JPEG goes
through Pillow's encoder and decoder on the CPU, images in parallel threads.
"""

import dataclasses
import functools
import io
import logging
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data.images import jpeg_round_trip
from .errors import GanprintError
from . import runtime
from .convert import LUMINANCE, uint8_tensor
from .filters import downsample_to, gaussian_kernel, separable_filter
from .names import ATTACKS, COMBINATION_ORDER
from .settings import defaults_from_schema
from .storage import image_array_writer, load_images

log = logging.getLogger(__name__)


@dataclasses.dataclass
@defaults_from_schema("attacks")
class AttackSettings:
    noise_std: tuple           # uniform range, 0-255 units
    blur_sizes: tuple          # Gaussian kernel sizes, sigma as OpenCV derives it
    crop_fraction: tuple       # uniform range of the side cut away
    jpeg_quality: tuple        # uniform integer range, inclusive
    relight_strength: float    # amplitude of the new lighting field (share of the mean)
    relight_model: str | None  # TorchScript relighting model replacing the default
    probability: float         # of each step of the combination
    combination_steps: tuple   # the attacks the combination composes, in COMBINATION_ORDER

    def __post_init__(self):
        self.combination_steps = tuple(self.combination_steps)


def image_streams(seed: int | list[int], indices) -> list[np.random.Generator]:
    """One random stream per image, from SeedSequence(seed + [index])."""
    prefix = list(seed) if isinstance(seed, (list, tuple)) else [seed]
    return [np.random.default_rng(prefix + [int(index)]) for index in indices]


def array_seed(seed: int, stream: str) -> list[int]:
    """The seed of one image array's draws: `stream` (e.g. its source and split) gives the
    array its own draws under the same seed."""
    return [seed, zlib.crc32(stream.encode())]


def to_float(images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float N x 3 x H x W in 0-255."""
    return uint8_tensor(images, device).permute(0, 3, 1, 2).float()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return images.round().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def noise(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """i.i.d. Gaussian noise, one standard deviation per image. The paper draws the noise's
    "variance" from U[5, 20]; this reads the range as a standard deviation in 0-255 units,
    as Frank et al. (ICML 2020) do (a variance of 5-20 would be a std of 2.2-4.5)."""
    draws = [(stream.uniform(*settings.noise_std), stream.standard_normal(images.shape[1:])) for stream in streams]
    std = torch.tensor([d[0] for d in draws], dtype=images.dtype, device=images.device).reshape(-1, 1, 1, 1)
    fields = torch.from_numpy(np.stack([d[1] for d in draws])).to(images)
    return (images + std * fields).clamp(0, 255)


def blur(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """Gaussian blur; kernel size drawn per image, images of one size filtered together."""
    sizes = np.array([stream.choice(settings.blur_sizes) for stream in streams])
    blurred = images.clone()
    for size in np.unique(sizes):
        rows = torch.from_numpy(np.flatnonzero(sizes == size)).to(images.device)
        blurred[rows] = separable_filter(images[rows], gaussian_kernel(int(size)))
    return blurred


def crop(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """Cut away a share of the side at random offsets, resize back (bilinear), all images in
    one grid_sample call."""
    side = images.shape[-1]
    boxes = []
    for stream in streams:
        kept = 1.0 - stream.uniform(*settings.crop_fraction)
        boxes.append((kept, stream.uniform(0, 1 - kept), stream.uniform(0, 1 - kept)))
    kept, left, top = (torch.tensor(column, dtype=images.dtype, device=images.device) for column in zip(*boxes))
    theta = torch.zeros(len(boxes), 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = kept
    theta[:, 0, 2] = 2 * left + kept - 1
    theta[:, 1, 2] = 2 * top + kept - 1
    grid = F.affine_grid(theta, [len(boxes), 3, side, side], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def jpeg(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """Real JPEG encoding and decoding (Pillow), quality drawn per image."""
    low, high = settings.jpeg_quality
    qualities = [stream.integers(low, high + 1) for stream in streams]
    pixels = to_uint8(images)
    with ThreadPoolExecutor(max_workers=torch.get_num_threads()) as pool:
        decoded = list(pool.map(jpeg_round_trip, pixels, qualities))
    return to_float(np.stack(decoded), images.device)


def lighting_field(streams, side: int, strength: float, device) -> torch.Tensor:
    """A random smooth field per image, 1 + a low-order polynomial in (u, v) in [-1, 1]^2
    (linear, cross and quadratic terms, coefficients uniform in [-strength, strength])."""
    axis = torch.linspace(-1, 1, side, device=device)
    v, u = torch.meshgrid(axis, axis, indexing="ij")
    terms = torch.stack([u, v, u * v, u**2 - 1 / 3, v**2 - 1 / 3])
    coefficients = torch.tensor(np.stack([stream.uniform(-strength, strength, size=5) for stream in streams]),
                                dtype=torch.float32, device=device)
    return 1.0 + torch.einsum("nt,thw->nhw", coefficients, terms).unsqueeze(1)


def relight(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """Replace the lighting, a low-frequency change only.

    Default (a general method, usable on faces and bedrooms alike): the shading is estimated
    as the luminance Gaussian-downsampled to 4x4 and upsampled back (bilinear), i.e. its
    lowest frequencies; it is replaced by the image's mean luminance times a random smooth
    lighting field (lighting_field). The difference is added to every colour channel, so the
    image's higher frequencies are left as they were. With `relight_model`, a TorchScript
    model (images in [-1, 1], N x 3 x H x W -> same) replaces this, e.g. a learned face
    relighting such as SfSNet.
    """
    if settings.relight_model:
        return _relight_with_model(images, settings.relight_model)
    side = images.shape[-1]
    luminance = torch.einsum("c,nchw->nhw", torch.tensor(LUMINANCE, device=images.device), images).unsqueeze(1)
    shading = F.interpolate(downsample_to(luminance, min(4, side)), size=(side, side), mode="bilinear",
                            align_corners=False)
    new_shading = luminance.mean(dim=(2, 3), keepdim=True) * lighting_field(streams, side, settings.relight_strength,
                                                                            images.device)
    return (images + new_shading - shading).clamp(0, 255)


@functools.lru_cache(maxsize=2)
def _relight_model(path: str, device: torch.device) -> torch.jit.ScriptModule:
    try:
        return torch.jit.load(path, map_location=device).eval()
    except (RuntimeError, ValueError, OSError) as error:
        raise GanprintError(f"attacks.relight_model: {path} is not a loadable TorchScript model: {error}") from error


def _relight_with_model(images: torch.Tensor, path: str) -> torch.Tensor:
    with torch.no_grad():
        relit = _relight_model(path, images.device)(images / 127.5 - 1.0)
    if relit.shape != images.shape:
        raise GanprintError(f"attacks.relight_model {path} returned {tuple(relit.shape)} for {tuple(images.shape)}")
    return ((relit + 1.0) * 127.5).clamp(0, 255)


SINGLE_ATTACKS = {"noise": noise, "blur": blur, "crop": crop, "jpeg": jpeg, "relight": relight}


def combination(images: torch.Tensor, streams, settings: AttackSettings) -> torch.Tensor:
    """Relight, crop, blur, JPEG and noise in that order, those of `settings.combination_steps`,
    each applied to an image with probability `settings.probability` (drawn from that image's stream)."""
    images = images.clone()
    for name in [step for step in COMBINATION_ORDER if step in settings.combination_steps]:
        chosen = np.flatnonzero([stream.uniform() < settings.probability for stream in streams])
        if len(chosen):
            rows = torch.from_numpy(chosen).to(images.device)
            images[rows] = SINGLE_ATTACKS[name](images[rows], [streams[i] for i in chosen], settings)
    return images


def attack_function(name: str):
    if name not in ATTACKS:
        raise GanprintError(f"unknown attack '{name}'; known: {list(ATTACKS)}")
    return combination if name == "combination" else SINGLE_ATTACKS[name]


def attack_at(name: str, images: np.ndarray, seed: int | list[int], indices, settings: AttackSettings,
              device="cpu") -> np.ndarray:
    """The attacked uint8 images; `indices` are their positions in their set, which pick
    their streams."""
    streams = image_streams(seed, indices)
    return to_uint8(attack_function(name)(to_float(images, device), streams, settings))


def attack_batch(name: str, images: np.ndarray, seed: int | list[int], first_index: int, settings: AttackSettings,
                 device="cpu") -> np.ndarray:
    """The attacked uint8 images; `first_index` is the position of the first in its set."""
    return attack_at(name, images, seed, range(first_index, first_index + len(images)), settings, device)


@dataclasses.dataclass(frozen=True)
class FreshAttack:
    """An attack drawn afresh at every epoch of a training (attacks.defense.perturbations:
    fresh): image i of source s at epoch e draws from SeedSequence(array_seed(seed, "s/train/fresh")
    + [e, i])."""

    name: str
    settings: AttackSettings
    seed: int

    def __post_init__(self):
        attack_function(self.name)

    def perturbation(self, epoch: int, sources: list[str], device):
        """The epoch's perturb(images, label, positions) of LabelledImages.gather: the images
        of source `label` at `positions` in its array, attacked."""
        # a stream of its own: SeedSequence pads with zeros, so [.., e, 0] would be the fixed copy's [.., e]
        seeds = [array_seed(self.seed, f"{source}/train/fresh") + [epoch] for source in sources]
        return lambda images, label, positions: attack_at(self.name, images, seeds[label], positions, self.settings,
                                                          device)


def attack_images(name: str, images_path: str, output: str, seed: int, stream: str, settings: AttackSettings,
                  batch: int = 1024, threads: int = 1) -> None:
    """Attack every image of an array, a batch at a time. `stream` (e.g. the source and split)
    gives the array its own random draws under the same seed."""
    device = runtime.configure(threads)
    images = load_images(images_path)
    with image_array_writer(output, len(images), images.shape[1]) as attacked:
        for start in range(0, len(images), batch):
            attacked[start : start + batch] = attack_batch(name, images[start : start + batch],
                                                           array_seed(seed, stream), start, settings, device)
    log.info("%s: %d images of %s attacked", name, len(images), images_path)
