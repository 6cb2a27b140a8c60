"""SNGAN (Miyato et al., ICLR 2018): ResNet generator and discriminator, spectral
normalisation on every discriminator layer, hinge loss, 5 D steps per G step."""

from dataclasses import dataclass

import torch

from ..settings import defaults_from_schema
from .alternating import AlternatingSettings, AlternatingTrainer
from .losses import hinge_critic_loss, hinge_generator_loss
from .resnet import ResNetDiscriminator


@dataclass
@defaults_from_schema("gan", "sngan")
class SNGANSettings(AlternatingSettings):
    real_scaling: str  # how real images enter: centred or dequantised (gans.training.RealBatches)

    def __post_init__(self):
        super().__post_init__()
        if self.real_scaling not in ("centred", "dequantised"):
            raise ValueError(f"real_scaling must be centred or dequantised, got '{self.real_scaling}'")


class SNGANTrainer(AlternatingTrainer):
    generator_first = True  # the Chainer updater updates the generator at the first critic step

    def build_critic(self, settings):
        return ResNetDiscriminator(settings.resolution, settings.critic_channels, settings.max_channel_factor)

    def critic_loss(self, real, generate, draw_uniform):
        # One pass over real and fake together: one power iteration of the spectral norms per step.
        scores = self.critic(torch.cat([real, generate()]))
        real_scores, fake_scores = scores.split(len(real))
        return hinge_critic_loss(real_scores, fake_scores)

    def generator_loss(self, draw_real, generate):
        return hinge_generator_loss(self.critic(generate()))
