import numpy as np
import pytest

from ganprint import GanprintError
from ganprint.gans.sampling import sample_gan
from ganprint.gans.training import train_gan

SETTINGS = dict(resolution=8, latent_dim=8, fmap_base=16, fmap_max=8, images_per_phase=32,
                total_images=64, batch_sizes={4: 16, 8: 16})


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan")
    rng = np.random.default_rng(0)
    np.save(folder / "real.npy", rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8))
    train_gan("progan", SETTINGS, folder / "real.npy", folder / "g.pt", seed=0, threads=1)
    return folder / "g.pt"


def sample(generator_path, folder, name, seed, batch, n_train=10, n_test=5):
    train, test = folder / f"{name}_train.npy", folder / f"{name}_test.npy"
    sample_gan(str(generator_path), {train: n_train, test: n_test}, seed, batch)
    return np.load(train), np.load(test)


def test_samples_are_reproducible_whatever_the_batch(generator_path, tmp_path):
    train_a, test_a = sample(generator_path, tmp_path, "a", seed=7, batch=4)
    train_b, test_b = sample(generator_path, tmp_path, "b", seed=7, batch=256)
    assert train_a.shape == (10, 8, 8, 3) and test_a.shape == (5, 8, 8, 3) and train_a.dtype == np.uint8
    assert np.array_equal(train_a, train_b) and np.array_equal(test_a, test_b)


def test_seeds_and_splits_draw_different_images(generator_path, tmp_path):
    train_a, test_a = sample(generator_path, tmp_path, "a", seed=7, batch=8)
    train_c, _ = sample(generator_path, tmp_path, "c", seed=8, batch=8)
    assert not np.array_equal(train_a, train_c)
    assert not any(np.array_equal(image, other) for image in test_a for other in train_a)


def test_bad_counts_are_errors(generator_path, tmp_path):
    with pytest.raises(GanprintError, match="positive"):
        sample(generator_path, tmp_path, "d", seed=0, batch=8, n_test=0)
    assert not list(tmp_path.glob("d_*"))
