import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.attacks import AttackSettings, attack_batch, attack_images
from ganprint.data.images import jpeg_bytes
from ganprint.names import ATTACKS
from ganprint.attribution.evaluation import evaluate_attribution
from ganprint.attribution.training import OptimiserSettings, train_attribution
from ganprint.filters import downsample_to, laplacian_band


@pytest.fixture
def photos(smooth_images):
    """Smooth colour gradients with some texture, 16x16."""
    rng = np.random.default_rng(0)
    return np.clip(smooth_images[:40] + rng.normal(0, 8, smooth_images[:40].shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ATTACKS)
def test_attacks_keep_shape_and_dtype_and_follow_the_seed(photos, name):
    settings = AttackSettings()
    attacked = attack_batch(name, photos, seed=1, first_index=0, settings=settings)
    assert attacked.shape == photos.shape and attacked.dtype == np.uint8
    assert np.array_equal(attacked, attack_batch(name, photos, seed=1, first_index=0, settings=settings))
    assert not np.array_equal(attacked, attack_batch(name, photos, seed=2, first_index=0, settings=settings))
    assert not np.array_equal(attacked, photos)
    halves = np.concatenate([attack_batch(name, photos[:15], 1, 0, settings),
                             attack_batch(name, photos[15:], 1, 15, settings)])
    assert np.array_equal(attacked, halves)  # the batch size does not matter


def test_noise_standard_deviation_is_in_its_range():
    grey = np.full((30, 32, 32, 3), 128, dtype=np.uint8)
    attacked = attack_batch("noise", grey, 3, 0, AttackSettings()).astype(float) - 128
    measured = attacked.reshape(30, -1).std(axis=1)
    assert measured.min() > 5 - 0.5 and measured.max() < 20 + 0.5
    assert measured.max() - measured.min() > 5  # drawn per image


def test_crop_cuts_the_configured_share_of_the_side():
    side = 64
    ramp = np.broadcast_to((np.arange(side) * 4)[None, None, :, None], (20, side, side, 3)).astype(np.uint8)
    attacked = attack_batch("crop", ramp, 4, 0, AttackSettings()).astype(float)
    rows = attacked[:, side // 2, :, 0]
    span = (rows[:, -1] - rows[:, 0]) / 4 * side / (side - 1)  # pixels of the original the output spans
    cut = 1 - span / side
    assert cut.min() > 0.05 - 0.03 and cut.max() < 0.20 + 0.03
    assert np.all(np.diff(rows, axis=1) >= -1e-6)  # still a ramp: resized, not shuffled


def test_blur_with_kernel_size_one_is_the_identity(photos):
    assert np.array_equal(attack_batch("blur", photos, 5, 0, AttackSettings(blur_sizes=(1,))), photos)
    blurred = attack_batch("blur", photos, 5, 0, AttackSettings(blur_sizes=(9,))).astype(float)
    high = lambda x: laplacian_band(torch.from_numpy(x).permute(0, 3, 1, 2).float(), 8).abs().mean()  # noqa: E731
    assert high(blurred) < 0.5 * high(photos.astype(float))


def test_jpeg_quality_is_reflected_in_the_file_size(photos):
    image = np.repeat(np.repeat(photos[0], 4, axis=0), 4, axis=1)
    sizes = [len(jpeg_bytes(image, quality)) for quality in (10, 40, 75)]
    assert sizes[0] < sizes[1] < sizes[2]
    low = attack_batch("jpeg", photos, 6, 0, AttackSettings(jpeg_quality=(10, 10))).astype(float)
    high = attack_batch("jpeg", photos, 6, 0, AttackSettings(jpeg_quality=(75, 75))).astype(float)
    assert np.abs(low - photos).mean() > np.abs(high - photos).mean()


def test_relighting_changes_the_low_band_and_keeps_the_high_band():
    rng = np.random.default_rng(7)
    texture = rng.normal(0, 12, size=(10, 32, 32, 3))
    images = np.clip(128 + texture, 0, 255).astype(np.uint8)
    relit = attack_batch("relight", images, 8, 0, AttackSettings())
    before, after = (torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2) for x in (images, relit))
    # away from the borders, where the reflect padding of the band filter turns smooth ramps into kinks
    high_before, high_after = (laplacian_band(x, 16)[..., 4:-4, 4:-4] for x in (before, after))
    high_change = (high_after - high_before).norm() / high_before.norm()
    low_before, low_after = downsample_to(before, 4), downsample_to(after, 4)
    low_change = (low_after - low_before).norm() / (low_before - low_before.mean()).norm()
    assert high_change < 0.1 and low_change > 1.0


def test_a_torchscript_relighting_model_plugs_in(tmp_path, photos):
    class Darker(torch.nn.Module):
        def forward(self, images):
            return images * 0.5 - 0.5

    path = tmp_path / "relight.pt"
    torch.jit.script(Darker()).save(str(path))
    relit = attack_batch("relight", photos, 0, 0, AttackSettings(relight_model=str(path)))
    expected = np.clip(np.round(((photos / 127.5 - 1) * 0.5 - 0.5 + 1) * 127.5), 0, 255)
    assert np.abs(relit - expected).max() <= 1
    with pytest.raises(GanprintError, match="not a loadable TorchScript"):
        attack_batch("relight", photos, 0, 0, AttackSettings(relight_model=str(tmp_path / "missing.pt")))


def test_unknown_attacks_are_named(photos):
    with pytest.raises(GanprintError, match="unknown attack 'rotate'"):
        attack_batch("rotate", photos, 0, 0, AttackSettings())


@pytest.mark.slow
def test_defense_fine_tuning_raises_attacked_accuracy(tmp_path):
    """Three classes told apart by a faint fixed pattern; noise hides part of it from a
    classifier trained on clean images, and fine-tuning on noisy images recovers some."""
    rng = np.random.default_rng(0)
    patterns = rng.normal(0, 5, size=(3, 16, 16, 3))
    paths = {"train": [], "test": []}
    for label in range(3):
        for split, count in (("train", 200), ("test", 60)):
            base = rng.uniform(110, 150, size=(count, 1, 1, 3)) + rng.normal(0, 4, size=(count, 16, 16, 3))
            clean = tmp_path / f"{split}{label}.npy"
            np.save(clean, np.clip(base + patterns[label], 0, 255).astype(np.uint8))
            attack_images("noise", str(clean), str(tmp_path / f"{split}{label}_noisy.npy"), 0, f"{label}/{split}",
                          AttackSettings())
            paths[split].append(str(clean))
    noisy = {split: [p.replace(".npy", "_noisy.npy") for p in paths[split]] for split in paths}
    classifier, defended = tmp_path / "clean.pt", tmp_path / "defended.pt"
    train_attribution(paths["train"], list("abc"), classifier, fmap_base=32, fmap_max=16,
                      optimiser=OptimiserSettings(learning_rate=3e-3, batch_size=8, epochs=8, lr_schedule="linear"))
    train_attribution(noisy["train"], list("abc"), defended, fmap_base=32, fmap_max=16, initial=str(classifier),
                      optimiser=OptimiserSettings(learning_rate=1e-3, batch_size=8, epochs=4, lr_schedule="linear"))

    def accuracy(model, tests):
        return evaluate_attribution(model, tests, tmp_path / "m.json", tmp_path / "f.npz", tmp_path / "c.csv", {})[
            "accuracy"]

    clean_accuracy, attacked, after_defense = accuracy(classifier, paths["test"]), accuracy(classifier, noisy["test"]), \
        accuracy(defended, noisy["test"])
    assert clean_accuracy > 90 and attacked < clean_accuracy - 10
    assert after_defense > attacked + 2  # measured: 97.8% clean, 67.8% attacked, 73.3% after fine-tuning


PAPER_ORDER = ("relight", "crop", "blur", "jpeg", "noise")  # Sec. 4.4: the combination's order


def attacks_applied_in_combination(monkeypatch, count, settings):
    """Every perturbation replaced by a recorder: for each image (its index written in two
    pixels), the names of the perturbations applied to it, in the order they came."""
    import ganprint.attacks as attacks

    applied = {index: [] for index in range(count)}

    def recorder(name):
        def perturb(images, streams, settings):
            assert len(streams) == len(images)
            for image in images:
                applied[int(image[0, 0, 0]) * 256 + int(image[1, 0, 0])].append(name)
            return images

        return perturb

    for name in PAPER_ORDER:
        monkeypatch.setitem(attacks.SINGLE_ATTACKS, name, recorder(name))
    images = np.zeros((count, 4, 4, 3), dtype=np.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = np.arange(count) // 256, np.arange(count) % 256
    attack_batch("combination", images, seed=3, first_index=0, settings=settings)
    return applied


def test_combination_applies_each_perturbation_with_probability_one_half_in_the_papers_order(monkeypatch):
    assert AttackSettings().probability == 0.5
    applied = attacks_applied_in_combination(monkeypatch, 2000, AttackSettings())
    for names in applied.values():
        assert list(names) == [name for name in PAPER_ORDER if name in names]  # in order, each at most once
    for name in PAPER_ORDER:
        share = np.mean([name in names for names in applied.values()])
        assert abs(share - 0.5) < 0.034  # 3 standard errors over 2000 images
    # drawn independently per image and per perturbation: the 32 subsets equally likely
    subsets = np.bincount([sum(2**k for k, name in enumerate(PAPER_ORDER) if name in names) for names in applied.values()],
                          minlength=32)
    expected = len(applied) / 32
    assert ((subsets - expected) ** 2 / expected).sum() < 61.1  # chi-square, 31 degrees of freedom, p = 0.001


def test_combination_follows_the_configured_probability(monkeypatch):
    applied = attacks_applied_in_combination(monkeypatch, 1000, AttackSettings(probability=0.2))
    for name in PAPER_ORDER:
        assert abs(np.mean([name in names for names in applied.values()]) - 0.2) < 0.038  # 3 standard errors
