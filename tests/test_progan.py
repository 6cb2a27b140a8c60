import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.gans import make_settings
from ganprint.gans.progan import ProGANDiscriminator, ProGANGenerator, ProGANTrainer, real_at
from ganprint.gans.training import train_gan
from ganprint.storage import load_checkpoint

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
    assert np.isfinite(losses["d_loss"]) and np.isfinite(losses["g_loss"])
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


@pytest.fixture
def real_path(tmp_path, smooth_images):
    path = tmp_path / "real.npy"
    np.save(path, smooth_images)
    return path


def weights(path):
    return load_checkpoint(path)["generator"]


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_is_bit_identical_and_seeds_differ(tmp_path, real_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train_gan("progan", TINY, real_path, tmp_path / f"{name}.pt", seed=seed, threads=1)
    assert same(weights(tmp_path / "a.pt"), weights(tmp_path / "b.pt"))
    assert not same(weights(tmp_path / "a.pt"), weights(tmp_path / "c.pt"))


def test_resume_after_a_kill_gives_the_uninterrupted_weights(tmp_path, real_path, monkeypatch):
    train_gan("progan", TINY, real_path, tmp_path / "whole.pt", seed=5, threads=1)

    original_step, calls = ProGANTrainer.step, {"n": 0}

    def dying_step(self, *args):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt("killed")
        return original_step(self, *args)

    monkeypatch.setattr(ProGANTrainer, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train_gan("progan", TINY, real_path, tmp_path / "resumed.pt", seed=5, threads=1, checkpoint_every=100)
    assert not (tmp_path / "resumed.pt").exists()
    assert (tmp_path / "resumed.resume.pt").exists()
    monkeypatch.setattr(ProGANTrainer, "step", original_step)
    train_gan("progan", TINY, real_path, tmp_path / "resumed.pt", seed=5, threads=1, checkpoint_every=100)
    assert same(weights(tmp_path / "whole.pt"), weights(tmp_path / "resumed.pt"))
    assert not (tmp_path / "resumed.resume.pt").exists()


def test_training_on_a_subset_and_bad_subset(tmp_path, real_path):
    np.save(tmp_path / "rows.npy", np.arange(0, 300, 2))
    train_gan("progan", {**TINY, "total_images": 64}, real_path, tmp_path / "g.pt", seed=0, threads=1,
              subset_path=str(tmp_path / "rows.npy"))
    np.save(tmp_path / "bad.npy", np.array([0, 5000]))
    with pytest.raises(GanprintError, match="bad.npy"):
        train_gan("progan", TINY, real_path, tmp_path / "h.pt", seed=0, threads=1, subset_path=str(tmp_path / "bad.npy"))
