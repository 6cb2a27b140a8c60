"""A denoising diffusion model (Ho et al., NeurIPS 2020) as one more generator: diffusers'
UNet2DModel learns to predict the noise added under a DDPM schedule, and samples by DDIM
without added noise (eta 0). An image is then a function of its own starting noise, which is
its latent: the shared training loop, the per-image latent streams of sampling, resume and
export treat it as they treat a GAN.

The training loop's streams give every draw: the real batch, the noise (the `normal` latent
stream) and the timesteps (the uniform stream).
"""

import copy
import math
from dataclasses import dataclass

import torch

from ..settings import defaults_from_schema, schema_default
from .progan import update_ema


@dataclass
@defaults_from_schema("gan", "ddpm")
class DDPMSettings:
    block_channels: tuple
    layers_per_block: int
    attention_resolutions: tuple
    train_timesteps: int
    beta_schedule: str
    sampling_steps: int
    total_images: int
    batch_size: int
    learning_rate: float
    ema_beta: float
    resolution: int = schema_default("image_size")

    def __post_init__(self):
        self.block_channels = tuple(self.block_channels)
        self.attention_resolutions = tuple(self.attention_resolutions)
        if not self.block_channels or min(self.block_channels) < 1:
            raise ValueError(f"block_channels must be positive feature-map counts, got {list(self.block_channels)}")
        if self.resolution % 2 ** (len(self.block_channels) - 1):
            raise ValueError(f"{len(self.block_channels)} levels halve {self.resolution}px images too often")
        if self.beta_schedule not in ("linear", "squaredcos_cap_v2"):
            raise ValueError(f"beta_schedule must be linear or squaredcos_cap_v2, got '{self.beta_schedule}'")
        for name in ("layers_per_block", "train_timesteps", "sampling_steps", "total_images", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.sampling_steps > self.train_timesteps:
            raise ValueError(f"sampling_steps ({self.sampling_steps}) exceeds train_timesteps ({self.train_timesteps})")
        if not 0 <= self.ema_beta <= 1:
            raise ValueError(f"ema_beta must be in [0, 1], got {self.ema_beta}")

    @property
    def level_resolutions(self) -> list[int]:
        return [self.resolution // 2**level for level in range(len(self.block_channels))]


def build_unet(settings: DDPMSettings):
    from diffusers import UNet2DModel

    attention = [size in settings.attention_resolutions for size in settings.level_resolutions]
    down = ["AttnDownBlock2D" if attend else "DownBlock2D" for attend in attention]
    up = ["AttnUpBlock2D" if attend else "UpBlock2D" for attend in reversed(attention)]
    return UNet2DModel(sample_size=settings.resolution, in_channels=3, out_channels=3,
                       layers_per_block=settings.layers_per_block, block_out_channels=settings.block_channels,
                       down_block_types=tuple(down), up_block_types=tuple(up),
                       norm_num_groups=math.gcd(32, *settings.block_channels))


def noise_schedule(settings: DDPMSettings, kind: str):
    """diffusers' DDPM (training) or DDIM (sampling) scheduler over the same betas."""
    from diffusers import DDIMScheduler, DDPMScheduler

    scheduler = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler}[kind]
    return scheduler(num_train_timesteps=settings.train_timesteps, beta_schedule=settings.beta_schedule)


class DDPMGenerator(torch.nn.Module):
    """The UNet and its DDIM sampler: latents (N, 3 * r * r) of standard normal noise to
    images (N, 3, r, r) in [-1, 1]."""

    latent_distribution = "normal"

    def __init__(self, settings: DDPMSettings):
        super().__init__()
        self.settings, self.resolution = settings, settings.resolution
        self.latent_dim = 3 * settings.resolution**2
        self.unet = build_unet(settings)

    def predicted_noise(self, noisy: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return self.unet(noisy, timesteps).sample

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        sampler = noise_schedule(self.settings, "ddim")
        sampler.set_timesteps(self.settings.sampling_steps)
        images = latents.view(-1, 3, self.resolution, self.resolution)
        for step in sampler.timesteps:
            timesteps = torch.full((len(images),), int(step), device=images.device)
            images = sampler.step(self.predicted_noise(images, timesteps), step, images, eta=0.0).prev_sample
        return images.clamp(-1, 1)


class DDPMTrainer:
    """The noise-prediction loss (DDPM's simple loss) with Adam at a constant rate; the
    moving average of the weights samples."""

    def __init__(self, settings: DDPMSettings, device):
        self.settings, self.device = settings, device
        self.generator = DDPMGenerator(settings).to(device)
        self.average = copy.deepcopy(self.generator).requires_grad_(False)
        self.latent_dim, self.latent_distribution = self.generator.latent_dim, self.generator.latent_distribution
        self.total_images = settings.total_images
        self.optimiser = torch.optim.Adam(self.generator.parameters(), lr=settings.learning_rate,
                                          fused=torch.device(device).type == "cuda")
        self.schedule = noise_schedule(settings, "ddpm")

    @property
    def final_generator(self):
        return self.average

    def step(self, images_shown: int, draw_real, draw_latents, draw_uniform) -> dict:
        batch = self.settings.batch_size
        images = draw_real(batch)
        noise = draw_latents(batch).view_as(images)
        timesteps = (draw_uniform(batch) * self.settings.train_timesteps).long().clamp(
            max=self.settings.train_timesteps - 1)
        noisy = self.schedule.add_noise(images, noise, timesteps)
        loss = torch.nn.functional.mse_loss(self.generator.predicted_noise(noisy, timesteps), noise)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        update_ema(self.average, self.generator, self.settings.ema_beta)
        return {"loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "average": self.average.state_dict(),
                "optimiser": self.optimiser.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.average.load_state_dict(state["average"])
        self.optimiser.load_state_dict(state["optimiser"])
