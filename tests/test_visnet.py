"""visNet: shapes, its correlation logits, and a toy task with planted fingerprints."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ganprint.attribution.network import AttributionSettings
from ganprint.attribution.optimiser import OptimiserSettings
from ganprint.attribution.visnet import VisNet, VisNetLoss, VisNetTrainer, unit_patterns
from tiny_workflow import assert_figure, undocumented_columns


@pytest.mark.parametrize("resolution", [16, 32, 128])
def test_shapes(resolution):
    settings = AttributionSettings(resolution=resolution, n_classes=4, fmap_base=64, fmap_max=32)
    model = VisNet(settings)
    images = torch.rand(2, 3, resolution, resolution) * 2 - 1
    logits, reconstructions = model(images)
    assert logits.shape == (2, 4) and reconstructions.shape == images.shape
    assert reconstructions.abs().max() <= 1
    assert model.model_fingerprints.shape == (4, 3, resolution, resolution)


def test_decoder_widths_mirror_the_encoder_at_the_papers_size():
    model = VisNet(AttributionSettings(resolution=128, n_classes=2, fmap_base=1024, fmap_max=512))
    widths = [block[1].weight.shape[0] for block in model.decoder.blocks]
    assert model.decoder.blocks[0][0].weight.shape[1] == 512 and widths == [256, 128, 64, 32, 16]


def test_logits_are_bounded_correlations_blind_to_scale_and_offset():
    model = VisNet(AttributionSettings(resolution=16, n_classes=3, fmap_base=32, fmap_max=16))
    fingerprints = torch.randn(5, 3, 16, 16)
    correlations = model.correlations(fingerprints)
    assert correlations.abs().max() <= 1 + 1e-6
    assert torch.allclose(model.correlations(3 * fingerprints + 0.5), correlations, atol=1e-5)
    temperature = model.log_temperature.exp()
    assert torch.allclose(model.logits(fingerprints), correlations * temperature)
    own = model.correlations(model.model_fingerprints.detach() * 7 - 2)
    assert torch.allclose(own.diagonal(), torch.ones(3), atol=1e-5)  # a model fingerprint matches itself


def planted_images(patterns, n, rng):
    """Smooth random colour ramps plus the planted pattern of each image's source."""
    labels = np.arange(n) % len(patterns)
    ramps = np.linspace(-1, 1, patterns.shape[-1])
    colour = rng.uniform(-0.5, 0.5, size=(n, 3, 1, 1))
    slope = rng.uniform(-0.3, 0.3, size=(n, 3, 1, 1))
    images = colour + slope * ramps[None, None, :, None] + slope[:, ::-1] * ramps[None, None, None, :]
    return torch.tensor(images + patterns[labels], dtype=torch.float32).clamp(-1, 1), torch.from_numpy(labels)


@pytest.mark.slow
def test_a_toy_task_with_planted_fingerprints():
    """Each source adds its own fixed random pattern (std 0.1, about 13 grey levels): visNet
    attributes held-out images, and each learned model fingerprint correlates with its
    planted pattern (measured: 0.15-0.20) and negatively with the others' (-0.03 to -0.11):
    it is its pattern contrasted against the other sources'. The model fingerprints are
    unit-variance variables that Adam moves by about the learning rate per step (the
    authors' equalised scale), so 120 steps, even at 1e-2, leave most of their random start."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    patterns = rng.normal(scale=0.1, size=(3, 3, 16, 16))
    settings = AttributionSettings(resolution=16, n_classes=3, fmap_base=32, fmap_max=16)
    optimiser = OptimiserSettings(learning_rate=1e-2, betas=(0.0, 0.99), epochs=4, lr_schedule="constant")
    trainer = VisNetTrainer(settings, "cpu", optimiser, 4 * 30, VisNetLoss(ema_beta=0.99))
    images, labels = planted_images(patterns, 960, rng)
    stream = torch.Generator().manual_seed(0)
    for epoch in range(4):
        order = torch.randperm(len(images))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            trainer.step(images[batch], labels[batch], stream)
    test_images, test_labels = planted_images(patterns, 300, rng)
    with torch.no_grad():
        logits, _ = trainer.average(test_images)
    accuracy = (logits.argmax(1) == test_labels).float().mean().item()
    learned = unit_patterns(trainer.average.model_fingerprints.detach())
    match = (learned @ unit_patterns(torch.tensor(patterns, dtype=torch.float32)).T).numpy()
    print(f"accuracy {accuracy:.3f}; model x planted fingerprint correlations\n{np.round(match, 3)}")
    assert accuracy > 0.95
    assert np.all(match.argmax(1) == np.arange(3))
    off_diagonal = match[~np.eye(3, dtype=bool)]
    assert match.diagonal().min() > 0.1 and off_diagonal.max() < 0


def train_visnet(paths, output, epochs=3):
    """Three short epochs at 1e-2: at 1e-3 the unit-variance model fingerprints barely leave
    their random start in so few steps."""
    from ganprint.attribution.training import train_attribution

    optimiser = OptimiserSettings(learning_rate=1e-2, betas=(0.0, 0.99), batch_size=32, epochs=epochs)
    train_attribution(paths["train"], ["a", "b", "c"], output, optimiser, fmap_base=64, fmap_max=32, seed=0,
                      network="visnet", loss=VisNetLoss(ema_beta=0.9))


@pytest.mark.slow
def test_the_training_loop_trains_and_evaluates_visnet(tmp_path):
    from test_attribution import make_sources

    from ganprint.attribution.evaluation import evaluate_attribution
    from ganprint.storage import load_checkpoint

    paths = make_sources(tmp_path, 200)
    train_visnet(paths, tmp_path / "visnet.pt")
    checkpoint = load_checkpoint(tmp_path / "visnet.pt")
    assert checkpoint["architecture"] == "visnet" and checkpoint["loss"]["ema_beta"] == 0.9
    metrics = evaluate_attribution(tmp_path / "visnet.pt", paths["test"], tmp_path / "m.json", tmp_path / "f.npz",
                                   tmp_path / "c.csv", {"method": "ours_visnet"})
    assert metrics["accuracy"] > 90 and metrics["network"]["architecture"] == "visnet"
    # the image fingerprints (8 x 8 x 3) projected on as many directions as the classifier's fingerprint
    assert np.load(tmp_path / "f.npz")["features"].shape == (300, 32) and metrics["fd_ratio"] > 1


def test_visnet_training_resumes_after_its_last_epoch_to_the_same_weights(tmp_path, kill_on_call, count_calls):
    from test_attribution import make_sources

    import ganprint.attribution.training as training
    from ganprint.storage import load_checkpoint

    paths = make_sources(tmp_path, 48)
    train_visnet(paths, tmp_path / "a.pt", epochs=3)
    restore = kill_on_call(training, "_train_epoch", 2)
    with pytest.raises(KeyboardInterrupt):
        train_visnet(paths, tmp_path / "b.pt", epochs=3)
    restore()
    epochs = count_calls(training, "_train_epoch")
    train_visnet(paths, tmp_path / "b.pt", epochs=3)
    assert epochs.calls == 2  # the epoch done before the kill is not run again
    first, resumed = load_checkpoint(tmp_path / "a.pt")["model"], load_checkpoint(tmp_path / "b.pt")["model"]
    assert all(torch.equal(first[k], resumed[k]) for k in first)


@pytest.mark.slow
def test_figure_7_and_visualise_from_a_trained_visnet(tmp_path):
    from PIL import Image
    from test_attribution import make_sources, train

    from ganprint import GanprintError, cli
    from ganprint.attribution.visualisation import fingerprint_figure, visualise_files

    paths = make_sources(tmp_path, 200)
    train_visnet(paths, tmp_path / "visnet.pt")
    matrix = fingerprint_figure(tmp_path / "visnet.pt", paths["test"], tmp_path / "f7.png", tmp_path / "corr.csv")
    print(matrix.round(3))
    assert_figure(tmp_path / "f7.png", (1015, 775))  # model fingerprints, then 2 test images per source
    assert np.all(matrix.to_numpy().argmax(1) == np.arange(3))  # each source responds most to its own fingerprint
    assert pd.read_csv(tmp_path / "corr.csv").shape == (3, 4)

    folder = tmp_path / "new"
    folder.mkdir()
    for source, path in enumerate(paths["test"]):
        for index, image in enumerate(np.load(path)[:4]):
            Image.fromarray(image).save(folder / f"{'abc'[source]}_{index}.png")
    table = visualise_files(tmp_path / "visnet.pt", [str(folder)], tmp_path / "v.png", tmp_path / "v.csv", shown=3)
    assert_figure(tmp_path / "v.png", (690, 460))  # rows for the 3 shown, no matrix
    assert len(table) == 12
    assert (table.source == [Path(name).name[0] for name in table.image]).mean() > 0.9
    assert undocumented_columns(cli.visualise, table.columns, ["a", "b", "c"]) == []
    assert list(pd.read_csv(tmp_path / "v.csv").columns) == ["image", "source", "correlation_a", "correlation_b",
                                                            "correlation_c"]
    train(paths, tmp_path / "classifier.pt")
    with pytest.raises(GanprintError, match="not a visNet"):
        visualise_files(tmp_path / "classifier.pt", [str(folder)], tmp_path / "w.png")
    with pytest.raises(GanprintError, match="cannot start a visnet"):
        from ganprint.attribution.training import train_attribution

        train_attribution(paths["train"], ["a", "b", "c"], tmp_path / "x.pt", OptimiserSettings(epochs=1),
                          fmap_base=128, fmap_max=32, network="visnet", initial=str(tmp_path / "classifier.pt"))
    assert not (tmp_path / "w.png").exists() and not (tmp_path / "x.pt").exists()
