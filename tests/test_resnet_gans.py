"""SNGAN, CramerGAN and MMDGAN: networks at two sizes against the authors' code bases, losses
against their formulas, and that training does something."""

import math

import numpy as np
import pytest
import torch

from ganprint.gans import ARCHITECTURES, make_settings, make_trainer
from ganprint.gans.losses import (
    column_gradient_penalty,
    cramer_critic_loss,
    cramer_generator_loss,
    cramer_surrogate,
    hinge_critic_loss,
    mix_rq_dot_kernel,
    mmd_critic_loss,
    mmd_generator_loss,
)
from ganprint.gans.mmd_code_base import ConvCritic, MMDCodeBaseGenerator, SameTransposedConv, clip_each_
from ganprint.gans.resnet import ResNetDiscriminator, ResNetGenerator
from ganprint.gans.sampling import write_samples
from ganprint.gans.training import RealBatches

RESNET_GANS = ["sngan", "cramergan", "mmdgan"]
SMALL = dict(latent_dim=16, generator_channels=4, critic_channels=4, batch_size=8, critic_steps=2)
ALPHAS = (0.1, 1.0, 10.0)  # the code base's mix_rq_1dot


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


def test_sngan_layout_follows_its_code_at_128():
    generator = ResNetGenerator(make_settings("sngan", {}))
    assert generator.dense.out_features == 16 * 64 * 16  # 4x4x1024
    assert [block.conv1.out_channels for block in generator.blocks] == [1024, 512, 256, 128, 64]
    discriminator = ResNetDiscriminator(128, 64, 16)
    widths = [(block.conv1.in_channels, block.conv1.out_channels, block.conv2.out_channels) for block in discriminator.blocks]
    # dis_models/resblocks.py: OptimizedBlock in -> out -> out, Block in -> in -> out
    assert widths == [(3, 64, 64), (64, 64, 128), (128, 128, 256), (256, 256, 512), (512, 512, 1024), (1024, 1024, 1024)]
    assert hasattr(discriminator.blocks[0].conv1, "parametrizations")  # spectral norm
    # Chainer's L.BatchNormalization: eps 2e-5
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 11 and {norm.eps for norm in norms} == {2e-5}


def layer_list(module):
    kinds = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.BatchNorm2d)
    return [(next(k.__name__ for k in kinds if isinstance(m, k)), tuple(m.weight.shape))
            for m in module.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("arch, output_dim", [("cramergan", 256), ("mmdgan", 16)])
def test_mmd_code_base_layers_at_128(arch, output_dim):
    """g_resnet5 of the MMD-GAN code base at 128x128, gf_dim = df_dim = 64, z_dim = 100:
    g_h0_lin to 4x4x1024; res1-res4 up-blocks (BN, ReLU, upsample-conv3x3, BN, ReLU, conv3x3;
    upsample-conv1x1 shortcut) 1024-512-256-128-64; BN; 5x5 stride-2 deconv g_h5 to RGB.
    dcgan5 critic: 5x5 stride-2 convs h0-h4 to 64-128-256-512-1024 maps, h6_lin from 4x4x1024."""
    trainer = make_trainer(arch, {}, "cpu")
    expected_generator = [("Linear", (16384, 100))]
    for a, b in [(1024, 512), (512, 256), (256, 128), (128, 64)]:
        expected_generator += [("BatchNorm2d", (a,)), ("BatchNorm2d", (b,)), ("Conv2d", (b, a, 3, 3)),
                               ("Conv2d", (b, b, 3, 3)), ("Conv2d", (b, a, 1, 1))]
    expected_generator += [("BatchNorm2d", (64,)), ("ConvTranspose2d", (64, 3, 5, 5))]
    assert layer_list(trainer.generator) == expected_generator
    widths = [3, 64, 128, 256, 512, 1024]
    assert layer_list(trainer.critic) == [("Conv2d", (b, a, 5, 5)) for a, b in zip(widths, widths[1:])] + [
        ("Linear", (output_dim, 16384))]
    settings = trainer.settings
    assert (settings.batch_size, settings.latent_dim, settings.latent_distribution) == (32, 100, "uniform")
    assert (settings.learning_rate, settings.betas, settings.gradient_clip) == (1e-4, (0.5, 0.9), 1.0)
    assert trainer.generator_optimiser.defaults["betas"] == (0.5, 0.9)


def test_tensorflow_same_padding():
    """TensorFlow's 'SAME' at stride 2 with a 5x5 kernel pads one pixel before and two after:
    conv output i reads inputs 2i-1 .. 2i+3; the transposed conv writes input i to 2i-1 .. 2i+3."""
    deconv = SameTransposedConv(1, 1)
    torch.nn.init.zeros_(deconv.conv.bias)
    kernel = torch.arange(25.0).reshape(1, 1, 5, 5)
    deconv.conv.weight.data.copy_(kernel)
    pixel = torch.zeros(1, 1, 2, 2)
    pixel[0, 0, 0, 0] = 1
    output = deconv(pixel)
    assert output.shape == (1, 1, 4, 4)
    assert torch.equal(output[0, 0], kernel[0, 0, 1:5, 1:5])  # taps k = 1..4 land on 2*0 - 1 + k
    critic = ConvCritic(8, 1, 1, 1)
    convolution = critic.convolutions[0]
    convolution.weight.data.copy_(torch.arange(75.0).reshape(1, 3, 5, 5))
    torch.nn.init.zeros_(convolution.bias)
    image = torch.zeros(1, 3, 8, 8)
    image[0, 0, 0, 0] = 1
    first = critic.layers(image)[0]
    assert first.shape == (1, 1, 4, 4) and first[0, 0, 0, 0] == 6.0  # tap (1, 1) of channel 0
    assert first[0, 0].count_nonzero() == 1


def test_batch_statistics_at_sampling_come_from_fixed_groups(tmp_path):
    settings = make_settings("mmdgan", {**SMALL, "resolution": 16, "batch_size": 4})
    torch.manual_seed(0)
    generator = MMDCodeBaseGenerator(settings).eval()
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(module.running_mean)  # running statistics are not used
    write_samples(generator, tmp_path / "all.npy", 0, 13, 5, 64, "cpu")
    write_samples(generator, tmp_path / "small.npy", 0, 13, 5, 1, "cpu")
    write_samples(generator, tmp_path / "tail.npy", 5, 8, 5, 8, "cpu")
    everything = np.load(tmp_path / "all.npy")
    assert np.array_equal(everything, np.load(tmp_path / "small.npy"))
    assert np.array_equal(everything[5:], np.load(tmp_path / "tail.npy"))
    z = torch.rand(8, 16) * 2 - 1
    alone, together = generator(z[:4]), generator(z)
    assert torch.equal(alone, together[:4])  # groups do not see each other
    changed = generator(torch.cat([z[:3], -z[3:4]]))
    assert not torch.equal(changed[:3], alone[:3])  # images of a group do
    with pytest.raises(ValueError, match="groups of 4"):
        generator(z[:3])


def test_gradients_are_clipped_one_by_one_as_tensorflow_does():
    small, large = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))
    small.grad, large.grad = torch.tensor([0.3, 0.0, 0.4]), torch.full((2, 2), 2.5)  # norms 0.5 and 5
    clip_each_([small, large], 1.0)
    assert torch.allclose(small.grad, torch.tensor([0.3, 0.0, 0.4]))
    assert torch.allclose(large.grad, torch.full((2, 2), 0.5))


def test_column_gradient_penalty_of_a_linear_critic():
    """For f(x) = sum(a * x) the gradient is a everywhere; the code base penalises
    (sqrt(sum over rows of a^2 + 1e-5) - 1)^2, averaged over images, channels and columns."""
    a = torch.rand(1, 3, 4, 5)
    critic = lambda x: (a * x).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.rand(2, 3, 4, 5), torch.rand(2, 3, 4, 5)
    expected = ((a.pow(2).sum(2) + 1e-5).sqrt() - 1).pow(2).mean()
    assert column_gradient_penalty(critic, real, fake, torch.rand(2)).item() == pytest.approx(expected.item(), rel=1e-5)
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


@pytest.mark.parametrize("arch, first", [("sngan", "generator"), ("cramergan", "critic"), ("mmdgan", "critic")])
def test_the_generator_updates_first_in_sngan_as_its_chainer_updater_and_last_in_the_mmd_code_base(arch, first,
                                                                                                   monkeypatch):
    trainer = make_trainer(arch, {**SMALL, "resolution": 16}, "cpu")
    order = []
    update = trainer._update
    monkeypatch.setattr(trainer, "_update", lambda network, *rest: order.append(
        "generator" if network is trainer.generator else "critic") or update(network, *rest))
    real = torch.rand(8, 3, 16, 16) * 2 - 1
    trainer.step(0, lambda n: real[:n], lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
    steps = trainer.settings.critic_steps
    assert order == (["generator"] + ["critic"] * steps if first == "generator" else ["critic"] * steps + ["generator"])


@pytest.mark.parametrize("arch", RESNET_GANS)
def test_training_pulls_the_generator_towards_the_real_images(arch):
    torch.manual_seed(0)
    trainer = make_trainer(arch, {**SMALL, "resolution": 8, "learning_rate": 5e-3, "critic_steps": 1}, "cpu")
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


def test_sngan_rates_fall_linearly_to_zero_over_the_last_fifth():
    """sngan_projection: LinearShift of Adam's alpha from 2e-4 at iteration 120,000 to 0 at 150,000."""
    settings = make_settings("sngan", {"total_images": 1000})
    assert settings.learning_rate_at(800) == 2e-4 and settings.learning_rate_at(0) == 2e-4
    assert settings.learning_rate_at(900) == pytest.approx(1e-4) and settings.learning_rate_at(1000) == 0
    trainer = make_trainer("sngan", {**SMALL, "resolution": 8, "total_images": 100}, "cpu")
    trainer.step(95, lambda n: torch.rand(n, 3, 8, 8), lambda n: torch.randn(n, 16), lambda n: torch.rand(n))
    assert trainer.generator_optimiser.param_groups[0]["lr"] == pytest.approx(trainer.settings.learning_rate / 4)
    assert make_settings("cramergan", {}).learning_rate_at(10**9) == 1e-4  # the code base: constant


def test_hinge_loss_values():
    assert hinge_critic_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])).item() == pytest.approx(0.25 + 0.5)


def test_rq_dot_kernel_and_the_code_bases_mmd():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, generator=generator)
    kernel = mix_rq_dot_kernel(x, x, ALPHAS)
    assert torch.allclose(kernel, kernel.T)
    assert torch.allclose(kernel.diagonal(), (x * x).sum(1) + len(ALPHAS))
    same = torch.randn(200, 4, generator=generator)
    shifted = torch.randn(200, 4, generator=generator) + 1.0
    assert abs(mmd_generator_loss(x, same, ALPHAS).item()) < 0.1
    assert mmd_generator_loss(x, shifted, ALPHAS).item() > 10 * abs(mmd_generator_loss(x, same, ALPHAS).item())


def rq_dot_kernel_of_pair(a, b, alphas):
    """sum_alpha (1 + |a - b|^2 / (2 alpha))^-alpha + a.b for two vectors, written out."""
    squared = sum((ai - bi) ** 2 for ai, bi in zip(a, b))
    return sum((1 + squared / (2 * alpha)) ** -alpha for alpha in alphas) + sum(ai * bi for ai, bi in zip(a, b))


def mmd2_by_pairs(x, y, alphas):
    """The MMD-GAN code base's MMD^2 (mmd.py, `_mmd2` with const_diagonal = the number of RQ
    terms) summed pair by pair: k(x_i, x_j) and k(y_i, y_j) over i != j plus the dot kernel's
    diagonal x_i.x_i (only the RQ kernels' diagonal, 1 each, is taken out), k(x_i, y_j) over all pairs."""
    k = lambda a, b: rq_dot_kernel_of_pair(a, b, alphas)  # noqa: E731
    dot = lambda a: sum(ai * ai for ai in a)  # noqa: E731
    m, n = len(x), len(y)
    within_x = (sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) + sum(map(dot, x))) / (m * (m - 1))
    within_y = (sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) + sum(map(dot, y))) / (n * (n - 1))
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return within_x + within_y - 2 * across


def test_mmd_generator_loss_equals_the_pairwise_sums():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5
    expected = mmd2_by_pairs(real.tolist(), fake.tolist(), ALPHAS)
    loss = mmd_generator_loss(torch.from_numpy(real), torch.from_numpy(fake), ALPHAS).item()
    assert loss == pytest.approx(expected, rel=1e-12)
    assert mmd_generator_loss(torch.from_numpy(fake), torch.from_numpy(real), ALPHAS).item() == pytest.approx(expected, rel=1e-12)


class Flatten(torch.nn.Module):
    def layers(self, x):
        return [x[:, :1], x.flatten(1)]

    def forward(self, x):
        return x.flatten(1)


def test_critic_losses_follow_the_code_base():
    generator = torch.Generator().manual_seed(0)
    real, fake, fake2 = (torch.randn(6, 2, 3, 3, generator=generator) for _ in range(3))
    uniform = torch.rand(6, generator=generator)
    h = lambda x: x.flatten(1)  # noqa: E731
    norm = lambda x: (x.pow(2).sum(1) + 1e-5).sqrt()  # noqa: E731
    critic = lambda x, reference: norm(x - reference) - norm(x)  # noqa: E731
    expected = -(critic(h(real), h(fake)) - critic(h(fake2), h(fake))).mean()
    assert cramer_critic_loss(Flatten(), real, fake, fake2, uniform, 0.0).item() == pytest.approx(expected.item(), rel=1e-6)
    # L2 penalty: per image, the mean square of every layer, summed over layers; real and fake added
    without = mmd_critic_loss(Flatten(), real, fake, uniform, ALPHAS, 0.0, 0.0)
    with_l2 = mmd_critic_loss(Flatten(), real, fake, uniform, ALPHAS, 0.0, 1.0)
    per_image = lambda x: x[:, :1].pow(2).flatten(1).mean(1) + x.pow(2).flatten(1).mean(1)  # noqa: E731
    assert (with_l2 - without).item() == pytest.approx((per_image(real).mean() + per_image(fake).mean()).item(), rel=1e-5)


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


def test_dequantised_reals_are_the_sngan_loaders_x_over_128_minus_1_plus_uniform_noise():
    """SNGAN/datasets/celeba.py: image / 128 - 1, plus U(0, 1/128) per value. Image k is flat at
    level k, so each drawn image's level is its minimum's."""
    images = np.arange(256, dtype=np.uint8).repeat(48).reshape(256, 4, 4, 3)
    batch = RealBatches(images, np.arange(256), torch.Generator().manual_seed(0), "cpu", "dequantised")(512).double()
    scaled = (batch + 1) * 128
    levels = scaled.amin(dim=(1, 2, 3), keepdim=True).floor()
    noise = scaled - levels
    assert noise.min() >= 0 and noise.max() < 1 and abs(noise.mean().item() - 0.5) < 0.01
    assert len(levels.unique()) > 200
    centred = RealBatches(images, np.arange(256), torch.Generator().manual_seed(0), "cpu")(64) * 127.5 + 127.5
    torch.testing.assert_close(centred, centred.round(), rtol=0, atol=1e-4)
