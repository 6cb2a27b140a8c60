"""MMD GAN (Binkowski et al., "Demystifying MMD GANs", ICLR 2018) as in its code base, which
the authors used: its generator and critic with a 16-d output, MMD^2 with a mixture of
rational-quadratic kernels plus a dot kernel (`mix_rq_1dot`), gradient penalty 1 and an
L2 penalty 1 on the critic's layers."""

from dataclasses import dataclass

import torch

from ..settings import defaults_from_schema
from .losses import mmd_critic_loss, mmd_generator_loss
from .mmd_code_base import MMDCodeBaseSettings, MMDCodeBaseTrainer


@dataclass
@defaults_from_schema("gan", "mmdgan")
class MMDGANSettings(MMDCodeBaseSettings):
    rq_alphas: tuple
    gp_weight: float
    l2_weight: float

    def __post_init__(self):
        super().__post_init__()
        self.rq_alphas = tuple(float(a) for a in self.rq_alphas)


class MMDGANTrainer(MMDCodeBaseTrainer):
    def critic_loss(self, real, generate, draw_uniform):
        s = self.settings
        return mmd_critic_loss(self.critic, real, generate(), draw_uniform(), s.rq_alphas, s.gp_weight, s.l2_weight)

    def generator_loss(self, draw_real, generate):
        features = self.critic(torch.cat([draw_real(), generate()]))
        real_features, fake_features = features.split(len(features) // 2)
        return mmd_generator_loss(real_features, fake_features, self.settings.rq_alphas)
