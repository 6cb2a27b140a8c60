"""Native-resolution patches: how images become patches, the preprocessing recorded with a
model and enforced on new images, and attribution of traces that only native pixels keep."""

import json
import re

import numpy as np
import pytest
import torch

from ganprint.attribution.data import LabelledImages, PatchGrid
from ganprint.attribution.evaluation import evaluate_attribution, load_model
from ganprint.attribution.inference import attribute
from ganprint.attribution.training import OptimiserSettings, train_attribution
from ganprint.baselines.evaluation import evaluate_baseline
from ganprint.data.formats import compare_sources
from ganprint.data.real import prepare_real
from ganprint.data.traces import format_sources, trace_sources, write_trace_folders
from ganprint.errors import GanprintError
from ganprint.patches import Preprocessing, aligned_window, combined_probabilities, grid_corners, native_window
from ganprint.storage import load_checkpoint, save_checkpoint
from tiny_workflow import TINY, planned_jobs, snakemake

RECIPE = OptimiserSettings(learning_rate=0.01, epochs=3, lr_schedule="linear")
NATIVE = Preprocessing(size=32, crop="native", window=128, grid=4, align=8)


def test_a_grid_covers_the_window_with_aligned_patches_and_a_patch_sized_window_is_one_patch():
    corners = grid_corners(128, 32, 4, 8)
    assert sorted({int(c) for c in corners[:, 0]}) == [0, 32, 64, 96] and len(corners) == 16
    assert (corners % 8 == 0).all() and (corners + 32 <= 128).all()
    assert grid_corners(32, 32, 4, 8).tolist() == [[0, 0]]
    assert len(grid_corners(40, 32, 4, 8)) == 4  # two positions a side, 0 and 8


def test_the_native_window_is_centred_on_the_image_grid_and_smaller_images_are_refused_or_given_a_smaller_one():
    assert aligned_window(300, 500, 128, 8) == (80, 184, 128)  # centred (86, 186), corner moved onto multiples of 8
    pixels = np.arange(300 * 500 * 3, dtype=np.int64).reshape(300, 500, 3)
    assert np.array_equal(native_window(pixels, 128, 8, "x"), pixels[80:208, 184:312])
    with pytest.raises(GanprintError, match="small.png is 500x100, smaller than the 128x128 native window"):
        native_window(pixels[:100], 128, 8, "small.png")
    assert native_window(pixels[:100], 128, 8, "small.png", at_least=32).shape[:2] == (100, 100)


def test_patches_combine_by_their_mean_log_probability():
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.5, 0.5]])
    combined = combined_probabilities(probabilities, np.array([0, 0, 1, 1]), 2)
    first = np.array([0.9 * 0.4, 0.1 * 0.6]) ** 0.5
    assert np.allclose(combined[0], first / first.sum(), atol=1e-6)


def test_training_draws_aligned_patches_afresh_every_epoch_and_the_same_ones_for_a_seed(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((5, 128, 128, 3), np.uint8))
    np.save(tmp_path / "b.npy", np.zeros((5, 32, 32, 3), np.uint8))
    data = LabelledImages([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], 32, 8)
    stream = torch.Generator().manual_seed(0)
    first, second = data.random_corners(stream), data.random_corners(stream)
    assert (first % 8 == 0).all() and first.max() <= 96 and not np.array_equal(first, second)
    assert (first[5:] == 0).all()  # images of the patch's size are read whole
    assert np.array_equal(first, data.random_corners(torch.Generator().manual_seed(0)))
    grid = PatchGrid(data, 4)
    assert len(grid) == 5 * 16 + 5 and grid.labels.tolist() == [0] * 80 + [1] * 5
    assert grid.gather(np.arange(len(grid)))[0].shape == (85, 32, 32, 3)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """The four traces' images (same content, told apart only at native resolution), read by
    resizing to 32 px and as native 128 px windows, each split 200 / 50."""
    folder = tmp_path_factory.mktemp("traces")
    sources = trace_sources()
    write_trace_folders(folder / "images", sources, 250, 128)
    arrays = {}
    for crop in ("centre", "native"):
        for name in sources:
            whole = folder / f"{crop}-{name}.npy"
            prepare_real("folder", str(whole), 32, 250, str(folder / "images" / name), crop=crop,
                         formats_output=str(folder / f"{name}.json"))
            images = np.load(whole)
            for split, rows in (("train", slice(0, 200)), ("test", slice(200, 250))):
                np.save(folder / f"{crop}-{name}-{split}.npy", images[rows])
        arrays[crop] = {split: [str(folder / f"{crop}-{name}-{split}.npy") for name in sources]
                        for split in ("train", "test")}
    return folder, list(sources), arrays


def trained(traces, crop):
    folder, sources, arrays = traces
    model = folder / f"{crop}.pt"
    if not model.exists():
        preprocessing = NATIVE if crop == "native" else Preprocessing(size=32)
        train_attribution(arrays[crop]["train"], sources, model, RECIPE, fmap_base=128, fmap_max=64,
                          network_input="residual", preprocessing=preprocessing)
    return model


@pytest.mark.slow
def test_native_patches_attribute_traces_that_resizing_erases(traces, tmp_path):
    """Four enlargements of the same content: resized to 32 px they look alike; in native
    patches the network (residual input, the README's recipe) tells them apart."""
    folder, sources, arrays = traces
    accuracy = {}
    for crop in ("centre", "native"):
        metrics = evaluate_attribution(trained(traces, crop), arrays[crop]["test"], tmp_path / f"{crop}.json",
                                       tmp_path / f"{crop}.npz", tmp_path / f"{crop}.csv", {})
        accuracy[crop] = metrics["accuracy"]
        assert metrics["n_test"] == 200 and metrics["network"]["preprocessing"]["crop"] == crop
    dct = evaluate_baseline("dct", arrays["native"]["train"], arrays["native"]["test"], sources, {},
                            tmp_path / "dct.json", {}, preprocessing=NATIVE)
    assert accuracy["native"] >= accuracy["centre"] + 30, accuracy
    assert dct["accuracy"] > 90 and dct["n_test"] == 200


@pytest.mark.slow
def test_a_model_records_its_preprocessing_and_attribute_reads_new_images_by_it(traces, tmp_path):
    folder, sources, _ = traces
    model_path = trained(traces, "native")
    model = load_model(str(model_path), "cpu")
    assert model.preprocessing == NATIVE and model.settings.input == "residual"
    assert load_checkpoint(model_path)["preprocessing"]["resampling"] is None
    images = [str(folder / "images" / name / "00240.png") for name in sources]
    table = attribute(str(model_path), images, threshold=0.0, score="msp")
    assert len(table) == 4
    with pytest.raises(GanprintError, match="trained on images read with crop native; --crop centre"):
        attribute(str(model_path), images, threshold=0.0, score="msp", crop="centre")
    assert len(attribute(str(model_path), images, threshold=0.0, score="msp", crop="native")) == 4
    # a model file whose record does not describe one ganprint makes is refused, naming it
    checkpoint = load_checkpoint(model_path)
    checkpoint["preprocessing"] = {**checkpoint["preprocessing"], "crop": "stretch"}
    save_checkpoint(tmp_path / "bad.pt", checkpoint)
    with pytest.raises(GanprintError, match=r"bad.pt: bad preprocessing .*crop 'stretch'"):
        load_model(str(tmp_path / "bad.pt"), "cpu")


@pytest.mark.slow
def test_the_format_report_of_a_folder_source_says_what_its_files_are(traces):
    folder, sources, _ = traces
    report = json.loads((folder / f"{sources[0]}.json").read_text())
    assert report["images"] == 250 and report["containers"] == {"PNG": 1.0}
    assert report["width_quartiles"] == [128.0, 128.0, 128.0] and report["jpeg_quality_quartiles"] is None


def native_config(tmp_path, **extra) -> dict:
    """Two folder sources read natively, and nothing else."""
    for name in ("gen-a", "gen-b"):
        (tmp_path / "folders" / name).mkdir(parents=True)
    return {**TINY, "folder_sources": {name: {"path": f"folders/{name}", "crop": "native"} for name in ("gen-a", "gen-b")},
            "experiments": {"mine": {"sources": ["gen-a", "gen-b"]}}, "open_set": {"experiment": "mine"},
            "robustness": {"experiment": "mine"}, **extra}


@pytest.mark.slow
def test_a_native_experiment_plans_windows_patches_and_a_format_check_before_training(tmp_path):
    result = snakemake(tmp_path, native_config(tmp_path, patches={"window": 64, "grid": 2}), "-n", "-p",
                       "results/attribution/tiny/mine/full/metrics.json", "results/baselines/tiny/mine/dct.json")
    assert planned_jobs(result)["format_check"] == 1
    assert "--crop native" in result.stdout and "--window 64 --align 8" in result.stdout
    recorded = json.loads(re.search(r"train-attribution .*?--preprocessing '(\{[^']*\})'", result.stdout).group(1))
    assert recorded == {"size": 16, "crop": "native", "window": 64, "grid": 2, "align": 8, "alpha_background": "white",
                        "resampling": None}
    assert re.search(r"baseline --method dct .*--preprocessing '\{[^']*\"crop\": \"native\"", result.stdout)
    reencoded = snakemake(tmp_path, native_config(tmp_path / "again", reencode={"format": "jpeg", "quality": 40}),
                          "-n", "-p", "results/formats/mine.csv")
    assert reencoded.stdout.count("--reencode-quality 40") == 2 and "--reencoded-quality 40" in reencoded.stdout


@pytest.mark.slow
def test_two_sources_differing_only_in_file_format_are_warned_of_and_reencoding_takes_the_cue_away(tmp_path, caplog):
    """The same pictures, one source PNG and one JPEG at quality 90: the DCT spectrum tells them
    apart perfectly; re-encoded as JPEG at quality 30, it cannot."""
    sources = format_sources()
    write_trace_folders(tmp_path / "images", sources, 250, 128)
    accuracy = {}
    for reencode in (None, 30):
        paths = {}
        for name in sources:
            whole = tmp_path / f"{reencode}-{name}.npy"
            prepare_real("folder", str(whole), 32, 250, str(tmp_path / "images" / name), crop="native",
                         reencode_quality=reencode, formats_output=str(tmp_path / f"{name}.json"))
            images = np.load(whole)
            for split, rows in (("train", slice(0, 200)), ("test", slice(200, 250))):
                np.save(tmp_path / f"{reencode}-{name}-{split}.npy", images[rows])
                paths.setdefault(split, []).append(str(tmp_path / f"{reencode}-{name}-{split}.npy"))
        accuracy[reencode] = evaluate_baseline("dct", paths["train"], paths["test"], list(sources), {},
                                               tmp_path / f"{reencode}.json", {}, preprocessing=NATIVE)["accuracy"]
    with caplog.at_level("WARNING"):
        differences = compare_sources([str(tmp_path / f"{name}.json") for name in sources], list(sources),
                                      str(tmp_path / "formats.csv"))
    assert "png / jpeg: containers {'PNG': 1.0} against {'JPEG': 1.0}" in caplog.text
    assert differences["difference"].tolist() == ["containers {'PNG': 1.0} against {'JPEG': 1.0}"]
    assert accuracy[None] > 95 and abs(accuracy[30] - 50) <= 15, accuracy


def test_training_reads_each_image_at_a_new_patch_every_epoch(tmp_path, monkeypatch):
    import ganprint.attribution.training as training

    seen = []
    original = training.epoch_batches

    def recording(data, order, batch_size, device, prefetch=None, corners=None, **options):
        seen.append(corners)
        return original(data, order, batch_size, device, prefetch, corners, **options)

    monkeypatch.setattr(training, "epoch_batches", recording)
    rng = np.random.default_rng(0)
    paths = []
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8))
        paths.append(str(tmp_path / f"{name}.npy"))
    train_attribution(paths, ["a", "b"], tmp_path / "m.pt", OptimiserSettings(epochs=2), fmap_base=32, fmap_max=16,
                      preprocessing=Preprocessing(size=32, crop="native", window=64, align=8))
    assert len(seen) == 2 and all(corners is not None and corners.shape == (16, 2) for corners in seen)
    assert not np.array_equal(seen[0], seen[1]) and all((corners % 8 == 0).all() for corners in seen)
