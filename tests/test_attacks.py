import json
import re

import numpy as np
import pytest
import torch

from ganprint import GanprintError
from ganprint.attacks import AttackSettings, FreshAttack, array_seed, attack_at, attack_batch, attack_images
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


class Darker(torch.nn.Module):
    """A relighting model: every image darker (pixels in [-1, 1])."""

    def forward(self, images):
        return images * 0.5 - 0.5


def saved_darker(folder):
    path = folder / "relight.pt"
    torch.jit.script(Darker()).save(str(path))
    return path


def test_a_torchscript_relighting_model_plugs_in(tmp_path, photos):
    path = saved_darker(tmp_path)
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


TWO_SOURCES = ("a", "b")


def two_source_arrays(folder, photos) -> list[str]:
    paths = []
    for index, source in enumerate(TWO_SOURCES):
        paths.append(str(folder / f"{source}.npy"))
        np.save(paths[-1], photos[index * 12 : (index + 1) * 12])
    return paths


def images_seen_per_epoch(monkeypatch, paths, output, attack=None) -> list[np.ndarray]:
    """Two epochs of training without flips: the uint8 images each epoch trained on, in the
    order of the training set."""
    import ganprint.attribution.training as training
    from ganprint.attribution.data import epoch_batches

    seen = []

    def recording(data, order, *arguments, **options):
        batches = list(epoch_batches(data, order, *arguments, **options))
        images = np.empty((len(order), *batches[0][0].shape[1:]), dtype=np.uint8)
        images[order] = np.concatenate([batch[0].numpy() for batch in batches])
        seen.append(images)
        return iter(batches)

    monkeypatch.setattr(training, "epoch_batches", recording)
    train_attribution(paths, list(TWO_SOURCES), output, OptimiserSettings(epochs=2, batch_size=8, flip=False),
                      fmap_base=32, fmap_max=16, attack=attack)
    return seen


@pytest.mark.parametrize("name", ATTACKS)
def test_fresh_perturbations_are_drawn_anew_at_every_epoch_from_the_seed(tmp_path, monkeypatch, photos, name):
    paths = two_source_arrays(tmp_path, photos)
    attack = FreshAttack(name, AttackSettings(), seed=4)
    seen = images_seen_per_epoch(monkeypatch, paths, tmp_path / "model.pt", attack)
    assert len(seen) == 2 and not np.array_equal(seen[0], seen[1])
    clean = np.concatenate([np.load(path) for path in paths])
    for epoch, images in enumerate(seen):  # image i of source s at epoch e: stream [seed, crc32("s/train/fresh"), e, i]
        expected = [attack_at(name, np.load(path), array_seed(4, f"{source}/train/fresh") + [epoch], range(12),
                              AttackSettings()) for source, path in zip(TWO_SOURCES, paths)]
        assert np.array_equal(images, np.concatenate(expected)) and not np.array_equal(images, clean)
    again = images_seen_per_epoch(monkeypatch, paths, tmp_path / "again.pt", attack)
    assert all(np.array_equal(first, second) for first, second in zip(seen, again))
    weights, weights_again = (torch.load(path, weights_only=True)["model"] for path in (tmp_path / "model.pt",
                                                                                          tmp_path / "again.pt"))
    assert all(torch.equal(weights[key], weights_again[key]) for key in weights)


def test_fixed_perturbations_are_the_one_attacked_copy_at_every_epoch(tmp_path, monkeypatch, photos):
    attacked = []
    for source, path in zip(TWO_SOURCES, two_source_arrays(tmp_path, photos)):
        attacked.append(path.replace(".npy", "_noise.npy"))
        attack_images("noise", path, attacked[-1], 4, f"{source}/train", AttackSettings())
    seen = images_seen_per_epoch(monkeypatch, attacked, tmp_path / "model.pt")
    copy = np.concatenate([np.load(path) for path in attacked])
    assert len(seen) == 2 and all(np.array_equal(images, copy) for images in seen)
    assert "attack" not in torch.load(tmp_path / "model.pt", weights_only=True)


def test_the_command_line_fine_tunes_on_fresh_attacks_with_a_relighting_model(tmp_path, photos):
    from ganprint import cli

    relight_model = saved_darker(tmp_path)
    paths, model = two_source_arrays(tmp_path, photos), tmp_path / "model.pt"
    settings = {"fmap_base": 32, "fmap_max": 16, "epochs": 1, "batch_size": 8}
    attack_settings = {"relight_model": str(relight_model), "probability": 1.0}
    cli.train_attribution(train=paths, sources=list(TWO_SOURCES), settings=cli.Settings(json.dumps(settings)),
                          attack="combination", attack_settings=cli.Settings(json.dumps(attack_settings)),
                          attack_seed=3, output=str(model))
    recorded = torch.load(model, weights_only=True)["attack"]
    assert recorded["name"] == "combination" and recorded["seed"] == 3
    assert recorded["settings"]["relight_model"] == str(relight_model) and recorded["settings"]["probability"] == 1.0
    with pytest.raises(GanprintError, match="unknown attack 'rotate'"):
        cli.train_attribution(train=paths, sources=list(TWO_SOURCES), attack="rotate", output=str(model))


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


def test_combination_composes_only_the_configured_attacks_in_the_papers_order(monkeypatch):
    """LSUN's Table 8 has no relighting (a face model), so its combination has none either."""
    applied = attacks_applied_in_combination(monkeypatch, 400, AttackSettings(combination_steps=("noise", "crop", "jpeg")))
    assert set().union(*map(set, applied.values())) == {"crop", "jpeg", "noise"}
    for steps in applied.values():
        assert steps == [name for name in PAPER_ORDER if name in steps]


def test_the_workflow_passes_the_combinations_steps_to_the_combination_only(tmp_path):
    from tiny_workflow import TINY, snakemake

    config = {**TINY, "attacks": {**TINY["attacks"], "names": ["noise", "combination"],
                                  "combination_steps": ["crop", "noise"]}}
    result = snakemake(tmp_path, config, "-n", "-p")
    settings = {name: json.loads(text) for name, text in re.findall(
        r"ganprint attack --name (\w+) [^\n]*--settings '(\{[^']*\})'", result.stdout)}
    assert settings["combination"]["combination_steps"] == ["crop", "noise"]
    assert "combination_steps" not in settings["noise"]  # the single attacks do not rerun when the steps change
