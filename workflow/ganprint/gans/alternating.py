"""The training step shared by SNGAN, CramerGAN and MMDGAN: `critic_steps` critic updates,
each on a fresh real batch, and one generator update, after them (the MMD-GAN code base) or
before them (the authors' Chainer SNGAN updater); Adam for both.

Subclasses choose the networks, the two losses, how the critic sees images and whether
gradients are clipped.
"""

from dataclasses import dataclass

import torch

from ..settings import schema_default
from .latents import PRIORS
from .resnet import ResNetGenerator


@dataclass
class AlternatingSettings:
    """The settings every alternating GAN has; each architecture's class takes their defaults
    from its block of the config schema."""

    latent_dim: int
    latent_distribution: str
    generator_channels: int
    critic_channels: int
    max_channel_factor: int
    total_images: int  # real images shown to the critic (and to the generator's loss)
    batch_size: int
    critic_steps: int
    learning_rate: float
    betas: tuple
    lr_decay_start: float  # fraction of the run after which the rates fall linearly to zero
    resolution: int = schema_default("image_size")

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.latent_distribution not in PRIORS:
            raise ValueError(f"latent_distribution must be one of {PRIORS}, got '{self.latent_distribution}'")
        for name in ("latent_dim", "generator_channels", "critic_channels", "max_channel_factor",
                     "total_images", "critic_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2")
        if not 0 <= self.lr_decay_start <= 1:
            raise ValueError(f"lr_decay_start must be in [0, 1], got {self.lr_decay_start}")

    def learning_rate_at(self, images_shown: int) -> float:
        """Constant, then falling linearly to zero over the last (1 - lr_decay_start) of the run."""
        progress = images_shown / self.total_images
        if progress <= self.lr_decay_start or self.lr_decay_start == 1:
            return self.learning_rate
        return self.learning_rate * max(0.0, (1 - progress) / (1 - self.lr_decay_start))


class AlternatingTrainer:
    """Networks, optimisers and the step; `critic_loss` and `generator_loss` are the GAN's own."""

    generator_class = ResNetGenerator
    generator_first = False  # the generator's update before the critic's in each step

    def __init__(self, settings: AlternatingSettings, device):
        self.settings, self.device = settings, device
        # channels_last: 1.5x faster on CPU for these small convolutions, and the GPU's fast path.
        layout = dict(device=device, memory_format=torch.channels_last)
        self.generator = self.generator_class(settings).to(**layout)
        self.critic = self.build_critic(settings).to(**layout)
        self.latent_dim, self.latent_distribution = settings.latent_dim, settings.latent_distribution
        self.total_images = settings.total_images
        adam = dict(lr=settings.learning_rate, betas=settings.betas, fused=torch.device(device).type == "cuda")
        self.generator_optimiser = torch.optim.Adam(self.generator.parameters(), **adam)
        self.critic_optimiser = torch.optim.Adam(self.critic.parameters(), **adam)

    @property
    def final_generator(self):
        return self.generator

    def build_critic(self, settings):
        raise NotImplementedError

    def critic_loss(self, real, generate, draw_uniform):
        raise NotImplementedError

    def critic_view(self, images):
        """Images in [-1, 1] as the critic takes them."""
        return images

    def clip(self, parameters) -> None:
        """Gradient clipping before each update; none by default."""

    def generator_loss(self, draw_real, generate):
        raise NotImplementedError

    def step(self, images_shown: int, draw_real, draw_latents, draw_uniform) -> dict:
        batch = self.settings.batch_size
        for optimiser in (self.critic_optimiser, self.generator_optimiser):
            for group in optimiser.param_groups:
                group["lr"] = self.settings.learning_rate_at(images_shown)
        real_batch = lambda: self.critic_view(draw_real(batch).contiguous(memory_format=torch.channels_last))  # noqa: E731
        generate = lambda: self.critic_view(self.generator(draw_latents(batch)))  # noqa: E731

        def update_generator():
            loss = self.generator_loss(real_batch, generate)
            self._update(self.generator, self.generator_optimiser, loss)
            return loss

        generator_loss = update_generator() if self.generator_first else None
        for _ in range(self.settings.critic_steps):
            critic_loss = self.critic_loss(real_batch(), torch.no_grad()(generate), lambda: draw_uniform(batch))
            self._update(self.critic, self.critic_optimiser, critic_loss)
        if not self.generator_first:
            generator_loss = update_generator()
        return {"d_loss": critic_loss.detach(), "g_loss": generator_loss.detach()}

    def _update(self, network, optimiser, loss) -> None:
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.clip(network.parameters())
        optimiser.step()

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "generator_optimiser": self.generator_optimiser.state_dict(),
            "critic_optimiser": self.critic_optimiser.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.generator_optimiser.load_state_dict(state["generator_optimiser"])
        self.critic_optimiser.load_state_dict(state["critic_optimiser"])

