"""LPIPS as a Euclidean embedding, for exact nearest-neighbour search at matrix-product speed.

LPIPS (Zhang et al. 2018; the `lpips` package's network and its shipped linear heads) is
d(x, y) = sum_l 1/(H_l W_l) sum_{h,w} sum_c w_{l,c} (f_l(x) - f_l(y))^2, with f_l the
channel-unit-normalised features of layer l and w >= 0. With
e(x) = concat_l( f_l(x) * sqrt(w_l / (H_l W_l)) ), d(x, y) = ||e(x) - e(y)||^2 exactly, so
the nearest real image of each generated one is a chunked GEMM search
(ganprint.neighbours) over embeddings computed once per image.

The ImageNet backbone (AlexNet or VGG16) weights come from torchvision's cache
($TORCH_HOME/hub/checkpoints/) or a configured file; nothing is downloaded.
"""

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import GanprintError
from .convert import to_unit_range

log = logging.getLogger(__name__)

BACKBONE_FILES = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
}


def cached_backbone_path(net: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net].rsplit("/", 1)[-1]


def locate_backbone(net: str, configured: str | None) -> Path | None:
    """The configured file (an error if missing), else torchvision's cached one, else None."""
    if net not in BACKBONE_FILES:
        raise GanprintError(f"LPIPS network must be one of {sorted(BACKBONE_FILES)}, got '{net}'")
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_file():
            raise GanprintError(f"artifact_free.backbone_weights: {path} does not exist; {how_to_get_backbone(net)}")
        return path
    cached = cached_backbone_path(net)
    return cached if cached.is_file() else None


def how_to_get_backbone(net: str) -> str:
    return (f"download {BACKBONE_FILES[net]} on a machine with internet and put it at {cached_backbone_path(net)} "
            f"(or set artifact_free.backbone_weights to its path)")


def lpips_network(net: str = "alex", backbone: Path | None = None) -> torch.nn.Module:
    """The `lpips` package's LPIPS with its shipped linear heads; the backbone loaded from
    `backbone` (a torchvision ImageNet state dict), randomly initialised when None."""
    import lpips
    import torchvision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecation of `pretrained`, used inside lpips
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    if backbone is not None:
        reference = {"alex": torchvision.models.alexnet, "vgg": torchvision.models.vgg16}[net](weights=None)
        try:
            reference.load_state_dict(torch.load(backbone, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, ValueError) as error:
            raise GanprintError(f"{backbone} is not torchvision's ImageNet {net} weights file: {error}") from error
        for layer_slice in model.net.children():
            for index, module in layer_slice.named_children():
                module.load_state_dict(reference.features[int(index)].state_dict())
    return model.eval().requires_grad_(False)


# Smallest side each backbone's layers accept; smaller images are upsampled (bilinear) to it.
MIN_SIDE = {"alex": 32, "vgg": 16}


class LpipsEmbedding(torch.nn.Module):
    """e(x) for images in [-1, 1] (N x 3 x H x W): ||e(x) - e(y)||^2 is their LPIPS distance
    (of the images upsampled to the backbone's smallest input side, where they are smaller)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.min_side = MIN_SIDE[model.pnet_type]
        weights = [layer.model[-1].weight.detach().flatten() for layer in model.lins]
        if any(float(w.min()) < 0 for w in weights):
            raise GanprintError("LPIPS linear weights must be non-negative for the Euclidean embedding")
        for index, weight in enumerate(weights):
            self.register_buffer(f"root_weight{index}", weight.sqrt().reshape(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        import lpips

        if images.shape[-1] < self.min_side:
            images = torch.nn.functional.interpolate(images, size=(self.min_side, self.min_side), mode="bilinear",
                                                     align_corners=False)
        layers = self.model.net(self.model.scaling_layer(images))
        parts = []
        for index, features in enumerate(layers):
            scale = getattr(self, f"root_weight{index}") / np.sqrt(features.shape[2] * features.shape[3])
            parts.append((lpips.normalize_tensor(features) * scale).flatten(1))
        return torch.cat(parts, dim=1)


@torch.no_grad()
def embed_images(embedding: LpipsEmbedding, images: np.ndarray, device, batch: int = 64) -> torch.Tensor:
    """Embeddings (float32, on `device`) of uint8 N x H x W x 3 images, a batch at a time."""
    return torch.cat([embedding(to_unit_range(images[start : start + batch], device)).float()
                      for start in range(0, len(images), batch)])
