"""The one training loop, for every architecture: determinism, resume, training subsets."""

import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.gans import ARCHITECTURES
from ganprint.data.subsets import subset_diff
from ganprint.gans.sampling import load_generator
from ganprint.gans.training import train_gan
from ganprint.storage import load_checkpoint

from test_progan import TINY as TINY_PROGAN

# Tiny 16x16 runs of about 30 steps each.
TINY = {
    "progan": TINY_PROGAN,
    "sngan": dict(resolution=16, latent_dim=16, generator_channels=4, critic_channels=4, batch_size=8,
                  critic_steps=2, total_images=480),
    "cramergan": dict(resolution=16, latent_dim=16, generator_channels=4, critic_channels=4, batch_size=8,
                      critic_steps=2, total_images=720, critic_output_dim=8),
    "mmdgan": dict(resolution=16, latent_dim=16, generator_channels=4, critic_channels=4, batch_size=8,
                   critic_steps=2, total_images=720),
    "ddpm": dict(resolution=16, block_channels=[8, 16], layers_per_block=1, attention_resolutions=[8],
                 train_timesteps=100, sampling_steps=4, batch_size=8, total_images=240, ema_beta=0.9),
}


def test_every_architecture_has_tiny_settings():
    assert sorted(TINY) == sorted(ARCHITECTURES)


def weights(path):
    return load_checkpoint(path)["generator"]


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(TINY))
def test_same_seed_is_bit_identical_and_seeds_differ(arch, tmp_path, real_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        train_gan(arch, TINY[arch], real_path, tmp_path / f"{name}.pt", seed=seed, threads=1)
    assert same(weights(tmp_path / "a.pt"), weights(tmp_path / "b.pt"))
    assert not same(weights(tmp_path / "a.pt"), weights(tmp_path / "c.pt"))


@pytest.mark.slow
def test_one_more_thread_changes_only_the_summation_order(tmp_path, real_path):
    """The sanity check's `_noisy<k>` run: another thread count gives other weights, which
    repeat themselves bit for bit."""
    for name, threads in (("one", 1), ("two", 2), ("two_again", 2)):
        train_gan("progan", TINY_PROGAN, real_path, tmp_path / f"{name}.pt", seed=1, threads=threads)
    one, two, again = (weights(tmp_path / f"{name}.pt") for name in ("one", "two", "two_again"))
    assert same(two, again) and not same(one, two)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(TINY))
def test_resume_after_a_kill_continues_from_the_last_checkpoint_to_the_uninterrupted_weights(
        arch, tmp_path, real_path, kill_on_call, count_calls):
    trainer_class = ARCHITECTURES[arch][1]
    steps = count_calls(trainer_class, "step")
    train_gan(arch, TINY[arch], real_path, tmp_path / "whole.pt", seed=5, threads=1)
    whole_run_steps = steps.calls

    restore = kill_on_call(trainer_class, "step", 20)
    with pytest.raises(KeyboardInterrupt):
        train_gan(arch, TINY[arch], real_path, tmp_path / "resumed.pt", seed=5, threads=1, checkpoint_every=100)
    assert not (tmp_path / "resumed.pt").exists()
    assert (tmp_path / "resumed.resume.pt").exists()
    restore()
    steps = count_calls(trainer_class, "step")
    train_gan(arch, TINY[arch], real_path, tmp_path / "resumed.pt", seed=5, threads=1, checkpoint_every=100)
    # from a checkpoint taken within the 19 steps before the kill, not from the start
    assert whole_run_steps - 19 <= steps.calls < whole_run_steps
    assert same(weights(tmp_path / "whole.pt"), weights(tmp_path / "resumed.pt"))
    assert (tmp_path / "resumed.resume.pt").exists()


def test_weights_lost_after_the_run_are_rewritten_from_its_final_state(tmp_path, real_path, kill_on_call):
    """A job killed after writing its weights (a scheduler's time limit while it wraps up)
    loses them; the retry writes them again without training, and the resumable state goes
    once a later job has read them."""
    output = tmp_path / "g.pt"
    train_gan("progan", TINY_PROGAN, real_path, output, seed=3, threads=1)
    finished = weights(output)
    output.unlink()
    restore = kill_on_call(ARCHITECTURES["progan"][1], "step", 1)
    train_gan("progan", TINY_PROGAN, real_path, output, seed=3, threads=1)
    restore()
    assert same(finished, weights(output))
    load_generator(str(output), torch.device("cpu"))
    assert not (tmp_path / "g.resume.pt").exists()


def test_training_on_a_subset_and_bad_subset(tmp_path, real_path):
    np.save(tmp_path / "rows.npy", np.arange(0, 300, 2))
    train_gan("progan", {**TINY_PROGAN, "total_images": 64}, real_path, tmp_path / "g.pt", seed=0, threads=1,
              subset_path=str(tmp_path / "rows.npy"))
    np.save(tmp_path / "bad.npy", np.array([0, 5000]))
    with pytest.raises(GanprintError, match="bad.npy"):
        train_gan("progan", TINY_PROGAN, real_path, tmp_path / "h.pt", seed=0, threads=1, subset_path=str(tmp_path / "bad.npy"))


@pytest.mark.slow
def test_one_swapped_training_image_changes_the_weights(tmp_path, real_path):
    """real_subset_diff_#1: same seed, same batches, but one image differs."""
    base = subset_diff(300, 150, 0, seed=0)
    np.save(tmp_path / "diff0.npy", base)
    np.save(tmp_path / "diff1.npy", subset_diff(300, 150, 1, seed=0))
    np.save(tmp_path / "diff0_again.npy", base)
    for name in ("diff0", "diff1", "diff0_again"):
        train_gan("sngan", TINY["sngan"], real_path, tmp_path / f"{name}.pt", seed=0, threads=1,
                  subset_path=str(tmp_path / f"{name}.npy"))
    assert same(weights(tmp_path / "diff0.pt"), weights(tmp_path / "diff0_again.pt"))
    assert not same(weights(tmp_path / "diff0.pt"), weights(tmp_path / "diff1.pt"))
