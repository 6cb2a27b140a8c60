"""Features of the FID Inception network (pool3, 2048-d), for the Inception FD ratio.

The weights are pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (the TensorFlow FID
graph ported to PyTorch). Nothing is downloaded: the file is read from a configured path or
from torch's hub cache (`$TORCH_HOME/hub/checkpoints/`), where pytorch-fid itself keeps it.
"""

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_fid import inception as fid

from ..errors import GanprintError
from ..convert import uint8_tensor

WEIGHTS_URL = fid.FID_WEIGHTS_URL
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[-1]
INPUT_SIZE = 299


def cached_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def how_to_get_weights() -> str:
    return (f"download {WEIGHTS_URL} on a machine with internet and put it at {cached_weights_path()} "
            f"(or set baselines.inception.weights to its path)")


def locate_weights(configured: str | None) -> Path | None:
    """The configured file (an error if it does not exist), else the cached one, else None."""
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_file():
            raise GanprintError(f"baselines.inception.weights: {path} does not exist; {how_to_get_weights()}")
        return path
    cached = cached_weights_path()
    return cached if cached.is_file() else None


def fid_inception(weights: Path | None) -> torch.nn.Module:
    """The FID Inception-v3 (torchvision's network with pytorch-fid's modified blocks); randomly
    initialised when `weights` is None (for tests only)."""
    network = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=weights is None)
    network.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    network.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    network.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    network.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    network.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    network.Mixed_7b = fid.FIDInceptionE_1(1280)
    network.Mixed_7c = fid.FIDInceptionE_2(2048)
    if weights is not None:
        try:
            network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, ValueError) as error:
            raise GanprintError(f"{weights} is not the FID Inception weights file: {error}") from error
    return network.eval().requires_grad_(False)


POOL3_PATH = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
              "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
              "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool")


@torch.no_grad()
def pool3_features(network: torch.nn.Module, images: np.ndarray, device) -> torch.Tensor:
    """uint8 N x H x W x 3 -> N x 2048, resized bilinearly to 299 and scaled to [-1, 1] as in FID."""
    batch = uint8_tensor(images, device).permute(0, 3, 1, 2).float() / 255.0
    batch = F.interpolate(batch, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    batch = 2.0 * batch - 1.0
    for name in POOL3_PATH:
        batch = getattr(network, name)(batch)
    return batch.flatten(1)
