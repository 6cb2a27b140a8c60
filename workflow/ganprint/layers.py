"""Building blocks shared by the GANs and the attribution network (Karras et al. 2018)."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def channels_at(resolution: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps at a resolution: min(fmap_base / 2^stage, fmap_max), stage = log2(res) - 1."""
    return max(1, min(2 * fmap_base // resolution, fmap_max))


def log2_resolution(resolution: int) -> int:
    level = int(math.log2(resolution))
    if resolution < 4 or 2**level != resolution:
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    return level


def equalised_scale(fan_in: int, gain: float = math.sqrt(2)) -> float:
    """The authors' get_weight with use_wscale: the variable is drawn N(0, 1) and multiplied at
    run time by He's standard deviation gain / sqrt(fan_in), so that Adam moves every layer at
    the same rate relative to its scale."""
    return gain / math.sqrt(fan_in)


class EqualConv2d(nn.Module):
    """Conv with weights drawn N(0, 1) and scaled at run time by gain / sqrt(fan_in), zero bias."""

    def __init__(self, in_channels, out_channels, kernel_size, gain=math.sqrt(2), padding_mode="zeros"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = equalised_scale(in_channels * kernel_size * kernel_size, gain)
        self.padding = kernel_size // 2
        self.padding_mode = padding_mode

    def forward(self, x):
        if self.padding and self.padding_mode != "zeros":
            x = F.pad(x, [self.padding] * 4, mode=self.padding_mode)
            return F.conv2d(x, self.weight * self.scale, self.bias)
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualConvDownscale2d(EqualConv2d):
    """ProGAN's fused convolution and 2x downscaling (`conv2d_downscale2d`): the kernel padded by
    one and averaged over its four 1-pixel shifts, applied with stride 2, then the bias. Equal
    to the convolution without bias, 2x2 average pooling, then the bias."""

    def forward(self, x):
        weight = F.pad(self.weight * self.scale, [1, 1, 1, 1])
        fused = (weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:] + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1]) * 0.25
        return F.conv2d(x, fused, self.bias, stride=2, padding=self.padding)


class EqualLinear(nn.Module):
    """Dense layer with the equalised learning rate of EqualConv2d; `bias=False` leaves the
    bias to the caller (ProGAN's 4x4 dense layer takes one per channel after its reshape)."""

    def __init__(self, in_features, out_features, gain=math.sqrt(2), bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = equalised_scale(in_features, gain)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x, epsilon=1e-8):
    """Normalise each pixel's feature vector to unit average square."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + epsilon)


def leaky_relu(x):
    return F.leaky_relu(x, 0.2)


def minibatch_stddev(x, group_size=4):
    """Append one channel: the feature standard deviation over groups of the minibatch."""
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    while batch % group:
        group -= 1
    grouped = x.reshape(group, -1, channels, height, width)
    centred = grouped - grouped.mean(dim=0, keepdim=True)
    deviation = (centred.square().mean(dim=0) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    statistic = deviation.reshape(-1, 1, 1, 1).repeat(group, 1, height, width)
    return torch.cat([x, statistic], dim=1)


def upsample2x(x):
    """Nearest-neighbour 2x upsampling whose backward is a plain sum (F.interpolate's CUDA
    backward uses atomic adds and is not deterministic)."""
    batch, channels, height, width = x.shape
    if x.is_contiguous(memory_format=torch.channels_last):
        pixels = x.permute(0, 2, 3, 1)[:, :, None, :, None, :].expand(batch, height, 2, width, 2, channels)
        return pixels.reshape(batch, 2 * height, 2 * width, channels).permute(0, 3, 1, 2)
    wide = x[:, :, :, None, :, None].expand(batch, channels, height, 2, width, 2)
    return wide.reshape(batch, channels, 2 * height, 2 * width)


def downsample2x(x):
    return F.avg_pool2d(x, 2)
