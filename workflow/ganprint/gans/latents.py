"""Latent priors: the standard normal (ProGAN, SNGAN) or uniform on [-1, 1] (the MMD-GAN code base)."""

import numpy as np
import torch

PRIORS = ("normal", "uniform")


def draw_latents(prior: str, count: int, dimension: int, stream: torch.Generator) -> torch.Tensor:
    """A batch of latents from a torch random stream (training)."""
    if prior == "normal":
        return torch.randn(count, dimension, generator=stream)
    return torch.rand(count, dimension, generator=stream) * 2 - 1


def latent_of_image(prior: str, seed: int, index: int, dimension: int) -> np.ndarray:
    """Image `index`'s own latent (sampling). numpy's SeedSequence mixes both numbers in full
    (torch's CPU generator keeps 32 bits of a seed)."""
    rng = np.random.default_rng([seed, index])
    if prior == "normal":
        return rng.standard_normal(dimension)
    return rng.uniform(-1.0, 1.0, dimension)
