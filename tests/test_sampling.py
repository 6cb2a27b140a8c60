import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.gans.sampling import latents, sample_gan, write_samples
from ganprint.gans.training import train_gan

SETTINGS = dict(resolution=8, latent_dim=8, fmap_base=16, fmap_max=8, images_per_phase=32,
                total_images=64, batch_sizes={4: 16, 8: 16})
# a diffusion model samples through its DDIM steps from each image's own starting noise
DIFFUSION = dict(resolution=8, block_channels=[8, 16], layers_per_block=1, attention_resolutions=[],
                 train_timesteps=50, sampling_steps=3, batch_size=16, total_images=64, ema_beta=0.5)


@pytest.fixture(scope="module", params=["progan", "ddpm"])
def generator_path(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp(request.param)
    rng = np.random.default_rng(0)
    np.save(folder / "real.npy", rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8))
    settings = {"progan": SETTINGS, "ddpm": DIFFUSION}[request.param]
    train_gan(request.param, settings, folder / "real.npy", folder / "g.pt", seed=0, threads=1)
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


class SpreadLatents(torch.nn.Module):
    """A stand-in generator: each image is its latent, scaled past [-1, 1], as a 3 x 4 x 4 map;
    the last image of every batch is flat; in the first, the stretch puts one value exactly
    half-way between two levels (span 255/128, so 12.5/128 above the minimum is level 12.5)."""

    resolution, latent_dim, latent_distribution = 4, 48, "normal"

    def forward(self, z):
        images = (0.7 * z).reshape(-1, 3, 4, 4)
        images[0] = images[0].clamp(-1, 0.9921875)
        images[0, 0, 0, :3] = torch.tensor([-1, 0.9921875, -1 + 12.5 / 128])
        images[-1] = 0.25
        return images


def bytes_by_formula(values, export):
    """Each float value as the authors' tools wrote it: np.rint (ProGAN's misc), np.uint8 of the
    clipped value (Chainer's SNGAN) or scipy.misc.bytescale of the whole image (imsave)."""
    result = np.empty(values.shape, dtype=np.uint8)
    for n, image in enumerate(values):
        low, high = image.min(), image.max()
        span = high - low if high > low else 1.0
        for index, value in np.ndenumerate(image):
            if export == "round":
                level = np.rint(min(max((value + 1) * 127.5, 0), 255))
            elif export == "truncate":
                level = int(min(max(value * 127.5 + 127.5, 0.0), 255.0))
            else:
                level = int(min(max((value - low) * 255.0 / span, 0), 255) + 0.5)
            result[(n, *index)] = level
    return result


@pytest.mark.parametrize("export", ["round", "truncate", "stretch"])
def test_each_export_writes_the_bytes_of_the_authors_tools(tmp_path, export):
    generator = SpreadLatents()
    write_samples(generator, tmp_path / "images.npy", 0, 7, 3, 4, "cpu", export)
    written = np.load(tmp_path / "images.npy")
    batches = [generator(latents("normal", 3, start, count, 48)) for start, count in ((0, 4), (4, 3))]
    values = torch.cat(batches).double().permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(written, bytes_by_formula(values, export))
    if export == "stretch":
        assert all(image.min() == 0 and image.max() == 255 for image in written[[0, 1, 2, 4, 5]])
        assert (written[[3, 6]] == 0).all()  # a flat image: imsave's span of 1, so all zero


def test_an_unknown_export_is_named(generator_path, tmp_path):
    with pytest.raises(GanprintError, match="export must be one of round, truncate, stretch"):
        sample_gan(str(generator_path), {tmp_path / "x.npy": 2}, 0, 4, export="scaled")


def test_every_instance_draws_its_own_latent_stream():
    """Separate runs of one GAN, the sanity check's twins too, sample different latents (a
    shared stream would give the twins the same test images: chance by construction); a
    run's snapshots draw the latents of its final weights."""
    from ganprint.config_checks import read_config
    from ganprint.sources import sampling_seed
    from tiny_workflow import REPO

    config = read_config([REPO / "workflow/configs/celeba.yaml"])
    instances = {source for spec in config["experiments"].values() for source in spec["sources"] if source != "real"}
    seeds = {name: sampling_seed(name, config["sampling"]["seed"]) for name in instances}
    assert len(instances) == 26 and len(set(seeds.values())) == len(instances)
    assert sampling_seed("progan_all_s1", 0) != sampling_seed("progan_all_s1_run2", 0)
    assert sampling_seed("progan_all_s1_at0.1", 0) == sampling_seed("progan_all_s1", 0)
    first, twin = (latents("normal", sampling_seed(name, 0), 0, 16, 8) for name in ("progan_all_s1", "progan_all_s1_run2"))
    assert not torch.equal(first, twin)
