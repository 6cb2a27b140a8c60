"""SNGAN's ResNet generator and discriminator, scaled by image size; the generator's
residual block also serves the MMD-GAN code base's generator (mmd_code_base.py).

Generator (Miyato et al. 2018; Gulrajani et al. 2017): a dense layer to a 4x4 map, one
residual up-block per doubling (BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3, shortcut
upsample-conv1x1), then BN-ReLU-conv3x3-tanh. Widths are `channels` times a factor that
halves with every doubling, capped at `max_channel_factor`: at 128x128 with channels 64
and cap 16 this is SNGAN's 1024-1024-512-256-128-64 layout.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..layers import downsample2x, log2_resolution, upsample2x


def width(channels: int, cap: int, resolution: int, reference: int) -> int:
    """channels x min(cap, reference / resolution): wider at coarser resolutions."""
    return channels * max(1, min(cap, reference // resolution))


def chainer_batch_norm(channels: int) -> nn.BatchNorm2d:
    """Batch norm as the authors' Chainer SNGAN had it (L.BatchNormalization: eps 2e-5)."""
    return nn.BatchNorm2d(channels, eps=2e-5)


def _init(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, norm=chainer_batch_norm):
        super().__init__()
        self.norm1, self.norm2 = norm(in_channels), norm(out_channels)
        self.conv1 = _init(nn.Conv2d(in_channels, out_channels, 3, padding=1), math.sqrt(2))
        self.conv2 = _init(nn.Conv2d(out_channels, out_channels, 3, padding=1), math.sqrt(2))
        self.shortcut = _init(nn.Conv2d(in_channels, out_channels, 1), 1.0)

    def forward(self, x):
        residual = self.conv1(upsample2x(F.relu(self.norm1(x))))
        residual = self.conv2(F.relu(self.norm2(residual)))
        return self.shortcut(upsample2x(x)) + residual


class ResNetGenerator(nn.Module):
    def __init__(self, settings):
        super().__init__()
        self.resolution, self.latent_dim = settings.resolution, settings.latent_dim
        self.latent_distribution = settings.latent_distribution
        widths = [width(settings.generator_channels, settings.max_channel_factor, 2**level, settings.resolution)
                  for level in range(2, log2_resolution(settings.resolution) + 1)]
        self.dense = _init(nn.Linear(settings.latent_dim, widths[0] * 16), 1.0)
        self.blocks = nn.Sequential(*(GeneratorBlock(a, b) for a, b in zip(widths, widths[1:])))
        self.output_norm = chainer_batch_norm(widths[-1])
        self.to_rgb = _init(nn.Conv2d(widths[-1], 3, 3, padding=1), 1.0)

    def forward(self, z):
        x = self.blocks(self.dense(z).reshape(z.shape[0], -1, 4, 4))
        return torch.tanh(self.to_rgb(F.relu(self.output_norm(x))))


class DiscriminatorBlock(nn.Module):
    """Residual down-block of the SNGAN discriminator (the authors' dis_models/resblocks.py):
    its hidden width is the input's (in -> in -> out); the first block goes in -> out -> out,
    skips the leading ReLU and pools before its shortcut convolution ("optimised block")."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, first: bool, wrap):
        super().__init__()
        self.downsample, self.first = downsample, first
        hidden = out_channels if first else in_channels
        self.conv1 = wrap(_init(nn.Conv2d(in_channels, hidden, 3, padding=1), math.sqrt(2)))
        self.conv2 = wrap(_init(nn.Conv2d(hidden, out_channels, 3, padding=1), math.sqrt(2)))
        self.shortcut = None
        if downsample or in_channels != out_channels:
            self.shortcut = wrap(_init(nn.Conv2d(in_channels, out_channels, 1), 1.0))

    def forward(self, x):
        residual = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.downsample:
            residual = downsample2x(residual)
        return residual + self._shortcut(x)

    def _shortcut(self, x):
        if self.shortcut is None:
            return x
        if self.first:
            return self.shortcut(downsample2x(x) if self.downsample else x)
        x = self.shortcut(x)
        return downsample2x(x) if self.downsample else x


class ResNetDiscriminator(nn.Module):
    """SNGAN discriminator: residual down-blocks to 4x4, one block at 4x4, ReLU, global sum
    pooling and a dense layer to `output_dim` scores; spectral normalisation on every layer
    when `spectral` is set."""

    def __init__(self, resolution: int, channels: int, max_channel_factor: int, output_dim: int = 1, spectral: bool = True):
        super().__init__()
        wrap = spectral_norm if spectral else (lambda layer: layer)
        resolutions = [2**level for level in range(log2_resolution(resolution) - 1, 1, -1)]
        widths = [width(channels, max_channel_factor, r, resolution // 2) for r in resolutions]
        blocks = [DiscriminatorBlock(3, widths[0], True, True, wrap)]
        blocks += [DiscriminatorBlock(a, b, True, False, wrap) for a, b in zip(widths, widths[1:])]
        blocks.append(DiscriminatorBlock(widths[-1], widths[-1], False, False, wrap))
        self.blocks = nn.Sequential(*blocks)
        self.output = wrap(_init(nn.Linear(widths[-1], output_dim), 1.0))

    def forward(self, image):
        return self.output(F.relu(self.blocks(image)).sum(dim=(2, 3)))

