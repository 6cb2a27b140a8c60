"""GAN losses, each named after the paper that defines it."""

import torch


def gradient_penalty(critic, real, fake, uniform, target: float = 1.0):
    """WGAN-GP (Gulrajani et al. 2017): (||grad critic(x_hat)|| - target)^2 on random interpolates."""
    mixed = torch.lerp(real, fake, uniform.reshape(-1, 1, 1, 1)).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = gradient.flatten(1).norm(dim=1)
    return (norms - target).pow(2).mean()


def wgan_gp_critic_loss(critic, real, fake, uniform, gp_weight: float, drift_weight: float):
    """Critic loss of ProGAN (Karras et al. 2018): WGAN-GP plus the drift term eps * D(real)^2."""
    real_scores = critic(real)
    fake_scores = critic(fake)
    wasserstein = fake_scores.mean() - real_scores.mean()
    drift = real_scores.pow(2).mean()
    return wasserstein + gp_weight * gradient_penalty(critic, real, fake, uniform) + drift_weight * drift


def wgan_generator_loss(fake_scores):
    return -fake_scores.mean()
