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
    pass


class SNGANTrainer(AlternatingTrainer):
    def build_critic(self, settings):
        return ResNetDiscriminator(settings.resolution, settings.critic_channels, settings.max_channel_factor)

    def critic_loss(self, real, generate, draw_uniform):
        # One pass over real and fake together: one power iteration of the spectral norms per step.
        scores = self.critic(torch.cat([real, generate()]))
        real_scores, fake_scores = scores.split(len(real))
        return hinge_critic_loss(real_scores, fake_scores)

    def generator_loss(self, draw_real, generate):
        return hinge_generator_loss(self.critic(generate()))
