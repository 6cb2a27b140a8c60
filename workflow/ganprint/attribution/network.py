"""The attribution network of Yu et al. (ICCV 2019): a ProGAN-discriminator-shaped classifier.

No normalisation layers and no minibatch stddev (the authors' C_patch; visNet's critic,
their D_patch, is this network with one output and a minibatch stddev channel before the
conv at 4x4: `minibatch_group`); equalised learning rate, leaky ReLU 0.2, reflect padding,
inputs in [-1, 1]. Per resolution: conv3x3 -> lrelu -> conv3x3 -> lrelu -> 2x2 average
pool; at 4x4: conv3x3, flatten, dense -> the 512-d image fingerprint, dense -> one logit
per source (its weights are the model fingerprints).

Variants for the component analysis (Sec. 3.2), switching at resolution r:
- low_band: the image is only Gaussian-downsampled to r (no learned layers above r);
  conv blocks from r down.
- high_band: the input is the Laplacian band between 2r and r (the image at 2r minus the
  upsampled image at r), a 2r x 2r image (`high_band_input`): unshuffled, rearranged without
  loss into r x r x 12 (each 2x2 neighbourhood becomes channels), so that conv blocks run
  from r down as for the low band while the network sees every coefficient of the band; or
  full_resolution, at 2r x 2r, conv blocks from 2r down (one block more).
- post_pool: conv blocks down to r, then only 2x2 average pooling to 4x4: each position of
  the map at r describes one patch of the image (its receptive field), and the head sees
  their averages.
Every variant ends with the same head (conv at 4x4, dense fingerprint, dense logits).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..filters import downsample_to, gaussian_kernel, laplacian_band, separable_filter
from ..layers import (EqualConv2d, EqualLinear, channels_at, downsample2x, leaky_relu, log2_resolution,
                      minibatch_stddev)
from ..names import HIGH_BAND_INPUTS, VARIANTS, highest_switch
from ..settings import defaults_from_schema, schema_default

CONV = (3, 1)  # (kernel, stride) of a conv layer
# What the first layer sees: the image, or its high-pass residual (the image minus its 3x3
# binomial blur), scaled up by RESIDUAL_GAIN so that its spread is near the image's.
INPUTS = ("image", "residual")
RESIDUAL_GAIN = 4.0
POOL = (2, 2)  # of a 2x2 average pooling


@dataclass
@defaults_from_schema("attribution")
class AttributionSettings:
    resolution: int = schema_default("image_size")
    n_classes: int = 2
    fmap_base: int
    fmap_max: int
    variant: str = "full"
    switch_resolution: int | None = None
    input: str = "image"
    high_band_input: str | None = schema_default("components", "high_band_input")  # None in other variants

    def __post_init__(self):
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, got '{self.input}'")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got '{self.variant}'")
        if self.variant != "high_band":
            self.high_band_input = None
        elif self.high_band_input not in HIGH_BAND_INPUTS:
            raise ValueError(f"high_band_input must be one of {list(HIGH_BAND_INPUTS)}, got '{self.high_band_input}'")
        if self.variant == "full":
            self.switch_resolution = None
            return
        highest = highest_switch(self.variant, self.resolution)
        r = self.switch_resolution
        if r is None or r < 4 or r > highest or r & (r - 1):
            raise ValueError(f"switch_resolution of the {self.variant} variant must be a power of two "
                             f"in [4, {highest}], got {r}")

    def input_resolution(self) -> int:
        """Side of what the first conv block sees: the image, the low band at r, or the high
        band at 2r (at r when unshuffled)."""
        if self.variant == "low_band" or self.high_band_input == "unshuffled":
            return self.switch_resolution
        if self.variant == "high_band":
            return 2 * self.switch_resolution
        return self.resolution

    def conv_resolutions(self) -> list[int]:
        """Resolutions at which a conv block (conv, conv, pool) runs, from the input down."""
        top, bottom = self.input_resolution(), 8
        if self.variant == "post_pool":
            bottom = 2 * self.switch_resolution
        return [res for res in (top >> i for i in range(top.bit_length())) if bottom <= res]

    def input_channels(self) -> int:
        return 12 if self.high_band_input == "unshuffled" else 3


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Side in input pixels of what one output position sees through (kernel, stride) layers."""
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


def _block_layers(settings: AttributionSettings) -> list[tuple[int, int]]:
    return [layer for _ in settings.conv_resolutions() for layer in (CONV, CONV, POOL)]


def switch_receptive_field(settings: AttributionSettings) -> int:
    """Receptive field of one position of the map at the switch point of a post_pool network,
    computed from its conv blocks (capped at the image size)."""
    return min(receptive_field(_block_layers(settings)), settings.resolution)


def patch_size(settings: AttributionSettings) -> int:
    """The paper's patch size (Table 5): the receptive field of a 3x3 convolution at the switch
    resolution on top of the conv blocks above it, i.e. switch_receptive_field plus one 3x3
    conv (3, 10, 24, 52, 108 at 128 px for r = 128 .. 8, the paper's series). The authors'
    post-pooling network has no such convolution before its pooling, so the paper's sizes
    are one 3x3 conv larger than what its features see; Table 5 lists both."""
    return min(receptive_field(_block_layers(settings) + [CONV]), settings.resolution)


class Encoder(nn.Module):
    """The network's convolutional part: its input (image or band), the conv blocks, the
    conv at 4x4; `encode` gives the 4x4 map. visNet's encoder builds on this module. With
    `minibatch_group` > 1 the conv at 4x4 also sees the minibatch standard deviation over
    groups of that many images (the authors' minibatch_stddev_layer before D_patch's 4x4 Conv0)."""

    def __init__(self, settings: AttributionSettings, minibatch_group: int = 0):
        super().__init__()
        log2_resolution(settings.resolution)
        self.settings = settings
        self.minibatch_group = minibatch_group
        nf = lambda res: channels_at(res, settings.fmap_base, settings.fmap_max)  # noqa: E731
        self.blocks = nn.ModuleDict()
        in_channels = settings.input_channels()
        for res in settings.conv_resolutions():
            self.blocks[str(res)] = nn.ModuleList([
                EqualConv2d(in_channels, nf(res), 3, padding_mode="reflect"),
                EqualConv2d(nf(res), nf(res // 2), 3, padding_mode="reflect"),
            ])
            in_channels = nf(res // 2)
        deviation_channel = 1 if minibatch_group > 1 else 0
        self.final_conv = EqualConv2d(in_channels + deviation_channel, nf(4), 3, padding_mode="reflect")

    def network_input(self, images: torch.Tensor) -> torch.Tensor:
        """What the first learned layer sees: the image or its residual, or its low or high band at r."""
        if self.settings.input == "residual":
            images = (images - separable_filter(images, gaussian_kernel(3))) * RESIDUAL_GAIN
        if self.settings.variant == "low_band":
            return downsample_to(images, self.settings.switch_resolution)
        if self.settings.variant == "high_band":
            band = laplacian_band(images, self.settings.switch_resolution)
            return F.pixel_unshuffle(band, 2) if self.settings.high_band_input == "unshuffled" else band
        return images

    def encode(self, images: torch.Tensor, block_statistics: list | None = None) -> torch.Tensor:
        """The 4x4 feature map after the conv at 4x4; the mean and standard deviation of each
        block's output maps are appended to `block_statistics` when given."""
        # channels_last: ~20% faster for these small convolutions on CPU, and the GPU's fast path.
        x = self.network_input(images).contiguous(memory_format=torch.channels_last)
        for block in self.blocks.values():
            for conv in block:
                x = leaky_relu(conv(x))
            if block_statistics is not None:
                block_statistics.append(torch.cat([x.mean((2, 3)), x.std((2, 3))], 1))
            x = downsample2x(x)
        while x.shape[-1] > 4:
            x = downsample2x(x)
        if self.minibatch_group > 1:
            x = minibatch_stddev(x, self.minibatch_group)
        return leaky_relu(self.final_conv(x))


class AttributionNetwork(Encoder):
    architecture = "classifier"

    def __init__(self, settings: AttributionSettings, minibatch_group: int = 0):
        super().__init__(settings, minibatch_group)
        nf4 = channels_at(4, settings.fmap_base, settings.fmap_max)
        self.fingerprint = EqualLinear(nf4 * 16, nf4)
        self.classifier = EqualLinear(nf4, settings.n_classes, gain=1.0)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The image fingerprint: the activations before the last dense layer."""
        return leaky_relu(self.fingerprint(self.encode(images).flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the descriptors of every layer that open-set rejection measures: the
        block statistics, then the image fingerprints (the features tables and maps are made of)."""
        layers = []
        features = leaky_relu(self.fingerprint(self.encode(images, layers).flatten(1)))
        return self.classifier(features), layers + [features]
