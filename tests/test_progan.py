import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.gans import make_settings
from ganprint.gans.progan import ProGANDiscriminator, ProGANGenerator, ProGANTrainer, real_at

TINY = dict(resolution=16, latent_dim=16, fmap_base=32, fmap_max=16, images_per_phase=64,
            total_images=448, batch_sizes={4: 16, 8: 16, 16: 16}, learning_rate=0.002, ema_beta=0.9)


@pytest.mark.parametrize("resolution", [16, 32])
def test_shapes_at_every_stage(resolution):
    settings = make_settings("progan", {**TINY, "resolution": resolution, "batch_sizes": {r: 4 for r in (4, 8, 16, 32)}})
    generator, discriminator = ProGANGenerator(settings), ProGANDiscriminator(settings)
    z = torch.randn(4, settings.latent_dim)
    for res in settings.resolutions():
        for alpha in (0.3, 1.0):
            images = generator(z, res, alpha)
            assert images.shape == (4, 3, res, res)
            assert discriminator(images, alpha).shape == (4, 1)
    assert generator(z).shape == (4, 3, resolution, resolution)


def test_schedule_grows_and_fades():
    settings = make_settings("progan", TINY)
    assert settings.schedule(0) == (4, 1.0)
    assert settings.schedule(64 + 32) == (8, 0.5)
    assert settings.schedule(128) == (8, 1.0)
    assert settings.schedule(192 + 16) == (16, 0.25)
    assert settings.schedule(10_000) == (16, 1.0)


def test_real_images_are_blended_while_fading_in():
    images = torch.randn(2, 3, 16, 16)
    assert real_at(images, 8, 1.0).shape == (2, 3, 8, 8)
    coarse = real_at(images, 8, 0.0)
    assert torch.allclose(coarse[..., ::2, ::2], coarse[..., 1::2, 1::2])


def test_unknown_settings_and_architectures_are_named():
    with pytest.raises(GanprintError, match="lr"):
        make_settings("progan", {"lr": 0.1})
    with pytest.raises(GanprintError, match="unknown GAN architecture 'stylegan9'"):
        make_settings("stylegan9", {})


def test_a_training_step_moves_both_networks():
    trainer = ProGANTrainer(make_settings("progan", TINY), "cpu")
    before_g = [p.clone() for p in trainer.generator.parameters()]
    before_d = [p.clone() for p in trainer.discriminator.parameters()]
    real = torch.rand(16, 3, 16, 16) * 2 - 1
    losses = trainer.step(0, lambda n: real[:n], lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
    assert torch.isfinite(losses["d_loss"]) and torch.isfinite(losses["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before_g, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, trainer.discriminator.parameters()))


def test_training_pulls_the_generator_towards_the_real_images():
    torch.manual_seed(0)
    trainer = ProGANTrainer(make_settings("progan", {**TINY, "learning_rate": 0.005}), "cpu")
    real = torch.full((16, 3, 4, 4), 0.6)
    latents = torch.randn(16, 16)

    def distance():
        with torch.no_grad():
            return (trainer.generator(latents, 4).mean() - 0.6).abs().item()

    start, late = distance(), []
    for step in range(100):
        trainer.step(0, lambda n: real, lambda n: latents, lambda n: torch.rand(n))
        if step >= 60:
            late.append(distance())
    assert np.mean(late) < 0.5 * start


def test_learning_rate_per_resolution_as_the_authors_config():
    """ProGAN/config.py: base rate 0.001, G_lrate_dict = D_lrate_dict = {128: 0.0015, ...};
    the rate of a resolution holds from its fade-in on."""
    settings = make_settings("progan", {})
    assert [settings.learning_rate_at(r) for r in settings.resolutions()] == [0.001] * 5 + [0.0015]
    small = make_settings("progan", {**TINY, "learning_rate": 0.002, "learning_rates": {16: 0.004}})
    trainer = ProGANTrainer(small, "cpu")
    rates = {}
    for shown in (0, 2 * small.images_per_phase, 3 * small.images_per_phase + 1):
        trainer.step(shown, lambda n: torch.rand(n, 3, 16, 16) * 2 - 1, lambda n: torch.randn(n, TINY["latent_dim"]),
                     lambda n: torch.rand(n))
        rates[trainer.current_resolution] = [g["lr"] for o in (trainer.generator_optimiser, trainer.discriminator_optimiser)
                                             for g in o.param_groups]
    assert rates == {4: [0.002, 0.002], 8: [0.002, 0.002], 16: [0.004, 0.004]}
