"""ProGAN (Karras et al., ICLR 2018): progressive growing, WGAN-GP loss with drift term.

Networks grow from 4x4 to the final resolution; each new resolution is faded in over
one phase (alpha 0 -> 1) and then trained stable for one phase. Equalised learning rate,
pixel norm in G, minibatch standard deviation in D. As the authors' `G_paper` and `D_paper`
(fused_scale on): G's 4x4 dense layer has one bias per channel, added after the reshape; each
D block ends in a fused convolution and downscaling, then bias and leaky ReLU; Adam's moments
restart at the start of every fade-in and every stable phase (`reset_opt_for_new_lod`).
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..layers import (
    EqualConv2d,
    EqualConvDownscale2d,
    EqualLinear,
    channels_at,
    downsample2x,
    leaky_relu,
    log2_resolution,
    minibatch_stddev,
    pixel_norm,
    upsample2x,
)
from ..settings import defaults_from_schema, schema_default
from .losses import wgan_gp_critic_loss, wgan_generator_loss


@dataclass
@defaults_from_schema("gan", "progan")
class ProGANSettings:
    latent_dim: int
    fmap_base: int
    fmap_max: int
    images_per_phase: int  # images shown per fade-in phase and per stable phase
    total_images: int
    batch_sizes: dict
    learning_rate: float
    learning_rates: dict  # resolution -> rate, where it differs from learning_rate
    betas: tuple
    gp_weight: float
    drift_weight: float
    ema_beta: float
    resolution: int = schema_default("image_size")

    def __post_init__(self):
        self.batch_sizes = {int(k): int(v) for k, v in self.batch_sizes.items()}
        self.learning_rates = {int(k): float(v) for k, v in self.learning_rates.items()}
        self.betas = tuple(self.betas)
        missing = [r for r in self.resolutions() if r not in self.batch_sizes]
        if missing:
            raise ValueError(f"progan.batch_sizes lacks resolutions {missing}")

    def learning_rate_at(self, resolution: int) -> float:
        return self.learning_rates.get(resolution, self.learning_rate)

    def resolutions(self):
        return [2**level for level in range(2, log2_resolution(self.resolution) + 1)]

    def phase(self, images_shown: int) -> int:
        """Index of the fade-in or stable phase (0: stable 4x4, 1: fade-in 8x8, ...); the last
        stable phase lasts to the end of the run."""
        return min(images_shown // self.images_per_phase, 2 * (len(self.resolutions()) - 1))

    def schedule(self, images_shown: int) -> tuple[int, float]:
        """(current resolution, fade-in alpha) after `images_shown` real images."""
        phase, within = divmod(images_shown, self.images_per_phase)
        level = (phase + 1) // 2
        top = len(self.resolutions()) - 1
        if level > top:
            return self.resolution, 1.0
        alpha = within / self.images_per_phase if phase % 2 == 1 else 1.0
        return 4 * 2**level, alpha


class ProGANGenerator(nn.Module):
    def __init__(self, settings: ProGANSettings):
        super().__init__()
        self.latent_dim = settings.latent_dim
        self.latent_distribution = "normal"
        self.resolution = settings.resolution
        nf = lambda res: channels_at(res, settings.fmap_base, settings.fmap_max)  # noqa: E731
        self.dense = EqualLinear(settings.latent_dim, nf(4) * 16, gain=math.sqrt(2) / 4, bias=False)
        self.dense_bias = nn.Parameter(torch.zeros(nf(4)))
        self.base_conv = EqualConv2d(nf(4), nf(4), 3)
        self.blocks = nn.ModuleDict()
        self.to_rgb = nn.ModuleDict({"4": EqualConv2d(nf(4), 3, 1, gain=1.0)})
        for res in settings.resolutions()[1:]:
            self.blocks[str(res)] = nn.ModuleList([EqualConv2d(nf(res // 2), nf(res), 3), EqualConv2d(nf(res), nf(res), 3)])
            self.to_rgb[str(res)] = EqualConv2d(nf(res), 3, 1, gain=1.0)

    def forward(self, z, resolution=None, alpha=1.0):
        resolution = resolution or self.resolution
        x = self.dense(pixel_norm(z)).reshape(z.shape[0], -1, 4, 4)
        x = pixel_norm(leaky_relu(x + self.dense_bias[:, None, None]))
        x = pixel_norm(leaky_relu(self.base_conv(x)))
        previous = x
        res = 4
        while res < resolution:
            res *= 2
            previous = x
            x = upsample2x(x)
            for conv in self.blocks[str(res)]:
                x = pixel_norm(leaky_relu(conv(x)))
        image = self.to_rgb[str(res)](x)
        if alpha < 1.0 and res > 4:
            coarse = upsample2x(self.to_rgb[str(res // 2)](previous))
            image = torch.lerp(coarse, image, alpha)
        return image


class ProGANDiscriminator(nn.Module):
    def __init__(self, settings: ProGANSettings):
        super().__init__()
        nf = lambda res: channels_at(res, settings.fmap_base, settings.fmap_max)  # noqa: E731
        self.from_rgb = nn.ModuleDict()
        self.blocks = nn.ModuleDict()
        for res in settings.resolutions():
            self.from_rgb[str(res)] = EqualConv2d(3, nf(res), 1)
            if res > 4:
                self.blocks[str(res)] = nn.ModuleList([EqualConv2d(nf(res), nf(res), 3),
                                                       EqualConvDownscale2d(nf(res), nf(res // 2), 3)])
        self.final_conv = EqualConv2d(nf(4) + 1, nf(4), 3)
        self.final_dense = EqualLinear(nf(4) * 16, nf(4))
        self.output = EqualLinear(nf(4), 1, gain=1.0)

    def _block(self, x, res):
        for conv in self.blocks[str(res)]:
            x = leaky_relu(conv(x))
        return x

    def forward(self, image, alpha=1.0):
        res = image.shape[-1]
        x = leaky_relu(self.from_rgb[str(res)](image))
        if res > 4:
            x = self._block(x, res)
            if alpha < 1.0:
                coarse = leaky_relu(self.from_rgb[str(res // 2)](downsample2x(image)))
                x = torch.lerp(coarse, x, alpha)
            res //= 2
        while res > 4:
            x = self._block(x, res)
            res //= 2
        x = leaky_relu(self.final_conv(minibatch_stddev(x)))
        x = leaky_relu(self.final_dense(x.flatten(1)))
        return self.output(x)


def real_at(images, resolution: int, alpha: float):
    """Real images as D sees them during growing: box-downsampled to the current resolution,
    and blended with their coarser version while a new resolution fades in."""
    while images.shape[-1] > resolution:
        images = downsample2x(images)
    if alpha < 1.0 and resolution > 4:
        images = torch.lerp(upsample2x(downsample2x(images)), images, alpha)
    return images


class ProGANTrainer:
    """One ProGAN training run: networks, optimisers, EMA generator and the step function."""


    def __init__(self, settings: ProGANSettings, device):
        self.settings = settings
        self.device = device
        # channels_last is 1.5x faster for these small convolutions on CPU as well as on GPU.
        layout = dict(device=device, memory_format=torch.channels_last)
        self.generator = ProGANGenerator(settings).to(**layout)
        self.discriminator = ProGANDiscriminator(settings).to(**layout)
        self.generator_ema = ProGANGenerator(settings).to(**layout).requires_grad_(False)
        self.generator_ema.load_state_dict(self.generator.state_dict())
        self.latent_dim, self.latent_distribution = settings.latent_dim, "normal"
        self.total_images = settings.total_images
        self.current_resolution, self.current_phase = 4, 0
        self._new_optimisers()

    @property
    def final_generator(self):
        return self.generator_ema

    def _new_optimisers(self):
        adam = dict(lr=self.settings.learning_rate_at(self.current_resolution), betas=self.settings.betas, eps=1e-8,
                    fused=torch.device(self.device).type == "cuda")  # one kernel per update on a GPU; the CPU keeps its loop
        self.generator_optimiser = torch.optim.Adam(self.generator.parameters(), **adam)
        self.discriminator_optimiser = torch.optim.Adam(self.discriminator.parameters(), **adam)

    def step(self, images_shown: int, draw_real, draw_latents, draw_uniform) -> dict:
        resolution, alpha = self.settings.schedule(images_shown)
        phase = self.settings.phase(images_shown)
        if phase != self.current_phase:
            self.current_resolution, self.current_phase = resolution, phase
            self._new_optimisers()
        batch = self.settings.batch_sizes[resolution]
        real = real_at(draw_real(batch), resolution, alpha).contiguous(memory_format=torch.channels_last)

        with torch.no_grad():
            fake = self.generator(draw_latents(batch), resolution, alpha)
        critic_loss = wgan_gp_critic_loss(
            lambda x: self.discriminator(x, alpha), real, fake, draw_uniform(batch),
            self.settings.gp_weight, self.settings.drift_weight,
        )
        self.discriminator_optimiser.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.discriminator_optimiser.step()

        fake = self.generator(draw_latents(batch), resolution, alpha)
        generator_loss = wgan_generator_loss(self.discriminator(fake, alpha))
        self.generator_optimiser.zero_grad(set_to_none=True)
        generator_loss.backward()
        self.generator_optimiser.step()
        update_ema(self.generator_ema, self.generator, self.settings.ema_beta)
        return {"resolution": resolution, "alpha": round(alpha, 4), "d_loss": critic_loss.detach(), "g_loss": generator_loss.detach()}

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "generator_optimiser": self.generator_optimiser.state_dict(),
            "discriminator_optimiser": self.discriminator_optimiser.state_dict(),
            "current_resolution": self.current_resolution,
            "current_phase": self.current_phase,
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.generator_ema.load_state_dict(state["generator_ema"])
        self.current_resolution, self.current_phase = int(state["current_resolution"]), int(state["current_phase"])
        self._new_optimisers()
        self.generator_optimiser.load_state_dict(state["generator_optimiser"])
        self.discriminator_optimiser.load_state_dict(state["discriminator_optimiser"])


@torch.no_grad()
def update_ema(average: nn.Module, model: nn.Module, beta: float) -> None:
    for averaged, current in zip(average.parameters(), model.parameters()):
        averaged.lerp_(current, 1.0 - beta)
