import math

import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.gans import make_settings
from ganprint.gans.losses import wgan_gp_critic_loss
from ganprint.gans.progan import ProGANDiscriminator, ProGANGenerator, ProGANTrainer, real_at
from ganprint.layers import EqualConvDownscale2d

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


def test_each_critic_block_pools_before_its_last_activation_as_the_authors_fused_scale():
    """D_paper with fused_scale: Conv0, bias, lrelu; then Conv1_down (convolution and 2x2
    average), bias, lrelu: the activation comes after the pooling."""
    discriminator = ProGANDiscriminator(make_settings("progan", TINY)).double()
    first, second = discriminator.blocks["16"]
    with torch.no_grad():
        for layer in (first, second):
            layer.bias.normal_()
    x = torch.randn(2, first.weight.shape[1], 16, 16, dtype=torch.float64)
    lrelu = lambda t: torch.nn.functional.leaky_relu(t, 0.2)  # noqa: E731
    hidden = lrelu(torch.nn.functional.conv2d(x, first.weight * first.scale, first.bias, padding=1))
    pooled = torch.nn.functional.avg_pool2d(torch.nn.functional.conv2d(hidden, second.weight * second.scale, padding=1), 2)
    expected = lrelu(pooled + second.bias[:, None, None])
    torch.testing.assert_close(discriminator._block(x, 16), expected, rtol=1e-10, atol=1e-12)


def test_adam_restarts_at_every_fade_in_and_every_stable_phase_as_the_authors_run():
    """ProGAN/run.py, reset_opt_for_new_lod: the moments restart when floor(lod) or ceil(lod)
    changes, i.e. where a fade-in starts and where it ends; never within a phase, nor after
    the last fade-in."""
    settings = make_settings("progan", TINY)
    trainer = ProGANTrainer(settings, "cpu")
    per_phase = settings.images_per_phase
    restarts = []
    for shown in range(0, 7 * per_phase, per_phase // 2):
        before = trainer.generator_optimiser
        trainer.step(shown, lambda n: torch.rand(n, 3, 16, 16) * 2 - 1, lambda n: torch.randn(n, TINY["latent_dim"]),
                     lambda n: torch.rand(n))
        if trainer.generator_optimiser is not before:
            restarts.append(shown)
    assert restarts == [per_phase, 2 * per_phase, 3 * per_phase, 4 * per_phase]


class QuadraticCritic(torch.nn.Module):
    """D(x) = a.x + c |x|^2, whose gradient a + 2 c x depends on where it is taken."""

    def __init__(self, a, c):
        super().__init__()
        self.a = torch.nn.Parameter(torch.as_tensor(a))
        self.c = torch.nn.Parameter(torch.tensor(c, dtype=torch.float64))

    def forward(self, x):
        flat = x.flatten(1)
        return (flat @ self.a + self.c * flat.pow(2).sum(1))[:, None]


def critic_loss_by_hand(a, c, real, fake, uniform, gp_weight=10.0, drift=0.001):
    """The authors' D_wgangp_acgan per image, averaged: D(fake) - D(real) + lambda (|grad D(x_hat)| - 1)^2
    + eps D(real)^2, x_hat = real + u (fake - real)."""
    score = lambda x: float(a @ x + c * x @ x)  # noqa: E731
    total = 0.0
    for x_real, x_fake, u in zip(real.reshape(len(real), -1), fake.reshape(len(fake), -1), uniform):
        x_hat = x_real + u * (x_fake - x_real)
        norm = np.sqrt(((a + 2 * c * x_hat) ** 2).sum())
        total += score(x_fake) - score(x_real) + gp_weight * (norm - 1) ** 2 + drift * score(x_real) ** 2
    return total / len(real)


def test_critic_loss_is_wgan_gp_plus_drift_as_in_the_authors_code():
    rng = np.random.default_rng(0)
    a, c = rng.normal(size=12) * 0.3, 0.4
    real, fake = rng.normal(size=(5, 3, 2, 2)), rng.normal(size=(5, 3, 2, 2)) + 1
    uniform = rng.uniform(size=5)
    critic = QuadraticCritic(a, c)
    loss = wgan_gp_critic_loss(critic, torch.from_numpy(real), torch.from_numpy(fake), torch.from_numpy(uniform), 10.0, 0.001)
    assert loss.item() == pytest.approx(critic_loss_by_hand(a, c, real, fake, uniform), rel=1e-12)
    # the penalty trains the critic: dloss/dc by autograd is the hand formula's slope
    loss.backward()
    step = 1e-6
    hand = lambda c_value: critic_loss_by_hand(a, c_value, real, fake, uniform)  # noqa: E731
    slope = (hand(c + step) - hand(c - step)) / (2 * step)
    assert critic.c.grad.item() == pytest.approx(slope, rel=1e-6)
    settings = make_settings("progan", {})
    assert (settings.gp_weight, settings.drift_weight) == (10.0, 0.001)


def test_the_trainer_uses_the_configured_penalty_weights(monkeypatch):
    import ganprint.gans.progan as progan

    seen = []
    original = progan.wgan_gp_critic_loss

    def recording(critic, real, fake, uniform, gp_weight, drift_weight):
        seen.append((gp_weight, drift_weight))
        return original(critic, real, fake, uniform, gp_weight, drift_weight)

    monkeypatch.setattr(progan, "wgan_gp_critic_loss", recording)
    trainer = ProGANTrainer(make_settings("progan", {**TINY, "gp_weight": 7.0, "drift_weight": 0.25}), "cpu")
    trainer.step(0, lambda n: torch.rand(n, 3, 16, 16) * 2 - 1, lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
    assert seen == [(7.0, 0.25)]


def test_the_saved_generator_is_the_moving_average_of_the_trained_one(tmp_path, monkeypatch, real_path):
    """G_smoothing: after every step Gs = beta Gs + (1 - beta) G; the checkpoint holds Gs."""
    import ganprint.gans.training as training
    from ganprint.storage import load_checkpoint

    beta, steps = TINY["ema_beta"], []
    original_make_trainer = training.make_trainer
    weights = lambda net: {k: v.double().clone() for k, v in net.state_dict().items()}  # noqa: E731

    def watched_trainer(*args):
        trainer = original_make_trainer(*args)
        original_step = trainer.step

        def step(*step_args):
            average, raw_before = weights(trainer.generator_ema), weights(trainer.generator)
            result = original_step(*step_args)
            steps.append((average, raw_before, weights(trainer.generator)))
            return result

        trainer.step = step
        return trainer

    monkeypatch.setattr(training, "make_trainer", watched_trainer)
    training.train_gan("progan", {**TINY, "total_images": 48}, str(real_path), str(tmp_path / "g.pt"), seed=1, threads=1)
    saved = load_checkpoint(tmp_path / "g.pt")["generator"]
    assert len(steps) == 3
    expected = steps[0][1]  # the average starts as a copy of the generator
    for average, _, raw in steps:
        assert all(torch.allclose(average[name], expected[name], rtol=1e-5, atol=1e-6) for name in expected)
        expected = {name: beta * expected[name] + (1 - beta) * raw[name] for name in expected}
    assert all(torch.allclose(saved[name].double(), expected[name], rtol=1e-5, atol=1e-6) for name in expected)
    last_raw = steps[-1][2]
    assert not all(torch.allclose(saved[name].double(), last_raw[name], rtol=1e-3, atol=1e-4) for name in last_raw)


def feature_maps(resolution, fmap_base=8192, fmap_max=512):
    """The authors' nf(stage) = min(fmap_base / 2^stage, fmap_max), stage = log2(resolution) - 1."""
    return min(int(fmap_base / 2 ** (math.log2(resolution) - 1)), fmap_max)


def test_the_128_pixel_networks_have_the_authors_layout():
    settings = make_settings("progan", {})
    assert (settings.fmap_base, settings.fmap_max, settings.latent_dim) == (8192, 512, 512)
    resolutions = [4, 8, 16, 32, 64, 128]
    widths = [feature_maps(r) for r in resolutions]
    assert widths == [512, 512, 512, 512, 256, 128]
    generator, discriminator = ProGANGenerator(settings), ProGANDiscriminator(settings)

    def shape(layer):
        return tuple(layer.weight.shape)

    def scale(layer, gain=math.sqrt(2)):
        return pytest.approx(gain / math.sqrt(layer.weight[0].numel()))

    assert shape(generator.dense) == (512 * 16, 512) and generator.dense.scale == scale(generator.dense, math.sqrt(2) / 4)
    assert generator.dense.bias is None and generator.dense_bias.shape == (512,)  # one bias per 4x4 map
    assert shape(generator.base_conv) == (512, 512, 3, 3)
    assert sorted(map(int, generator.blocks)) == resolutions[1:] and sorted(map(int, generator.to_rgb)) == resolutions
    for previous, resolution in zip(resolutions, resolutions[1:]):
        first, second = generator.blocks[str(resolution)]
        assert shape(first) == (feature_maps(resolution), feature_maps(previous), 3, 3)
        assert shape(second) == (feature_maps(resolution), feature_maps(resolution), 3, 3)
        assert first.scale == scale(first) and second.scale == scale(second)
    for resolution in resolutions:
        to_rgb = generator.to_rgb[str(resolution)]
        assert shape(to_rgb) == (3, feature_maps(resolution), 1, 1) and to_rgb.scale == scale(to_rgb, 1.0)

    assert sorted(map(int, discriminator.blocks)) == resolutions[1:] and sorted(map(int, discriminator.from_rgb)) == resolutions
    for previous, resolution in zip(resolutions, resolutions[1:]):
        first, second = discriminator.blocks[str(resolution)]
        assert shape(first) == (feature_maps(resolution), feature_maps(resolution), 3, 3)
        assert shape(second) == (feature_maps(previous), feature_maps(resolution), 3, 3)
        assert isinstance(second, EqualConvDownscale2d) and not isinstance(first, EqualConvDownscale2d)
        assert shape(discriminator.from_rgb[str(resolution)]) == (feature_maps(resolution), 3, 1, 1)
    assert shape(discriminator.final_conv) == (512, 512 + 1, 3, 3)  # + the minibatch deviation
    assert shape(discriminator.final_dense) == (min(8192, 512), 512 * 16)  # nf(stage 0)
    assert shape(discriminator.output) == (1, 512) and discriminator.output.scale == scale(discriminator.output, 1.0)
    convolutions = lambda net: sum(p.dim() == 4 for p in net.parameters())  # noqa: E731
    assert convolutions(generator) == 1 + 2 * 5 + 6 and convolutions(discriminator) == 6 + 2 * 5 + 1
