"""CramerGAN (Bellemare et al. 2017) as in the MMD-GAN code base the authors used: its
generator and critic h with a 256-d output, the Cramer-distance losses with the surrogate
critic, gradient penalty 10."""

from dataclasses import dataclass

import torch

from ..settings import defaults_from_schema
from .losses import cramer_critic_loss, cramer_generator_loss
from .mmd_code_base import MMDCodeBaseSettings, MMDCodeBaseTrainer


@dataclass
@defaults_from_schema("gan", "cramergan")
class CramerGANSettings(MMDCodeBaseSettings):
    gp_weight: float


class CramerGANTrainer(MMDCodeBaseTrainer):
    def critic_loss(self, real, generate, draw_uniform):
        return cramer_critic_loss(self.critic, real, generate(), generate(), draw_uniform(), self.settings.gp_weight)

    def generator_loss(self, draw_real, generate):
        real = draw_real()
        features = self.critic(torch.cat([real, generate(), generate()])).split(len(real))
        return cramer_generator_loss(*features)
