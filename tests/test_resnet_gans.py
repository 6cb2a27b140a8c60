"""SNGAN, CramerGAN and MMDGAN: networks at two sizes, losses, and that training does something."""

import math

import numpy as np
import pytest
import torch

from ganprint.gans import ARCHITECTURES, make_settings, make_trainer
from ganprint.gans.losses import (
    cramer_generator_loss,
    cramer_surrogate,
    hinge_critic_loss,
    mix_rq_dot_kernel,
    mmd2_unbiased,
    mmd_generator_loss,
)
from ganprint.gans.resnet import ConvCritic, ResNetDiscriminator, ResNetGenerator

RESNET_GANS = ["sngan", "cramergan", "mmdgan"]
SMALL = dict(latent_dim=16, generator_channels=4, critic_channels=4, batch_size=8, critic_steps=2)
ALPHAS = (0.2, 0.5, 1.0, 2.0, 5.0)


@pytest.mark.parametrize("arch", RESNET_GANS)
@pytest.mark.parametrize("resolution", [16, 32])
def test_generator_and_critic_shapes_and_range(arch, resolution):
    settings = make_settings(arch, {**SMALL, "resolution": resolution})
    trainer = make_trainer(arch, {**SMALL, "resolution": resolution}, "cpu")
    images = trainer.generator(torch.randn(5, 16) * 3)
    assert images.shape == (5, 3, resolution, resolution)
    assert images.abs().max() <= 1.0
    expected = getattr(settings, "critic_output_dim", 1)
    assert trainer.critic(images).shape == (5, expected)


def test_layouts_follow_the_papers_at_128():
    sngan = make_settings("sngan", {})
    generator = ResNetGenerator(sngan)
    assert generator.dense.out_features == 16 * 64 * 16  # 4x4x1024
    assert [block.conv1.out_channels for block in generator.blocks] == [1024, 512, 256, 128, 64]
    discriminator = ResNetDiscriminator(128, 64, 16)
    assert [block.conv2.out_channels for block in discriminator.blocks] == [64, 128, 256, 512, 1024, 1024]
    assert hasattr(discriminator.blocks[0].conv1, "parametrizations")  # spectral norm
    critic = ConvCritic(128, 64, 8, 256)
    assert critic.output.out_features == 256
    assert [m.out_channels for m in critic.features if hasattr(m, "out_channels")] == [64, 128, 256, 512, 512]


@pytest.mark.parametrize("arch", RESNET_GANS)
def test_a_training_step_moves_both_networks(arch):
    torch.manual_seed(0)
    trainer = make_trainer(arch, {**SMALL, "resolution": 16}, "cpu")
    before_g = [p.clone() for p in trainer.generator.parameters()]
    before_d = [p.clone() for p in trainer.critic.parameters()]
    real = torch.rand(8, 3, 16, 16) * 2 - 1
    drawn = []
    losses = trainer.step(0, lambda n: drawn.append(n) or real[:n], lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
    assert math.isfinite(losses["d_loss"]) and math.isfinite(losses["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before_g, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, trainer.critic.parameters()))
    assert sum(drawn) >= 2 * 8  # one fresh real batch per critic step


@pytest.mark.parametrize("arch", RESNET_GANS)
def test_training_pulls_the_generator_towards_the_real_images(arch):
    torch.manual_seed(0)
    trainer = make_trainer(arch, {**SMALL, "resolution": 8, "learning_rate": 2e-3, "critic_steps": 1}, "cpu")
    real = torch.full((8, 3, 8, 8), 0.6)
    latents = torch.randn(8, 16)

    def distance():
        trainer.generator.eval()
        with torch.no_grad():
            result = (trainer.generator(latents).mean() - 0.6).abs().item()
        trainer.generator.train()
        return result

    start, late = distance(), []
    for step in range(120):
        trainer.step(0, lambda n: real, lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
        if step >= 90:
            late.append(distance())
    assert np.mean(late) < 0.5 * start


def test_hinge_loss_values():
    assert hinge_critic_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])).item() == pytest.approx(0.25 + 0.5)


def test_rq_dot_kernel_and_unbiased_mmd():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, generator=generator)
    kernel = mix_rq_dot_kernel(x, x, ALPHAS)
    assert torch.allclose(kernel, kernel.T)
    assert torch.allclose(kernel.diagonal(), (x * x).sum(1) + len(ALPHAS))
    same = torch.randn(200, 4, generator=generator)
    shifted = torch.randn(200, 4, generator=generator) + 1.0
    assert abs(mmd_generator_loss(x, same, ALPHAS).item()) < 0.1
    assert mmd_generator_loss(x, shifted, ALPHAS).item() > 10 * abs(mmd_generator_loss(x, same, ALPHAS).item())
    k = mix_rq_dot_kernel
    assert mmd2_unbiased(k(x, x, ALPHAS), k(same, same, ALPHAS), k(x, same, ALPHAS)).item() == pytest.approx(
        mmd_generator_loss(x, same, ALPHAS).item())


def test_cramer_losses():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(500, 8, generator=generator)
    fake, fake2 = torch.randn(500, 8, generator=generator), torch.randn(500, 8, generator=generator)
    # The energy distance without its constant real-real term: matched fakes give E||x - x'||.
    matched = cramer_generator_loss(real, fake, fake2).item()
    far = cramer_generator_loss(real, fake + 3, fake2 + 3).item()
    assert matched == pytest.approx(torch.cdist(real, fake).mean().item(), rel=0.05)
    assert far > matched + 2
    assert torch.allclose(cramer_surrogate(real, torch.zeros_like(real)), torch.zeros(500))


def test_unknown_latent_prior_is_named():
    from ganprint import GanprintError

    with pytest.raises(GanprintError, match="latent_distribution"):
        make_settings("mmdgan", {"latent_distribution": "cauchy"})
    assert all(name in ARCHITECTURES for name in RESNET_GANS)


def test_latent_priors():
    from ganprint.gans.latents import draw_latents, latent_of_image

    uniform = latent_of_image("uniform", 3, 7, 1000)
    assert uniform.min() >= -1 and uniform.max() <= 1 and uniform.std() > 0.5
    assert np.array_equal(uniform, latent_of_image("uniform", 3, 7, 1000))
    assert not np.array_equal(uniform, latent_of_image("uniform", 3, 8, 1000))
    normal = latent_of_image("normal", 3, 7, 1000)
    assert np.abs(normal).max() > 1.5
    stream = torch.Generator().manual_seed(0)
    assert draw_latents("uniform", 4, 16, stream).abs().max() <= 1
    assert draw_latents("normal", 4, 16, stream).shape == (4, 16)
