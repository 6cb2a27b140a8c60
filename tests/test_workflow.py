"""The real Snakemake workflow on a tiny configuration (every test here runs its jobs, or
reads the finished run's outputs: slow)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ganprint.storage import load_checkpoint
from tiny_workflow import TINY, TWO_DATASETS, assert_figure, planned_jobs, runtime_python, snakemake


def saved_confusion(path) -> np.ndarray:
    """The confusion counts an evaluation saved: its confusion CSV, or its metrics file's."""
    if path.suffix == ".csv":
        return pd.read_csv(path).set_index("true \\ predicted").to_numpy()
    return np.array(json.loads(path.read_text())["confusion"])


def accuracy_of(confusion: np.ndarray) -> float:
    return 100 * np.trace(confusion) / confusion.sum()


def test_workflow_reaches_table3(finished_run):
    table = pd.read_csv(finished_run / "results/table3.csv")
    assert list(table.columns[:7]) == ["dataset", "method", "accuracy", "balanced_accuracy", "fd_ratio", "n_classes",
                                      "n_test_per_class"]
    assert table.method.tolist() == ["knn", "eigenface", "prnu", "inception", "dct", "ours", "ours_visnet"]
    row = table.iloc[-2]
    assert (row.dataset, row.method, row.n_classes, row.n_test_per_class) == ("tiny", "ours", 3, 64)
    confusion = saved_confusion(finished_run / "results/attribution/tiny/table3/full/confusion.csv")
    assert confusion.sum(axis=1).tolist() == [64] * 3
    assert row.accuracy == pytest.approx(accuracy_of(confusion), abs=1e-3) and row.fd_ratio > 0
    assert {"accuracy_real", "accuracy_progan_all_s1", "accuracy_progan_all_s2"} <= set(table.columns)
    assert (finished_run / "results/attribution/tiny/table3/full/features.npz").exists()
    baselines = table.set_index("method")
    for method in ("knn", "eigenface", "prnu", "dct"):
        confusion = saved_confusion(finished_run / f"results/baselines/tiny/table3/{method}.json")
        assert baselines.accuracy[method] == pytest.approx(accuracy_of(confusion), abs=1e-3), method
    # the tiny GANs' images and the real ones differ in their pixels: far above chance (33%)
    assert (baselines.accuracy[["knn", "eigenface", "dct"]] > 60).all()
    assert np.isnan(baselines.accuracy["inception"]) and np.isnan(baselines.fd_ratio["inception"])
    assert "not computed" in baselines.note["inception"] and baselines.fd_ratio["eigenface"] > 0
    assert baselines.hyperparameters["knn"].startswith("k=")
    assert not list((finished_run / "results").rglob("*.tmp*"))
    assert not list((finished_run / "results").rglob("*.resume.pt"))


def test_workflow_reaches_visnet_figure_7_and_the_fingerprint_map(finished_run):
    visnet = pd.read_csv(finished_run / "results/table3.csv").set_index("method").loc["ours_visnet"]
    assert visnet.n_test_per_class == 64 and visnet.fd_ratio > 0
    assert json.loads((finished_run / "results/attribution/tiny/table3/visnet/metrics.json").read_text())[
        "network"]["architecture"] == "visnet"
    correlations = pd.read_csv(finished_run / "results/attribution/tiny/table3/visnet/correlations.csv")
    assert correlations.shape == (3, 4) and correlations.iloc[:, 1:].abs().to_numpy().max() <= 1
    # Figure 7: the model fingerprints, then two test images of each of the three sources
    assert_figure(finished_run / "results/figures/fingerprints_tiny.png", (1015, 775))
    assert_figure(finished_run / "results/figures/fingerprint_map_tiny.png", (1040, 440))


def test_workflow_reaches_the_training_length_table_and_figure(finished_run):
    table = pd.read_csv(finished_run / "results/training_length.csv")
    assert sorted(set(table.method)) == ["dct", "eigenface", "knn", "ours"]  # training_length.methods
    ours = table[table.method == "ours"].set_index("fraction")
    assert ours.index.tolist() == [0.85, 1.0] and ours.images_shown.tolist() == [1088, 1280]
    assert ours.experiment.tolist() == ["table3_at0.85", "table3"]
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert ours.accuracy[1.0] == table3.accuracy["ours"]
    assert "progan_all_s1_at0.85" in ours.sources[0.85]
    assert_figure(finished_run / "results/figures/training_length_tiny.png", (550, 380))


def test_workflow_reaches_tables_1_and_2_and_the_sample_figure(finished_run):
    table1 = pd.read_csv(finished_run / "results/table1.csv")
    assert table1.n_classes.tolist() == [6] * 6
    assert {f"accuracy_{a}_all_s1" for a in ("progan", "sngan", "cramergan", "mmdgan")} <= set(table1.columns)
    table2 = pd.read_csv(finished_run / "results/table2.csv")
    assert table2.n_classes.tolist() == [4] * 6
    assert {"accuracy_progan_diff0_s1", "accuracy_progan_diff1_s1", "accuracy_progan_diff200_s1"} <= set(table2.columns)
    subsets = [np.load(finished_run / f"results/real/tiny/subsets/diff{i}.npy") for i in (0, 1, 200)]
    assert len(np.setdiff1d(subsets[1], subsets[0])) == 1 and len(np.intersect1d(subsets[2], subsets[0])) == 0
    # a row of eight 16 px samples (shown at 96 px) for each of Table 1's six sources
    assert_figure(finished_run / "results/figures/samples_tiny.png", (1004, 706))


def test_a_folder_source_is_read_split_and_attributed_like_any_source(finished_run):
    images = np.load(finished_run / "results/folders/conv-net/images.npy")
    assert images.shape == (96 + 64 + 128, 16, 16, 3)  # 24 px PNGs, resized to the workflow's size
    splits = [np.load(finished_run / f"results/sources/tiny/conv-net/{split}.npy") for split in ("train", "test", "val")]
    assert [len(split) for split in splits] == [96, 64, 128]
    assert sorted(row.tobytes() for row in np.concatenate(splits)) == sorted(row.tobytes() for row in images)
    table1 = pd.read_csv(finished_run / "results/table1.csv").set_index("method").drop("inception")
    assert table1.n_classes["ours"] == 6
    conv_net = TINY["experiments"]["table1"]["sources"].index("conv-net")
    evaluations = {"ours": finished_run / "results/attribution/tiny/table1/full/confusion.csv",
                   **{method: finished_run / f"results/baselines/tiny/table1/{method}.json"
                      for method in ("knn", "eigenface", "prnu", "dct")}}
    for method, path in evaluations.items():
        counts = saved_confusion(path)[conv_net]
        assert table1["accuracy_conv-net"][method] == pytest.approx(100 * counts[conv_net] / counts.sum(), abs=1e-3)
    # the conv net's images reach the baselines intact: their own look, told apart by pixels
    assert table1["accuracy_conv-net"]["knn"] > 90


def test_workflow_holds_out_each_source_and_calibrates_every_classifier(finished_run):
    table = pd.read_csv(finished_run / "results/open_set.csv")
    assert sorted(zip(table.held_out, table.score)) == sorted(
        (source, score) for source in TINY["experiments"]["table3"]["sources"] for score in ("distance", "msp"))
    assert table.default_score.sum() == 3 and (table[table.default_score].score == "distance").all()
    assert (table.experiment == "table3").all() and (table.target_rejected == 5.0).all()
    # each threshold rejects 5% of the 2 x 64 validation images that calibrate it (to the nearest
    # image), and works on test images; how close to 5% it stays on them is measured on larger
    # data in test_attribution (these GANs' samples are too few and too degenerate for it)
    assert (table.validation_rejected - 5.0).abs().max() < 100 / 128
    assert (table.test_rejected < 30).all()
    calibration = load_checkpoint(finished_run / "results/attribution/tiny/table3/full/calibration.pt")
    metrics = json.loads((finished_run / "results/attribution/tiny/table3/full/metrics.json").read_text())
    assert calibration["thresholds"] == {name: entry["threshold"] for name, entry in metrics["open_set"]["scores"].items()}
    assert calibration["sources"] == TINY["experiments"]["table3"]["sources"]


def test_workflow_reaches_tables_4_and_5_and_their_figures(finished_run):
    def network_accuracy(network):
        return accuracy_of(saved_confusion(finished_run / f"results/attribution/tiny/table3/{network}/confusion.csv"))

    bands = pd.read_csv(finished_run / "results/table4.csv")
    assert bands.resolution.tolist() == [16, 8, 4]
    assert bands.low_band_accuracy.tolist() == pytest.approx(
        [network_accuracy(network) for network in ("full", "low8", "low4")], abs=1e-3)
    assert np.isnan(bands.high_band_accuracy[0])
    assert bands.high_band_accuracy[1:].tolist() == pytest.approx(
        [network_accuracy(network) for network in ("high8", "high4")], abs=1e-3)
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert bands.low_band_accuracy[0] == table3.accuracy["ours"]  # the low band at 16 px is the full network
    patches = pd.read_csv(finished_run / "results/table5.csv")
    assert patches.patch_size.tolist() == [3, 10, 16] and patches.receptive_field.tolist() == [1, 6, 16]  # capped at 16 px
    assert patches.accuracy.tolist() == pytest.approx(
        [network_accuracy(network) for network in ("patch16", "patch8", "full")], abs=1e-3)
    for kind in ("bands", "patches"):
        assert_figure(finished_run / f"results/figures/components_{kind}.png", (550, 380))


def test_workflow_reaches_table6_and_the_selection_figure(finished_run):
    table = pd.read_csv(finished_run / "results/table6.csv")
    assert table.method.tolist() == ["knn", "eigenface", "prnu", "inception", "dct", "ours"]
    assert set(table.lpips_backbone) == {"random (uncalibrated LPIPS)"}
    assert set(table.n_test) == {64 + 2 * 16}  # all real test images, a quarter of each GAN's
    # 16 images per GAN: too few per half for an FD ratio of 16-d features (real 64, GANs 16)
    ours = table.set_index("method").loc["ours"]
    assert np.isnan(ours.fd_ratio) and "8 images per half" in ours.fd_ratio_note
    per_class = [ours[f"accuracy_{source}"] for source in ("real", "progan_all_s1", "progan_all_s2")]
    assert ours.balanced_accuracy == pytest.approx(np.mean(per_class), abs=1e-3)
    # the headline is over the selected generated images (16 per GAN); the real class does not count in it
    for method, row in table.set_index("method").iterrows():
        if method == "inception":
            continue
        generated = [row[f"accuracy_{source}"] for source in ("progan_all_s1", "progan_all_s2")]
        assert row.accuracy == pytest.approx(np.mean(generated), abs=2e-3), method
        assert row.accuracy_all_images == pytest.approx((64 * row.accuracy_real + 16 * sum(generated)) / 96,
                                                        abs=2e-3), method
    selection = np.load(finished_run / "results/artifact_free/tiny/progan_all_s1/selection.npz")
    assert len(selection["distances"]) == 64 and len(selection["selected"]) == 16
    # rows of eight images selected and not selected, for each of the two GANs
    assert_figure(finished_run / "results/figures/selection_tiny.png", (979, 484))


def test_workflow_reaches_table7_and_the_attack_figure(finished_run):
    table = pd.read_csv(finished_run / "results/table7.csv")
    assert table.attack.tolist() == ["none", "combination"]
    metrics = finished_run / "results/attacks/tiny/combination/metrics"
    for method, evaluation in (("ours_akt", "ours_akt_confusion.csv"), ("ours_dfs", "ours_dfs_confusion.csv"),
                               ("prnu_akt", "prnu_akt.json"), ("prnu_dfs", "prnu_dfs.json")):
        assert table[method][1] == pytest.approx(accuracy_of(saved_confusion(metrics / evaluation)), abs=1e-3), method
    assert np.isnan(table.ours_dfs[0]) and np.isnan(table.prnu_dfs[0])
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert table.ours_akt[0] == table3.accuracy["ours"] and table.prnu_akt[0] == table3.accuracy["prnu"]
    clean = np.load(finished_run / "results/sources/tiny/real/test.npy")
    attacked = np.load(finished_run / "results/attacks/tiny/combination/real/test.npy")
    assert attacked.shape == clean.shape and not np.array_equal(attacked, clean)
    # the attacked training images are temporary: deleted once the defense and PRNU used them
    assert not list((finished_run / "results/attacks").rglob("train.npy"))
    assert_figure(finished_run / "results/figures/attacks_tiny.png", (539, 262))  # four images, clean and attacked
    assert not (finished_run / "results/table8.csv").exists()  # one data set: Table 7 only


def test_the_report_shows_every_table_and_figure(finished_run):
    """Rendered by the README's install without the test extras, where CI made one."""
    snakemake(finished_run, TINY, "--report", "results/report.html", python=runtime_python())
    report = (finished_run / "results/report.html").read_text()
    tables = ["table1", "table2", "table3", "sanity_check", "table4", "table5", "table6", "table7", "training_length",
              "open_set", "robustness", "beyond_diffusion", "diffusion_seeds"]
    figures = ["samples_tiny", "selection_tiny", "attacks_tiny", "components_bands", "components_patches",
               "training_length_tiny", "fingerprints_tiny", "fingerprint_map_tiny", "robustness_tiny",
               "diffusion_samples_tiny"]
    for name in [f"{table}.html" for table in tables] + [f"{figure}.png" for figure in figures]:
        assert name in report, name
    assert "Table 3 of the paper" in report and "Figure 5 of the paper" in report and "open-set attribution" in report
    page = (finished_run / "results/report/table3.html").read_text()
    assert page.count("<tr") == 1 + 7  # the header and one row per method (ours_visnet included)


def test_workflow_measures_table3_on_degraded_test_images_without_retraining(finished_run):
    table = pd.read_csv(finished_run / "results/robustness.csv")
    levels = table[table.method == "ours"].groupby("perturbation")["level"].apply(list).to_dict()
    assert levels == {"none": [0.0], "jpeg": [100.0, 90.0, 70.0, 50.0, 30.0], "downscale": [0.9, 0.8, 0.7, 0.5],
                      "blur": [0.5, 1.0, 1.5, 2.0]}
    assert sorted(table.method.unique()) == ["dct", "eigenface", "knn", "ours", "prnu"]
    # the clean images' row is Table 3's: the same model and baselines on the same test images
    clean = table[table.perturbation == "none"].set_index("method")["accuracy"]
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")["accuracy"]
    assert np.allclose(clean[["ours", "knn", "eigenface", "prnu", "dct"]],
                       table3[["ours", "knn", "eigenface", "prnu", "dct"]], atol=1e-3)
    # the spectrum's fine detail is what a strong blur or downscaling takes away
    dct = table[table.method == "dct"].set_index(["perturbation", "level"])["accuracy"]
    assert dct["blur", 2.0] < dct["none", 0.0] - 20 and dct["downscale", 0.5] < dct["none", 0.0] - 20
    assert_figure(finished_run / "results/figures/robustness_tiny.png", (1020, 340))


def test_sanity_twins_are_separate_jobs_with_identical_weights(finished_run):
    table = pd.read_csv(finished_run / "results/sanity_check.csv")
    assert list(dict.fromkeys(table.experiment)) == ["sanity_same_seed", "sanity_noise", "sanity_diff_seed"]
    ours = table[table.method == "ours"]
    assert len(ours) == 3 and len(table) == 18
    gans = finished_run / "results/gans/tiny"
    assert (finished_run / "results/logs/train_gan/tiny/progan_all_s1_run2.log").exists()
    first, twin, noisy, other = (torch.load(gans / f"{name}/generator.pt", weights_only=True)["generator"]
                                 for name in ("progan_all_s1", "progan_all_s1_run2", "progan_all_s1_noisy2",
                                              "progan_all_s2"))
    assert all(torch.equal(first[k], twin[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    # the twin up to numeric noise: the same run in another summation order, close but not equal
    assert not all(torch.equal(first[k], noisy[k]) for k in first)
    assert largest_difference(first, noisy) < largest_difference(first, other) / 10
    # one generator, two latent streams: the twins' images differ (one stream would put the
    # sanity check at chance by construction)
    sources = finished_run / "results/sources/tiny"
    for split in ("train", "test", "val"):
        assert not np.array_equal(np.load(sources / f"progan_all_s1/{split}.npy"),
                                  np.load(sources / f"progan_all_s1_run2/{split}.npy"))


def test_diffusion_models_are_trained_sampled_and_attributed_beside_the_gans(finished_run):
    table = pd.read_csv(finished_run / "results/beyond_diffusion.csv")
    assert sorted(table.method) == ["dct", "eigenface", "inception", "knn", "ours", "prnu"]
    sources = ["real", "progan_all_s1", "sngan_all_s1", "ddpm_all_s1", "ddpm_all_s2"]
    assert sorted(c for c in table.columns if c.startswith("accuracy_")) == sorted(f"accuracy_{s}" for s in sources)
    seeds = pd.read_csv(finished_run / "results/diffusion_seeds.csv")
    assert list(dict.fromkeys(seeds.experiment)) == ["diffusion_same_seed", "diffusion_diff_seed"]
    assert len(seeds[seeds.method == "ours"]) == 2
    gans = finished_run / "results/gans/tiny"
    first, twin, other = (torch.load(gans / f"{name}/generator.pt", weights_only=True)["generator"]
                          for name in ("ddpm_all_s1", "ddpm_all_s1_run2", "ddpm_all_s2"))
    assert all(torch.equal(first[k], twin[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    images = finished_run / "results/sources/tiny"
    assert not np.array_equal(np.load(images / "ddpm_all_s1/test.npy"), np.load(images / "ddpm_all_s1_run2/test.npy"))
    assert_figure(finished_run / "results/figures/diffusion_samples_tiny.png", (979, 595))


def largest_difference(weights, others) -> float:
    return max((weights[k].float() - others[k].float()).abs().max().item() for k in weights)


def test_changing_a_classifier_setting_reruns_only_attribution(finished_run):
    changed = {**TINY, "attribution": {**TINY["attribution"], "learning_rate": 0.0005}}
    result = snakemake(finished_run, changed, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert planned_jobs(result) == {"train_attribution": 4, "evaluate_attribution": 4, "experiment_table": 2}
    result = snakemake(finished_run, TINY, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_the_high_band_arrangement_reruns_only_the_high_band_networks(finished_run):
    changed = {**TINY, "components": {"high_band_input": "full_resolution"}}
    result = snakemake(finished_run, changed, "-n", "results/table4.csv", "results/table5.csv")
    assert planned_jobs(result) == {"train_attribution": 2, "evaluate_attribution": 2, "component_table": 1}
    assert "results/attribution/tiny/table3/high8/model.pt" in result.stdout


def test_changing_a_baseline_setting_reruns_only_that_baseline(finished_run):
    changed = {**TINY, "baselines": {**TINY["baselines"], "knn": {"k_values": [1, 5]}}}
    result = snakemake(finished_run, changed, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert planned_jobs(result) == {"evaluate_baseline": 4, "experiment_table": 2}
    assert "results/baselines/tiny/table3/knn.json" in result.stdout


TWO_DATASETS_WITHOUT_TABLE3 = {
    # without the open_set block, which names table3: a config that names an analysis's experiment must have it
    **{key: value for key, value in TINY.items() if key != "open_set"},
    "datasets": TWO_DATASETS,
    "gan": {"threads": 1, "progan": {**TINY["gan"]["progan"], "total_images": 640}},
    "attribution": {**TINY["attribution"], "epochs": 1},
    "baselines": {"methods": ["knn"]},
    "experiments": {"table1": {"sources": ["real", "progan_all_s1"]}},
}


@pytest.mark.slow
def test_a_config_without_table3_on_two_data_sets_runs(tmp_path):
    """... in a results folder of its own (`pathvars`), as the paper configs do."""
    snakemake(tmp_path, {**TWO_DATASETS_WITHOUT_TABLE3, "pathvars": {"results": "results/two"}}, "--cores", "2")
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["two"]
    results = tmp_path / "results/two"
    table = pd.read_csv(results / "table1.csv")
    assert sorted(zip(table.dataset, table.method)) == [("other", "knn"), ("other", "ours"), ("tiny", "knn"),
                                                         ("tiny", "ours")]
    for dataset in TWO_DATASETS:  # a row of eight samples for each of Table 1's two sources
        assert_figure(results / f"figures/samples_{dataset}.png", (979, 262))
    # the experiments that Tables 2-8 and the training-length curves need are not configured
    assert [p.name for p in results.glob("*.csv")] == ["table1.csv"]
    assert not (results / "attacks").exists() and not (results / "artifact_free").exists()
