"""The attribution network of Yu et al. (ICCV 2019): a ProGAN-discriminator-shaped classifier.

No normalisation layers and no minibatch stddev; equalised learning rate, leaky ReLU 0.2,
reflect padding, inputs in [-1, 1]. Per resolution: conv3x3 -> lrelu -> conv3x3 -> lrelu
-> 2x2 average pool; at 4x4: conv3x3, flatten, dense -> the 512-d image fingerprint,
dense -> one logit per source (its weights are the model fingerprints).
"""

from dataclasses import dataclass

import torch
from torch import nn

from ..layers import EqualConv2d, EqualLinear, channels_at, downsample2x, leaky_relu, log2_resolution


@dataclass
class AttributionSettings:
    resolution: int = 128
    n_classes: int = 2
    fmap_base: int = 1024
    fmap_max: int = 512


class AttributionNetwork(nn.Module):
    def __init__(self, settings: AttributionSettings):
        super().__init__()
        log2_resolution(settings.resolution)
        self.settings = settings
        nf = lambda res: channels_at(res, settings.fmap_base, settings.fmap_max)  # noqa: E731
        self.blocks = nn.ModuleDict()
        in_channels = 3
        res = settings.resolution
        while res > 4:
            self.blocks[str(res)] = nn.ModuleList([
                EqualConv2d(in_channels, nf(res), 3, padding_mode="reflect"),
                EqualConv2d(nf(res), nf(res // 2), 3, padding_mode="reflect"),
            ])
            in_channels = nf(res // 2)
            res //= 2
        self.final_conv = EqualConv2d(in_channels, nf(4), 3, padding_mode="reflect")
        self.fingerprint = EqualLinear(nf(4) * 16, nf(4))
        self.classifier = EqualLinear(nf(4), settings.n_classes, gain=1.0)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The image fingerprint: the activations before the last dense layer."""
        x = images
        for block in self.blocks.values():
            for conv in block:
                x = leaky_relu(conv(x))
            x = downsample2x(x)
        x = leaky_relu(self.final_conv(x))
        return leaky_relu(self.fingerprint(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))
