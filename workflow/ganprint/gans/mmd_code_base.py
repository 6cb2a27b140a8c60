"""The MMD-GAN code base (Binkowski et al. 2018) with which the authors trained CramerGAN and
MMDGAN: its `g_resnet5` architecture, optimiser and conventions, at any power-of-two size.

Generator: a dense layer to a 4x4 map, residual up-blocks to half the output size (widths
`generator_channels` x min(cap, (size / 2) / r): 1024-512-256-128-64 at 128x128), BN-ReLU,
a 5x5 stride-2 transposed convolution to RGB and a sigmoid. Its batch norm always
normalises by the statistics of the batch, at sampling too: the code base generated images
one training-size batch at a time, so each image depends on the others of its batch.
Here images j = g*k ... g*k + g-1 (g = `batch_size`) form such a group (`sampling_group`).
Critic (`dcgan5`): 5x5 stride-2 convolutions with leaky ReLU down to 4x4, no normalisation
(the code base drops it under a gradient penalty), a dense layer to `critic_output_dim`
features. Both pad as TensorFlow's 'SAME' does (one pixel before, two after, at stride 2)
and start from the code base's initialisations. The critic sees images in [0, 1], as there.
Adam with the code base's betas; every parameter's gradient clipped to norm 1 on its own.
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import log2_resolution
from ..settings import defaults_from_schema
from .alternating import AlternatingSettings, AlternatingTrainer
from .resnet import GeneratorBlock, width

SAME_PADDING = (1, 2, 1, 2)  # left, right, top, bottom: TensorFlow's 'SAME' for a 5x5 kernel at stride 2


@dataclass
@defaults_from_schema("gan", "cramergan")  # the two blocks share these settings (one YAML anchor)
class MMDCodeBaseSettings(AlternatingSettings):
    critic_output_dim: int
    gradient_clip: float


class BatchStatisticsNorm(nn.BatchNorm2d):
    """Batch norm that normalises by batch statistics in evaluation too, over groups of
    `group` consecutive images (the code base's sampling batches)."""

    def __init__(self, channels: int, group: int):
        super().__init__(channels)
        self.group = group

    def forward(self, x):
        if self.training:
            return super().forward(x)
        if len(x) % self.group:
            raise ValueError(f"batch of {len(x)} images is not a whole number of groups of {self.group}")
        grouped = x.reshape(len(x) // self.group, self.group, *x.shape[1:])
        variance, mean = torch.var_mean(grouped, dim=(1, 3, 4), correction=0, keepdim=True)
        normalised = ((grouped - mean) * torch.rsqrt(variance + self.eps)).reshape(x.shape)
        return normalised * self.weight[:, None, None] + self.bias[:, None, None]


class SameTransposedConv(nn.Module):
    """5x5 stride-2 transposed convolution laid out as TensorFlow's 'SAME' one: output pixel j
    of the full transposed convolution is TensorFlow's j - 1."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 5, stride=2)
        nn.init.normal_(self.conv.weight, std=0.02)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        size = 2 * x.shape[-1]
        return self.conv(x)[..., 1 : size + 1, 1 : size + 1]


class MMDCodeBaseGenerator(nn.Module):
    def __init__(self, settings: MMDCodeBaseSettings):
        super().__init__()
        self.resolution, self.latent_dim = settings.resolution, settings.latent_dim
        self.latent_distribution = settings.latent_distribution
        self.sampling_group = settings.batch_size
        norm = functools.partial(BatchStatisticsNorm, group=settings.batch_size)
        widths = [width(settings.generator_channels, settings.max_channel_factor, 2**level, settings.resolution // 2)
                  for level in range(2, log2_resolution(settings.resolution))]
        self.dense = nn.Linear(settings.latent_dim, widths[0] * 16)
        nn.init.normal_(self.dense.weight, std=0.01)
        nn.init.zeros_(self.dense.bias)
        self.blocks = nn.Sequential(*(GeneratorBlock(a, b, norm) for a, b in zip(widths, widths[1:])))
        self.output_norm = norm(widths[-1])
        self.to_rgb = SameTransposedConv(widths[-1], 3)

    def forward(self, z):
        x = self.blocks(self.dense(z).reshape(z.shape[0], -1, 4, 4))
        return 2 * torch.sigmoid(self.to_rgb(F.relu(self.output_norm(x)))) - 1  # the sigmoid's [0, 1] as [-1, 1]


class ConvCritic(nn.Module):
    """The code base's `dcgan5` critic; `layers` returns every layer's output, as its L2
    penalty needs them."""

    def __init__(self, resolution: int, channels: int, max_channel_factor: int, output_dim: int):
        super().__init__()
        convolutions, in_channels = [], 3
        for step in range(log2_resolution(resolution) - 2):
            out_channels = channels * min(2**step, max_channel_factor)
            convolution = nn.Conv2d(in_channels, out_channels, 5, stride=2)
            nn.init.trunc_normal_(convolution.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(convolution.bias)
            convolutions.append(convolution)
            in_channels = out_channels
        self.convolutions = nn.ModuleList(convolutions)
        self.output = nn.Linear(in_channels * 16, output_dim)
        nn.init.normal_(self.output.weight, std=0.01)
        nn.init.zeros_(self.output.bias)

    def layers(self, image) -> list[torch.Tensor]:
        outputs, x = [], image
        for convolution in self.convolutions:
            x = F.leaky_relu(convolution(F.pad(x, SAME_PADDING)), 0.2)
            outputs.append(x)
        # The code base flattens NHWC maps; the order of a dense layer's inputs is immaterial.
        outputs.append(self.output(x.flatten(1)))
        return outputs

    def forward(self, image):
        return self.layers(image)[-1]


def clip_each_(parameters, max_norm: float) -> None:
    """TensorFlow's clip_by_norm on every gradient on its own: g * max / max(||g||, max)."""
    for parameter in parameters:
        if parameter.grad is not None:
            parameter.grad.mul_(max_norm / parameter.grad.norm().clamp(min=max_norm))


class MMDCodeBaseTrainer(AlternatingTrainer):
    generator_class = MMDCodeBaseGenerator

    def build_critic(self, settings):
        return ConvCritic(settings.resolution, settings.critic_channels, settings.max_channel_factor, settings.critic_output_dim)

    def critic_view(self, images):
        return (images + 1) / 2

    def clip(self, parameters) -> None:
        if self.settings.gradient_clip > 0:
            clip_each_(parameters, self.settings.gradient_clip)
