import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ganprint import GanprintError, cli
from ganprint.attribution.evaluation import evaluate_attribution
from ganprint.attribution.network import AttributionNetwork, AttributionSettings
from ganprint.attribution.training import OptimiserSettings, train_attribution
from ganprint.storage import load_checkpoint, save_checkpoint
from ganprint.tables import write_table
from tiny_workflow import undocumented_columns


def test_paper_layout_at_128():
    network = AttributionNetwork(AttributionSettings(resolution=128, n_classes=11))
    widths = {res: [conv.weight.shape[1] for conv in block] + [block[-1].weight.shape[0]]
              for res, block in network.blocks.items()}
    assert widths == {"128": [3, 16, 32], "64": [32, 32, 64], "32": [64, 64, 128], "16": [128, 128, 256], "8": [256, 256, 512]}
    assert network.final_conv.weight.shape[:2] == (512, 512)
    assert network.fingerprint.weight.shape == (512, 512 * 16)
    assert network.classifier.weight.shape == (11, 512)


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_features_and_logits_at_every_size(resolution):
    network = AttributionNetwork(AttributionSettings(resolution=resolution, n_classes=3, fmap_base=64, fmap_max=32))
    images = torch.rand(5, 3, resolution, resolution) * 2 - 1
    assert network.features(images).shape == (5, 32)
    assert network(images).shape == (5, 3)


def make_sources(folder, n_per_source, resolution=8):
    """Three sources of noise images that differ only in a fixed additive pattern (a toy fingerprint)."""
    rng = np.random.default_rng(0)
    paths = {"train": [], "test": [], "val": []}
    for source in range(3):
        pattern = rng.normal(0, 30, size=(resolution, resolution, 3))
        for split, count in (("train", n_per_source), ("test", n_per_source // 2), ("val", n_per_source // 2)):
            images = rng.uniform(60, 190, size=(count, 1, 1, 3)) + rng.normal(0, 8, size=(count, resolution, resolution, 3))
            path = folder / f"{source}_{split}.npy"
            np.save(path, np.clip(images + pattern, 0, 255).astype(np.uint8))
            paths[split].append(str(path))
    return paths


FAST = OptimiserSettings(learning_rate=3e-3, batch_size=32, epochs=4, lr_schedule="linear")


def train(paths, output, **overrides):
    train_attribution(paths["train"], ["a", "b", "c"], output, FAST, fmap_base=128, fmap_max=32, seed=0, threads=1, **overrides)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The sources of make_sources (200 training images each) and a model trained on them."""
    folder = tmp_path_factory.mktemp("toy")
    paths = make_sources(folder, 200)
    train(paths, folder / "model.pt")
    return paths, folder / "model.pt"


def test_learns_source_patterns_and_evaluates(toy, tmp_path):
    paths, model = toy
    metrics = evaluate_attribution(model, paths["test"], tmp_path / "m.json", tmp_path / "f.npz",
                                   tmp_path / "c.csv", {"dataset": "toy", "experiment": "x", "method": "ours"})
    assert metrics["accuracy"] > 90 and metrics["fd_ratio"] > 2
    assert metrics["n_test_per_class"] == 100 and set(metrics["per_class_accuracy"]) == {"a", "b", "c"}
    assert np.load(tmp_path / "f.npz")["features"].shape == (300, 32)
    assert pd.read_csv(tmp_path / "c.csv").shape == (3, 4)
    table = write_table([tmp_path / "m.json"], tmp_path / "t.csv", per_class=True)
    assert list(table.columns[:7]) == ["dataset", "method", "accuracy", "balanced_accuracy", "fd_ratio", "n_classes",
                                      "n_test_per_class"]
    assert "accuracy_b" in table.columns


def test_training_is_deterministic_and_resumes_after_its_last_epoch(tmp_path, kill_on_call, count_calls):
    paths = make_sources(tmp_path, 64)
    train(paths, tmp_path / "a.pt")
    train(paths, tmp_path / "b.pt")
    first, second = load_checkpoint(tmp_path / "a.pt")["model"], load_checkpoint(tmp_path / "b.pt")["model"]
    assert all(torch.equal(first[k], second[k]) for k in first)

    import ganprint.attribution.training as training

    restore = kill_on_call(training, "_train_epoch", 3)
    with pytest.raises(KeyboardInterrupt):
        train(paths, tmp_path / "c.pt")
    restore()
    epochs = count_calls(training, "_train_epoch")
    train(paths, tmp_path / "c.pt")
    assert epochs.calls == FAST.epochs - 2  # the two epochs done before the kill are not run again
    resumed = load_checkpoint(tmp_path / "c.pt")["model"]
    assert all(torch.equal(first[k], resumed[k]) for k in first)


def test_a_length_in_images_trains_as_many_whole_passes_as_show_them(tmp_path, count_calls):
    """The released configs' length (total_kimg): 100M images whatever the training set, so
    that Table 1's 500k images take 200 passes and Table 3's 1.1M 91."""
    assert OptimiserSettings(epochs=10, total_images=100_000_000).epochs_over(500_000) == 200
    assert OptimiserSettings(epochs=10, total_images=100_000_000).epochs_over(1_100_000) == 91
    assert OptimiserSettings(epochs=10, total_images=None).epochs_over(1_100_000) == 10
    paths = make_sources(tmp_path, 16)  # 48 training images: 100 images take 3 passes
    import ganprint.attribution.training as training

    epochs = count_calls(training, "_train_epoch")
    train_attribution(paths["train"], ["a", "b", "c"], tmp_path / "m.pt",
                      dataclasses.replace(FAST, epochs=1, total_images=100), fmap_base=128, fmap_max=32)
    assert epochs.calls == 3


def test_mismatched_inputs_are_errors(tmp_path):
    paths = make_sources(tmp_path, 32)
    with pytest.raises(GanprintError, match="source names"):
        train_attribution(paths["train"], ["a"], tmp_path / "m.pt", FAST)
    np.save(tmp_path / "big.npy", np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(GanprintError, match="different image sizes"):
        train_attribution(paths["train"][:2] + [str(tmp_path / "big.npy")], ["a", "b", "c"], tmp_path / "m.pt", FAST)
    with pytest.raises(GanprintError, match="lr_schedule"):
        OptimiserSettings(lr_schedule="cosine")
    assert not (tmp_path / "m.pt").exists()


def test_fine_tuning_starts_from_the_given_model(tmp_path):
    paths = make_sources(tmp_path, 64)
    train(paths, tmp_path / "base.pt")
    gentle = OptimiserSettings(learning_rate=1e-7, batch_size=32, epochs=1)
    train_attribution(paths["train"], ["a", "b", "c"], tmp_path / "tuned.pt", gentle, fmap_base=128, fmap_max=32,
                      initial=str(tmp_path / "base.pt"))
    base, tuned = load_checkpoint(tmp_path / "base.pt")["model"], load_checkpoint(tmp_path / "tuned.pt")["model"]
    assert all(torch.allclose(base[k], tuned[k], atol=1e-4) for k in base)
    assert not all(torch.equal(base[k], tuned[k]) for k in base)


def evaluate_with_calibration(paths, model, folder, unknown=(), **open_set):
    """Evaluate the model with its validation images, the outputs and calibration.pt in `folder`."""
    return evaluate_attribution(model, paths["test"], folder / "m.json", folder / "f.npz", folder / "c.csv", {},
                                validation_paths=paths["val"], calibration_output=str(folder / "calibration.pt"),
                                open_set=open_set, unknown_paths=list(unknown))


def test_attribute_image_files_unknown_below_the_calibrated_threshold(toy, tmp_path, capsys):
    from PIL import Image

    from ganprint.attribution.inference import attribute, write_attributions

    paths, model = toy
    shutil.copy(model, tmp_path / "model.pt")
    folder = tmp_path / "new"
    folder.mkdir()
    for source, path in enumerate(paths["test"]):
        for index, image in enumerate(np.load(path)[:5]):
            Image.fromarray(image).save(folder / f"{source}_{index}.png")
    with pytest.raises(GanprintError, match="no calibration at .*calibration.pt"):
        attribute(str(tmp_path / "model.pt"), [str(folder)])
    evaluate_with_calibration(paths, tmp_path / "model.pt", tmp_path, score="msp")
    table = attribute(str(tmp_path / "model.pt"), [str(folder)])
    assert len(table) == 15 and list(table.columns[:5]) == ["image", "source", "nearest_source", "probability", "msp"]
    assert undocumented_columns(cli.attribute, table.columns, ["a", "b", "c"]) == []
    truth = table.image.map(lambda name: "abc"[int(Path(name).name[0])])
    assert (table.nearest_source == truth).mean() > 0.8
    threshold = load_checkpoint(tmp_path / "calibration.pt")["thresholds"]["msp"]
    assert ((table.source == "unknown") == (table.msp < threshold)).all()
    strict = attribute(str(tmp_path / "model.pt"), [str(folder)], score="distance", threshold=1e9)
    assert (strict.source == "unknown").all() and (strict.nearest_source == table.nearest_source).all()
    write_attributions(table.head(2), None, "jsonl")
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["image"] for row in rows] == list(table.image[:2]) and rows[0]["p_a"] == table.p_a[0]
    with pytest.raises(GanprintError, match="image not found"):
        attribute(str(tmp_path / "model.pt"), [str(tmp_path / "missing.png")])


def test_a_calibration_of_another_model_with_the_same_sources_is_refused(toy, tmp_path):
    """Two runs of one experiment: each model's calibration.pt belongs to it alone."""
    from ganprint.attribution.inference import attribute

    paths, model = toy
    shutil.copy(model, tmp_path / "model.pt")
    evaluate_with_calibration(paths, tmp_path / "model.pt", tmp_path, score="msp")
    other = load_checkpoint(model)
    other["model"] = {name: value + 0.01 for name, value in other["model"].items()}
    save_checkpoint(tmp_path / "other.pt", other)
    image = tmp_path / "image.png"
    Image.fromarray(np.load(paths["test"][0])[0]).save(image)
    assert len(attribute(str(tmp_path / "model.pt"), [str(image)])) == 1
    with pytest.raises(GanprintError, match=f"{tmp_path / 'calibration.pt'} calibrates the model of digest .*, not this one"):
        attribute(str(tmp_path / "other.pt"), [str(image)], calibration_path=str(tmp_path / "calibration.pt"))


def test_attribute_leaves_a_trainings_resumable_state_beside_the_model(toy, tmp_path):
    """(visualise loads its visNet through the same load_model.)"""
    paths, model = toy
    shutil.copy(model, tmp_path / "model.pt")
    (tmp_path / "model.resume.pt").write_bytes(b"a training's state")
    image = tmp_path / "image.png"
    Image.fromarray(np.load(paths["test"][0])[0]).save(image)
    assert cli.main(["attribute", "--model", str(tmp_path / "model.pt"), "--threshold", "0.5", "--output",
                     str(tmp_path / "out.csv"), str(image)]) == 0
    assert (tmp_path / "model.resume.pt").read_bytes() == b"a training's state"


def test_attribute_uses_a_read_only_model_store_and_writes_nothing_beside_the_model(toy, tmp_path, tmpfs):
    """A model store mounted read-only, holding a training's resumable state beside the model:
    `ganprint attribute` reads the model and its calibration and leaves the store as it was."""
    paths, model = toy
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(model, work / "model.pt")
    evaluate_with_calibration(paths, work / "model.pt", work, score="msp")
    store = tmpfs("store", "16m")
    for name in ("model.pt", "calibration.pt"):
        shutil.copy(work / name, store / name)
    (store / "model.resume.pt").write_bytes(b"a training's state")
    subprocess.run(["mount", "-o", "remount,ro", str(store)], check=True)
    image = tmp_path / "image.png"
    Image.fromarray(np.load(paths["test"][0])[0]).save(image)
    assert cli.main(["attribute", "--model", str(store / "model.pt"), "--output", str(tmp_path / "out.csv"), str(image)]) == 0
    assert sorted(p.name for p in store.iterdir()) == ["calibration.pt", "model.pt", "model.resume.pt"]
    assert pd.read_csv(tmp_path / "out.csv").image.tolist() == [str(image)]


def test_calibration_reaches_its_target_rate_on_held_out_images(tmp_path):
    from ganprint.attribution.evaluation import Predictions
    from ganprint.attribution.open_set import Calibration, calibrate, rejected_percent

    rng = np.random.default_rng(1)

    def draw(count):  # three classes of two layers of features, probabilities peaked on the true class
        labels = rng.integers(0, 3, count)
        layers = [rng.normal(0, 1, (count, width)) + 3 * np.eye(3, width)[labels] for width in (8, 16)]
        logits = rng.normal(0, 1, (count, 3)) + 2 * np.eye(3)[labels]
        return Predictions(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), layers), labels

    calibrate(*draw(8000), ["a", "b", "c"], 0.1, "distance", "digest-1").save(str(tmp_path / "calibration.pt"))
    calibration = Calibration.load(str(tmp_path / "calibration.pt"), ["a", "b", "c"], "digest-1")
    held_out = calibration.rejection_scores(draw(4000)[0])
    sampling_error = 100 * np.sqrt(0.1 * 0.9 * (1 / 4000 + 1 / 4000))  # 4000 calibrating, 4000 held out
    for score, threshold in calibration.thresholds.items():
        assert abs(rejected_percent(held_out[score], threshold) - 10.0) < 3 * sampling_error
    with pytest.raises(GanprintError, match="calibrates a model of sources"):
        Calibration.load(str(tmp_path / "calibration.pt"), ["a", "b"], "digest-1")
    with pytest.raises(GanprintError, match="calibrates the model of digest digest-1, not this one"):
        Calibration.load(str(tmp_path / "calibration.pt"), ["a", "b", "c"], "digest-2")


def test_shrunk_covariance_is_ledoit_wolf():
    from sklearn.covariance import ledoit_wolf

    from ganprint.attribution.open_set import shrunk_covariance

    samples = np.random.default_rng(2).normal(0, 1, (40, 12)) * np.linspace(0.2, 3, 12)
    assert np.allclose(shrunk_covariance(samples), ledoit_wolf(samples, assume_centered=True)[0])


def test_auroc_counts_ordered_pairs():
    from ganprint.metrics import roc_auc as auroc

    assert auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auroc(np.array([1.0, 4.0]), np.array([2.0, 3.0])) == 0.5
    assert auroc(np.array([1.0]), np.array([1.0])) == 0.5


def test_a_clearly_different_source_is_rejected_far_more_than_known_ones(toy, tmp_path):
    paths, model = toy
    unknown = np.random.default_rng(5).integers(0, 256, (100, 8, 8, 3), dtype=np.uint8)  # white noise
    np.save(tmp_path / "unknown.npy", unknown)
    metrics = evaluate_with_calibration(paths, model, tmp_path, unknown=[str(tmp_path / "unknown.npy")],
                                        false_rejection_rate=0.05)
    scores = metrics["open_set"]["scores"]
    assert metrics["open_set"]["target_rejected"] == 5.0
    assert all(abs(entry["validation_rejected"] - 5.0) < 1.0 for entry in scores.values())
    # on the known sources' test images, the target rate within sampling error (the thresholds are
    # quantiles of 150 calibrating images, the rates fractions of 300 test images)
    sampling_error = 100 * np.sqrt(0.05 * 0.95 * (1 / 150 + 1 / 300))
    assert all(abs(entry["test_rejected"] - 5.0) < 3 * sampling_error for entry in scores.values())
    assert scores["distance"]["auroc"] > 0.95 and scores["distance"]["unknown_rejected"] > 80
    assert scores["msp"]["auroc"] > 0.6


def test_prefetched_batches_are_the_batches_in_order(tmp_path):
    from ganprint.attribution.data import LabelledImages, epoch_batches

    rng = np.random.default_rng(0)
    paths = []
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 256, size=(37, 8, 8, 3), dtype=np.uint8))
        paths.append(str(tmp_path / f"{name}.npy"))
    data = LabelledImages(paths)
    order = rng.permutation(len(data))
    direct = list(epoch_batches(data, order, 16, "cpu", prefetch=False))
    prefetched = list(epoch_batches(data, order, 16, "cpu", prefetch=True))
    assert [len(labels) for _, labels in direct] == [16, 16, 16, 16, 10]
    for (images, labels), (images_ahead, labels_ahead) in zip(direct, prefetched, strict=True):
        assert torch.equal(images, images_ahead) and torch.equal(labels, labels_ahead)
    expected_images, expected_labels = data.gather(order)
    assert np.array_equal(torch.cat([images for images, _ in direct]).numpy(), expected_images)
    assert np.array_equal(torch.cat([labels for _, labels in direct]).numpy(), expected_labels)


def test_random_flips_mirror_about_half_the_images_left_to_right_one_draw_per_image():
    from ganprint.attribution.training import flip_randomly

    images = torch.from_numpy(np.random.default_rng(3).normal(size=(1000, 3, 4, 5)))
    flipped = flip_randomly(images, torch.Generator().manual_seed(7)).numpy()
    original = images.numpy()
    mirrored = np.array([image[:, :, ::-1] for image in original])  # each row read right to left
    is_mirrored = np.array([np.array_equal(a, b) for a, b in zip(flipped, mirrored)])
    is_kept = np.array([np.array_equal(a, b) for a, b in zip(flipped, original)])
    assert np.all(is_mirrored ^ is_kept)  # every image either kept or mirrored left-right, nothing else
    assert abs(is_mirrored.mean() - 0.5) < 0.05  # 3 standard errors of a fair coin over 1000 images
    assert 0 < is_mirrored[:32].sum() < 32  # drawn per image, not per batch
    again = flip_randomly(images, torch.Generator().manual_seed(7)).numpy()
    other = flip_randomly(images, torch.Generator().manual_seed(8)).numpy()
    assert np.array_equal(again, flipped) and not np.array_equal(other, flipped)


def flips_seen_in_training(folder, monkeypatch, flip, seed=0):
    """Train on 150 distinct images for two epochs with a learner that only records its inputs;
    for every input, whether it is a training image mirrored left-right (-1 if neither)."""
    import ganprint.attribution.training as training

    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for source in range(3):
        np.save(folder / f"{source}.npy", rng.integers(0, 256, size=(50, 8, 8, 3), dtype=np.uint8))
        paths.append(str(folder / f"{source}.npy"))
    known = np.concatenate([np.load(path) for path in paths])
    as_is = {image.tobytes(): False for image in known}
    as_mirror = {image[:, ::-1].tobytes(): True for image in known}
    batches = []

    def record(learner, inputs, targets, stream):
        pixels = ((inputs + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        batches.append([as_is.get(p.tobytes(), as_mirror.get(p.tobytes(), -1)) for p in pixels])
        return torch.zeros(()), torch.zeros(len(targets), 3)

    monkeypatch.setattr(training.ClassifierLearner, "step", record)
    settings = OptimiserSettings(learning_rate=1e-3, batch_size=32, epochs=2, flip=flip)
    train_attribution(paths, ["a", "b", "c"], folder / "model.pt", settings, fmap_base=32, fmap_max=16, seed=seed)
    return batches


def test_training_flips_each_image_left_right_with_probability_one_half(tmp_path, monkeypatch):
    batches = flips_seen_in_training(tmp_path / "first", monkeypatch, flip=True)
    seen = [flag for batch in batches for flag in batch]
    assert len(seen) == 300 and -1 not in seen  # every input a training image, kept or mirrored left-right
    assert abs(np.mean(seen) - 0.5) < 0.09  # 3 standard errors over 300 draws
    assert sum(0 < sum(batch) < len(batch) for batch in batches) >= len(batches) - 1  # per image, not per batch
    assert flips_seen_in_training(tmp_path / "again", monkeypatch, flip=True) == batches  # the seed fixes them
    unflipped = flips_seen_in_training(tmp_path / "unflipped", monkeypatch, flip=False)
    assert [flag for batch in unflipped for flag in batch] == [False] * 300


def test_attributions_read_back_in_any_program_whatever_the_file_names(toy, tmp_path, monkeypatch):
    """Names that a spreadsheet would run as a formula, a carriage return, bytes that are not
    UTF-8: every row reads back as one row, no text cell starts a formula, the run completes."""
    import csv
    import os

    paths, model = toy
    shutil.copy(model, tmp_path / "model.pt")
    folder = tmp_path / "new"
    folder.mkdir()
    pixels = np.load(paths["test"][0])
    names = ["=cmd|' -C calc'!A0.png", "two\rlines.png", "plain.png"]
    for index, name in enumerate(names):
        Image.fromarray(pixels[index]).save(folder / name)
    Image.fromarray(pixels[3]).save(os.path.join(os.fsencode(folder), b"caf\xe9.png"))
    output = tmp_path / "out.csv"
    monkeypatch.chdir(folder)  # the images named relative to it: a name is a cell's whole text
    assert cli.main(["attribute", "--model", str(tmp_path / "model.pt"), "--threshold", "0.5", "--output", str(output),
                     "."]) == 0
    rows = list(csv.reader(output.open(newline="")))
    assert len(rows) == 1 + 4
    cells = [cell for row in rows[1:] for cell in row[:3]]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    images = [row[0] for row in rows[1:]]
    assert sorted(images) == ["'=cmd|' -C calc'!A0.png", "caf\\xe9.png", "plain.png", "two\rlines.png"]
    assert pd.read_csv(output)["probability"].dtype == float


@pytest.mark.parametrize("target", ["model", "folder"])
def test_an_output_that_is_the_model_or_a_folder_is_refused_and_the_model_kept(toy, tmp_path, target):
    paths, model = toy
    shutil.copy(model, tmp_path / "model.pt")
    image = tmp_path / "image.png"
    Image.fromarray(np.load(paths["test"][0])[0]).save(image)
    before = (tmp_path / "model.pt").read_bytes()
    output = {"model": tmp_path / "model.pt", "folder": tmp_path}[target]
    with pytest.raises(GanprintError, match="is an input of this command|is a folder; give the name"):
        cli.attribute([str(image)], model=str(tmp_path / "model.pt"), threshold=0.5, output=str(output))
    assert (tmp_path / "model.pt").read_bytes() == before


def test_robustness_measures_the_model_and_baselines_on_each_degraded_copy_of_the_test_images(toy, tmp_path):
    """Levels as configured, the clean row the model's own evaluation, the others measured on
    degraded images: a strong blur takes the toy's fixed patterns away."""
    from ganprint.robustness import robustness_table

    paths, model = toy
    settings = {"methods": ["dct"], "jpeg_quality": [90, 30], "downscale": [0.5], "blur_sigma": [0.5, 2.0]}
    table = robustness_table(str(model), paths["train"], paths["test"], settings, {}, str(tmp_path / "r.csv"), "toy")
    assert table.groupby("perturbation")["level"].apply(list).to_dict() == {
        "none": [0.0, 0.0], "jpeg": [90.0, 90.0, 30.0, 30.0], "downscale": [0.5, 0.5], "blur": [0.5, 0.5, 2.0, 2.0]}
    metrics = evaluate_attribution(model, paths["test"], tmp_path / "m.json", tmp_path / "f.npz", tmp_path / "c.csv", {})
    ours = table[table.method == "ours"].set_index(["perturbation", "level"])["accuracy"]
    assert ours["none", 0.0] == round(metrics["accuracy"], 3)
    assert ours["blur", 2.0] < ours["none", 0.0] - 20
    assert pd.read_csv(tmp_path / "r.csv").shape == (12, 7) and not list(tmp_path.glob("robustness-*"))
