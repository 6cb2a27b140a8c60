"""The stages that otherwise only the workflow runs, each through its command line on tiny
arrays: `cli.main` in this process, as `python -m ganprint` runs it (without torch's import
time per call)."""

import json
import signal

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ganprint.cli import main
from ganprint.storage import save_json
from tiny_workflow import assert_figure

SOURCES = ["a", "b", "c"]


def run_stage(*arguments) -> int:
    """main()'s exit status; the SIGTERM handler that main() installs is taken off again."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        return main(["--quiet", *map(str, arguments)])
    finally:
        signal.signal(signal.SIGTERM, handler)


def ganprint(*arguments) -> None:
    assert run_stage(*arguments) == 0


def source_arrays(folder, count: int, size: int = 16) -> list[str]:
    """Test arrays of three sources, each its own colour ramp plus noise."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 120, size)[None, :, None, None]
    paths = []
    for index, source in enumerate(SOURCES):
        colour = np.array([60, 60, 60]) + 60 * np.eye(3)[index]
        images = colour + ramp.transpose(0, 2, 1, 3) + rng.normal(0, 10, (count, size, size, 3))
        paths.append(str(folder / f"{source}.npy"))
        np.save(paths[-1], np.clip(images, 0, 255).astype(np.uint8))
    return paths


@pytest.fixture(scope="module")
def visnet(tmp_path_factory):
    """A visNet trained for one epoch on three 16 px sources, and their arrays."""
    folder = tmp_path_factory.mktemp("visnet")
    arrays = source_arrays(folder, 32)
    settings = json.dumps({"fmap_base": 64, "fmap_max": 32, "batch_size": 32})
    ganprint("train-attribution", "--train", *arrays, "--sources", *SOURCES, "--settings", settings,
             "--visnet", json.dumps({"epochs": 1}), "--network", "visnet", "--output", folder / "visnet.pt")
    return folder / "visnet.pt", arrays


def write_metrics(path, **entries) -> str:
    """A metrics file as the evaluations write them, `entries` replacing the defaults."""
    save_json(path, {"dataset": "d", "experiment": "table3", "method": "ours", "accuracy": 90.0,
                     "balanced_accuracy": 90.0, "fd_ratio": None, "n_classes": 3, "n_test_per_class": 10,
                     "sources": SOURCES, "per_class_accuracy": {}, **entries})
    return str(path)


def test_real_subset_swaps_difference_images_of_the_seeds_base_subset(tmp_path, real_path):
    for name, difference, seed in (("diff0", 0, 0), ("diff5", 5, 0), ("other_seed", 0, 1)):
        ganprint("real-subset", "--images", real_path, "--base-size", 100, "--difference", difference,
                 "--seed", seed, "--output", tmp_path / f"{name}.npy")
    base, swapped, other = (np.load(tmp_path / f"{name}.npy") for name in ("diff0", "diff5", "other_seed"))
    assert len(np.unique(base)) == len(swapped) == 100 and base.max() < 300
    assert len(np.setdiff1d(swapped, base)) == 5 and np.array_equal(swapped[5:], base[5:])
    assert not np.array_equal(np.sort(base), np.sort(other))


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    """select-artifact-free (fraction 0.25, a random LPIPS backbone) on 12 copies of real
    images among 36 of noise: the test images, the rows copied, the selection and the
    images kept."""
    folder = tmp_path_factory.mktemp("selection")
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (24, 16, 16, 3), dtype=np.uint8)
    copied = np.sort(rng.choice(48, 12, replace=False))
    test = rng.integers(0, 256, (48, 16, 16, 3), dtype=np.uint8)
    test[copied] = real[:12]
    np.save(folder / "real.npy", real)
    np.save(folder / "gan.npy", test)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(folder / "torch_home"))  # no ImageNet backbone
        ganprint("select-artifact-free", "--real", folder / "real.npy", "--test", folder / "gan.npy",
                 "--settings", json.dumps({"fraction": 0.25, "uncalibrated_fallback": True}),
                 "--selection", folder / "selection.npz", "--output", folder / "kept.npy")
    return folder / "gan.npy", copied, folder / "selection.npz", folder / "kept.npy"


def test_select_artifact_free_keeps_the_images_closest_to_real_ones(selected):
    test_path, copied, selection_path, kept_path = selected
    test = np.load(test_path)
    selection = np.load(selection_path)
    assert selection["selected"].tolist() == copied.tolist() and not selection["calibrated"]
    assert selection["nearest_real"][copied].tolist() == list(range(12))
    assert np.allclose(selection["distances"][copied], 0, atol=1e-6)
    assert np.array_equal(np.load(kept_path), test[copied])


def test_figure_selection_shows_the_kept_and_the_other_images_of_each_source(selected, tmp_path):
    test_path, _, selection_path, _ = selected
    ganprint("figure-selection", "--images", test_path, "--selections", selection_path, "--labels", "gan",
             "--per-row", 4, "--output", tmp_path / "selection.png")
    assert_figure(tmp_path / "selection.png", (538, 262))  # two rows (selected, not) of four 16 px images


def test_attack_draws_from_each_arrays_stream_with_the_settings_given(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "clean.npy", images)
    clean = tmp_path / "clean.npy"
    ganprint("attack", "--name", "noise", "--images", clean, clean, "--output", tmp_path / "0.npy", tmp_path / "1.npy")
    ganprint("attack", "--name", "noise", "--images", clean, clean, "--streams", "s", "s",
             "--output", tmp_path / "s.npy", tmp_path / "s_again.npy")
    ganprint("attack", "--name", "noise", "--images", clean, "--settings", json.dumps({"noise_std": [0.0, 0.0]}),
             "--output", tmp_path / "no_noise.npy")
    first, second, same, same_again = (np.load(tmp_path / f"{name}.npy") for name in ("0", "1", "s", "s_again"))
    assert first.shape == images.shape and not np.array_equal(first, images)
    assert not np.array_equal(first, second) and np.array_equal(same, same_again)
    assert np.array_equal(np.load(tmp_path / "no_noise.npy"), images)
    two_outputs = (tmp_path / "x.npy", tmp_path / "y.npy")
    assert run_stage("attack", "--name", "noise", "--images", clean, "--output", *two_outputs) == 1


def test_attack_table_of_a_second_data_set_is_table_8(tmp_path):
    """The rows and cells of Table 8 (the attack table of the config's second data set)."""
    accuracies = {(attack, method, stage): 50.0 + 10 * a + 4 * m + s
                  for a, attack in enumerate(("combination", "noise")) for m, method in enumerate(("ours", "prnu"))
                  for s, stage in enumerate(("akt", "dfs"))}
    attacked = [write_metrics(tmp_path / f"{attack}_{method}_{stage}.json", dataset="other", attack=attack,
                              stage=stage, method=method, accuracy=accuracy)
                for (attack, method, stage), accuracy in accuracies.items()]
    clean = [write_metrics(tmp_path / "ours.json", dataset="other", method="ours", accuracy=99.0),
             write_metrics(tmp_path / "prnu.json", dataset="other", method="prnu", accuracy=95.0)]
    ganprint("attack-table", "--metrics", *attacked, "--clean", *clean, "--output", tmp_path / "table8.csv")
    table = pd.read_csv(tmp_path / "table8.csv").set_index("attack")
    assert table.index.tolist() == ["none", "noise", "combination"] and set(table.dataset) == {"other"}
    assert table.loc["none", ["ours_akt", "prnu_akt"]].tolist() == [99.0, 95.0]
    assert table.loc["none", ["ours_dfs", "prnu_dfs"]].isna().all()
    for (attack, method, stage), accuracy in accuracies.items():
        assert table.loc[attack, f"{method}_{stage}"] == accuracy


def test_open_set_table_has_a_row_per_held_out_source_and_score(tmp_path):
    def scores(offset):
        return {score: {"threshold": offset + index, "auroc": 0.9, "unknown_rejected": 80.0 + offset,
                        "test_rejected": 5.0, "validation_rejected": 5.0}
                for index, score in enumerate(("distance", "msp"))}

    paths = [write_metrics(tmp_path / f"{source}.json", experiment=f"table3_without_{source}", accuracy=97.0,
                           open_set={"score": "distance", "target_rejected": 5.0, "scores": scores(offset)})
             for offset, source in enumerate(SOURCES[:2])]
    ganprint("open-set-table", "--metrics", *paths, "--output", tmp_path / "open_set.csv")
    table = pd.read_csv(tmp_path / "open_set.csv")
    assert list(zip(table.held_out, table.score, table.default_score)) == [
        ("a", "distance", True), ("a", "msp", False), ("b", "distance", True), ("b", "msp", False)]
    assert table.unknown_rejected.tolist() == [80.0, 80.0, 81.0, 81.0] and set(table.experiment) == {"table3"}
    assert run_stage("open-set-table", "--metrics", write_metrics(tmp_path / "closed.json"),
                     "--output", tmp_path / "bad.csv") == 1


def test_length_table_and_its_figure(tmp_path):
    paths = [write_metrics(tmp_path / f"{experiment}_{method}.json", experiment=experiment, method=method,
                           accuracy=accuracy)
             for experiment, accuracies in (("table3_at0.25", (60.0, 50.0)), ("table3", (95.0, 70.0)))
             for method, accuracy in zip(("ours", "knn"), accuracies)]
    ganprint("length-table", "--metrics", *paths, "--images-per-run", 4000, "--output", tmp_path / "length.csv")
    table = pd.read_csv(tmp_path / "length.csv")
    assert list(zip(table.method, table.images_shown, table.accuracy)) == [
        ("knn", 1000, 50.0), ("knn", 4000, 70.0), ("ours", 1000, 60.0), ("ours", 4000, 95.0)]
    ganprint("figure-length", "--table", tmp_path / "length.csv", "--dataset", "d", "--output", tmp_path / "length.png")
    assert_figure(tmp_path / "length.png", (550, 380))
    assert run_stage("figure-length", "--table", tmp_path / "length.csv", "--dataset", "other",
                     "--output", tmp_path / "none.png") == 1


def test_figure_samples_shows_per_source_images_of_each_source(tmp_path):
    arrays = source_arrays(tmp_path, 5)
    ganprint("figure-samples", "--images", *arrays, "--labels", *SOURCES, "--per-source", 3,
             "--output", tmp_path / "samples.png")
    assert_figure(tmp_path / "samples.png", (358, 348))  # three rows of three 16 px images, each shown at 96 px


def test_a_full_resolution_high_band_is_trained_evaluated_and_named_in_table_4(tmp_path):
    """--high-band-input reaches the network (a 16 x 16 x 3 band for high8 at 16 px, conv
    blocks from 16), its metrics and Table 4's high_band_input column."""
    arrays = source_arrays(tmp_path, 16)
    settings = json.dumps({"fmap_base": 64, "fmap_max": 32, "batch_size": 16, "epochs": 1})
    ganprint("train-attribution", "--train", *arrays, "--sources", *SOURCES, "--settings", settings,
             "--network", "high8", "--high-band-input", "full_resolution", "--output", tmp_path / "high8.pt")
    model = torch.load(tmp_path / "high8.pt", weights_only=True)
    assert model["settings"]["high_band_input"] == "full_resolution"
    assert model["model"]["blocks.16.0.weight"].shape[1] == 3 and "blocks.8.0.weight" in model["model"]
    ganprint("evaluate", "--model", tmp_path / "high8.pt", "--test", *arrays, "--label", "dataset=d",
             "--metrics", tmp_path / "high8.json", "--features", tmp_path / "high8.npz",
             "--confusion", tmp_path / "high8.csv")
    ganprint("component-table", "--kind", "bands", "--metrics", tmp_path / "high8.json", "--networks", "high8",
             "--output", tmp_path / "table4.csv")
    table = pd.read_csv(tmp_path / "table4.csv")
    assert table.resolution.tolist() == [8] and table.high_band_input.tolist() == ["full_resolution"]


def test_figure_components_draws_the_patch_curve(tmp_path):
    pd.DataFrame({"dataset": ["d"] * 3, "switch_resolution": [16, 8, 4], "patch_size": [10, 24, 32],
                  "receptive_field": [6, 16, 32], "accuracy": [70.0, 90.0, 99.0]}).to_csv(tmp_path / "table5.csv")
    ganprint("figure-components", "--table", tmp_path / "table5.csv", "--kind", "patches",
             "--output", tmp_path / "patches.png")
    assert_figure(tmp_path / "patches.png", (550, 380))


def test_figure_map_draws_both_maps(tmp_path):
    arrays = source_arrays(tmp_path, 30, size=8)
    labels = np.repeat(np.arange(3), 30)
    features = np.random.default_rng(0).normal(size=(90, 8)) + 6 * np.eye(8)[labels]
    np.savez(tmp_path / "features.npz", features=features.astype(np.float32), labels=labels)
    ganprint("figure-map", "--features", tmp_path / "features.npz", "--test", *arrays, "--sources", *SOURCES,
             "--per-source", 20, "--output", tmp_path / "map.png")
    assert_figure(tmp_path / "map.png", (1040, 440))


def test_figure_fingerprints_of_a_visnet_and_its_correlations(visnet, tmp_path):
    model, arrays = visnet
    ganprint("figure-fingerprints", "--model", model, "--test", *arrays, "--per-source", 1,
             "--correlations", tmp_path / "correlations.csv", "--output", tmp_path / "fingerprints.png")
    assert_figure(tmp_path / "fingerprints.png", (1015, 460))  # model fingerprints, then one image per source
    correlations = pd.read_csv(tmp_path / "correlations.csv").set_index("image source \\ model fingerprint")
    assert correlations.index.tolist() == SOURCES and correlations.columns.tolist() == SOURCES
    assert correlations.abs().to_numpy().max() <= 1


def test_visualise_image_files_with_a_visnet(visnet, tmp_path, capsys):
    model, arrays = visnet
    folder = tmp_path / "images"
    folder.mkdir()
    for source, path in zip(SOURCES, arrays):
        for index, image in enumerate(np.load(path)[:2]):
            Image.fromarray(image).resize((40, 30)).save(folder / f"{source}{index}.png")  # resized to 16 px
    ganprint("visualise", folder, "--model", model, "--shown", 2, "--output", tmp_path / "shown.png",
             "--table", tmp_path / "correlations.csv")
    assert_figure(tmp_path / "shown.png", (690, 355))  # model fingerprints, then the two images shown
    table = pd.read_csv(tmp_path / "correlations.csv")
    assert [name.rsplit("/", 1)[1] for name in table.image] == ["a0.png", "a1.png", "b0.png", "b1.png", "c0.png",
                                                                 "c1.png"]
    correlations = table[[f"correlation_{source}" for source in SOURCES]].to_numpy()
    assert np.abs(correlations).max() <= 1 and (table.source == np.array(SOURCES)[correlations.argmax(1)]).all()
    capsys.readouterr()
    ganprint("visualise", folder, "--model", model, "--output", tmp_path / "all.png")
    assert capsys.readouterr().out == (tmp_path / "correlations.csv").read_text()  # without --table, on stdout
    assert_figure(tmp_path / "all.png", (690, 775))  # all six images shown (--shown 8)
