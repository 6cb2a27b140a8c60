"""The real Snakemake workflow on a tiny configuration."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from ganprint.storage import load_checkpoint
from tiny_workflow import REPO, TINY, planned_jobs, planned_rules, snakemake

pytestmark = pytest.mark.slow

def test_workflow_reaches_table3(finished_run):
    table = pd.read_csv(finished_run / "results/table3.csv")
    assert list(table.columns[:7]) == ["dataset", "method", "accuracy", "balanced_accuracy", "fd_ratio", "n_classes",
                                      "n_test_per_class"]
    assert table.method.tolist() == ["knn", "eigenface", "prnu", "inception", "dct", "ours", "ours_visnet"]
    row = table.iloc[-2]
    assert (row.dataset, row.method, row.n_classes, row.n_test_per_class) == ("tiny", "ours", 3, 64)
    assert 0 <= row.accuracy <= 100 and row.fd_ratio > 0
    assert {"accuracy_real", "accuracy_progan_all_s1", "accuracy_progan_all_s2"} <= set(table.columns)
    assert (finished_run / "results/attribution/tiny/table3/full/features.npz").exists()
    baselines = table.set_index("method")
    assert baselines.accuracy[["knn", "eigenface", "prnu", "dct"]].between(0, 100).all()
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
    for name in ("fingerprints_tiny", "fingerprint_map_tiny"):
        assert (finished_run / f"results/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_workflow_reaches_the_training_length_table_and_figure(finished_run):
    table = pd.read_csv(finished_run / "results/training_length.csv")
    assert sorted(set(table.method)) == ["dct", "eigenface", "knn", "ours"]  # training_length.methods
    ours = table[table.method == "ours"].set_index("fraction")
    assert ours.index.tolist() == [0.85, 1.0] and ours.images_shown.tolist() == [1088, 1280]
    assert ours.experiment.tolist() == ["table3_at0.85", "table3"]
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert ours.accuracy[1.0] == table3.accuracy["ours"]
    assert "progan_all_s1_at0.85" in ours.sources[0.85]
    figure = finished_run / "results/figures/training_length_tiny.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_workflow_reaches_tables_1_and_2_and_the_sample_figure(finished_run):
    table1 = pd.read_csv(finished_run / "results/table1.csv")
    assert table1.n_classes.tolist() == [6] * 6
    assert {f"accuracy_{a}_all_s1" for a in ("progan", "sngan", "cramergan", "mmdgan")} <= set(table1.columns)
    table2 = pd.read_csv(finished_run / "results/table2.csv")
    assert table2.n_classes.tolist() == [4] * 6
    assert {"accuracy_progan_diff0_s1", "accuracy_progan_diff1_s1", "accuracy_progan_diff200_s1"} <= set(table2.columns)
    subsets = [np.load(finished_run / f"results/real/tiny/subsets/diff{i}.npy") for i in (0, 1, 200)]
    assert len(np.setdiff1d(subsets[1], subsets[0])) == 1 and len(np.intersect1d(subsets[2], subsets[0])) == 0
    figure = finished_run / "results/figures/samples_tiny.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_source_is_read_split_and_attributed_like_any_source(finished_run):
    images = np.load(finished_run / "results/folders/conv-net/images.npy")
    assert images.shape == (96 + 64 + 128, 16, 16, 3)  # 24 px PNGs, resized to the workflow's size
    splits = [np.load(finished_run / f"results/sources/tiny/conv-net/{split}.npy") for split in ("train", "test", "val")]
    assert [len(split) for split in splits] == [96, 64, 128]
    assert sorted(row.tobytes() for row in np.concatenate(splits)) == sorted(row.tobytes() for row in images)
    table1 = pd.read_csv(finished_run / "results/table1.csv").set_index("method").drop("inception")
    assert table1["accuracy_conv-net"].between(0, 100).all() and table1.n_classes["ours"] == 6
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
    bands = pd.read_csv(finished_run / "results/table4.csv")
    assert bands.resolution.tolist() == [16, 8, 4]
    assert bands.low_band_accuracy.between(0, 100).all()
    assert np.isnan(bands.high_band_accuracy[0]) and bands.high_band_accuracy[1:].between(0, 100).all()
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert bands.low_band_accuracy[0] == table3.accuracy["ours"]  # the low band at 16 px is the full network
    patches = pd.read_csv(finished_run / "results/table5.csv")
    assert patches.patch_size.tolist() == [3, 10, 16] and patches.receptive_field.tolist() == [1, 6, 16]  # capped at 16 px
    for kind in ("bands", "patches"):
        assert (finished_run / f"results/figures/components_{kind}.png").read_bytes()[:4] == b"\x89PNG"


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
    selection = np.load(finished_run / "results/artifact_free/tiny/progan_all_s1/selection.npz")
    assert len(selection["distances"]) == 64 and len(selection["selected"]) == 16
    figure = finished_run / "results/figures/selection_tiny.png"
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_workflow_reaches_table7_and_the_attack_figure(finished_run):
    table = pd.read_csv(finished_run / "results/table7.csv")
    assert table.attack.tolist() == ["none", "combination"]
    assert table.ours_akt.between(0, 100).all() and table.prnu_akt.between(0, 100).all()
    assert np.isnan(table.ours_dfs[0]) and table.ours_dfs[1:].between(0, 100).all()
    table3 = pd.read_csv(finished_run / "results/table3.csv").set_index("method")
    assert table.ours_akt[0] == table3.accuracy["ours"] and table.prnu_akt[0] == table3.accuracy["prnu"]
    clean = np.load(finished_run / "results/sources/tiny/real/test.npy")
    attacked = np.load(finished_run / "results/attacks/tiny/combination/real/test.npy")
    assert attacked.shape == clean.shape and not np.array_equal(attacked, clean)
    # the attacked training images are temporary: deleted once the defense and PRNU used them
    assert not list((finished_run / "results/attacks").rglob("train.npy"))
    assert (finished_run / "results/figures/attacks_tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert not (finished_run / "results/table8.csv").exists()  # one data set: Table 7 only


def test_the_report_shows_every_table_and_figure(finished_run):
    snakemake(finished_run, TINY, "--report", "results/report.html")
    report = (finished_run / "results/report.html").read_text()
    tables = ["table1", "table2", "table3", "sanity_check", "table4", "table5", "table6", "table7", "training_length",
              "open_set"]
    figures = ["samples_tiny", "selection_tiny", "attacks_tiny", "components_bands", "components_patches",
               "training_length_tiny", "fingerprints_tiny", "fingerprint_map_tiny"]
    for name in [f"{table}.html" for table in tables] + [f"{figure}.png" for figure in figures]:
        assert name in report, name
    assert "Table 3 of the paper" in report and "Figure 5 of the paper" in report
    page = (finished_run / "results/report/table3.html").read_text()
    assert page.count("<tr") == 1 + 7  # the header and one row per method (ours_visnet included)


def test_sanity_twins_are_separate_jobs_with_identical_weights(finished_run):
    table = pd.read_csv(finished_run / "results/sanity_check.csv")
    assert sorted(set(table.experiment)) == ["sanity_diff_seed", "sanity_same_seed"]
    ours = table[table.method == "ours"]
    assert len(ours) == 2 and len(table) == 12
    gans = finished_run / "results/gans/tiny"
    assert (finished_run / "results/logs/train_gan/tiny/progan_all_s1_run2.log").exists()
    first = torch.load(gans / "progan_all_s1/generator.pt", weights_only=True)["generator"]
    twin = torch.load(gans / "progan_all_s1_run2/generator.pt", weights_only=True)["generator"]
    other = torch.load(gans / "progan_all_s2/generator.pt", weights_only=True)["generator"]
    assert all(torch.equal(first[k], twin[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_changing_a_classifier_setting_reruns_only_attribution(finished_run):
    changed = {**TINY, "attribution": {**TINY["attribution"], "learning_rate": 0.0005}}
    result = snakemake(finished_run, changed, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert planned_jobs(result) == {"train_attribution": 3, "evaluate_attribution": 3, "experiment_table": 2}
    result = snakemake(finished_run, TINY, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_a_baseline_setting_reruns_only_that_baseline(finished_run):
    changed = {**TINY, "baselines": {**TINY["baselines"], "knn": {"k_values": [1, 5]}}}
    result = snakemake(finished_run, changed, "-n", "results/table3.csv", "results/sanity_check.csv")
    assert planned_jobs(result) == {"evaluate_baseline": 3, "experiment_table": 2}
    assert "results/baselines/tiny/table3/knn.json" in result.stdout


TWO_DATASETS_WITHOUT_TABLE3 = {
    **TINY,
    "datasets": {"tiny": TINY["datasets"]["tiny"], "other": {"source": "embedded", "count": 400, "seed": 1}},
    "gan": {"threads": 1, "progan": {**TINY["gan"]["progan"], "total_images": 640}},
    "attribution": {**TINY["attribution"], "epochs": 1},
    "baselines": {"methods": ["knn"]},
    "experiments": {"table1": {"sources": ["real", "progan_all_s1"]}},
}


def test_a_config_without_table3_on_two_data_sets_runs(tmp_path):
    """... in a results folder of its own (`pathvars`), as the paper configs do."""
    snakemake(tmp_path, {**TWO_DATASETS_WITHOUT_TABLE3, "pathvars": {"results": "results/two"}}, "--cores", "2")
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["two"]
    results = tmp_path / "results/two"
    table = pd.read_csv(results / "table1.csv")
    assert sorted(zip(table.dataset, table.method)) == [("other", "knn"), ("other", "ours"), ("tiny", "knn"),
                                                         ("tiny", "ours")]
    assert (results / "figures/samples_other.png").exists() and (results / "figures/samples_tiny.png").exists()
    # the experiments that Tables 2-8 and the training-length curves need are not configured
    assert [p.name for p in results.glob("*.csv")] == ["table1.csv"]
    assert not (results / "attacks").exists() and not (results / "artifact_free").exists()


def test_two_data_sets_fill_tables_7_and_8(tmp_path):
    config = {**TINY, "datasets": TWO_DATASETS_WITHOUT_TABLE3["datasets"]}
    result = snakemake(tmp_path, config, "-n")
    assert "results/table7.csv" in result.stdout and "results/table8.csv" in result.stdout
    assert "results/attacks/other/combination/defense/model.pt" in result.stdout


# Ten ProGAN seeds and the sanity check's second run of seed 1; SNGAN, CramerGAN and MMDGAN
# (Table 1); on CelebA, ProGANs on the eleven real_subset_diff_#i (Table 2). Five baselines on
# each experiment (tables 1, 2 on CelebA, 3, and the two sanity comparisons).
@pytest.mark.parametrize("name, n_gans, n_experiments", [("celeba", 11 + 3 + 11, 5), ("lsun", 11 + 3, 4)])
def test_paper_configs_dry_run(tmp_path, name, n_gans, n_experiments):
    config = yaml.safe_load((REPO / f"workflow/configs/{name}.yaml").read_text())
    result = snakemake(tmp_path, config, "-n")
    rules = planned_rules(result)
    assert {"prepare_real", "train_gan", "sample_gan", "train_attribution", "experiment_table", "figure_samples",
            "component_table", "figure_components", "table6", "figure_selection", "attack_table",
            "figure_attacks", "table_page"} <= rules
    # each paper config writes under its own folder: a CelebA and an LSUN run never collide
    outputs = [path for line in re.findall(r"^\s+(?:output|log): (.*)$", result.stdout, re.M) for path in line.split(", ")]
    assert outputs and all(path.startswith(f"results/{name}/") for path in outputs)
    tables = set(re.findall(rf"output: results/{name}/(\w+)\.csv", result.stdout))
    assert tables == {"table1", "table3", "sanity_check", "table4", "table5", "table6", "open_set",
                      "table7" if name == "celeba" else "table8"} | ({"table2"} if name == "celeba" else set())
    assert planned_jobs(result)["train_gan"] == n_gans
    assert planned_jobs(result)["evaluate_baseline"] == 5 * n_experiments
    assert planned_jobs(result)["select_artifact_free"] == 10  # the ten ProGANs of Table 3
    assert planned_jobs(result)["attack_images"] == planned_jobs(result)["attack_training_images"] == 6
    assert planned_jobs(result)["train_defense"] == 6
    # component analysis at 128 px: low band at 64..4, high band at 64..4, post-pooling at 128..8
    # (the low band at 128 and post-pooling at 4 are the full network of Table 3)
    # and visNet on Table 3; Table 1 without each of its five sources (open set)
    assert planned_jobs(result)["train_attribution"] == n_experiments + 5 + 5 + 5 + 1 + 5
    assert {"figure_fingerprints", "figure_fingerprint_map"} <= rules


def planned_settings(result, stage: str) -> dict[str, dict]:
    """The --settings JSON of every planned `ganprint <stage>` command, by its first option's value."""
    pattern = rf"ganprint {stage} --\S+ (\S+) .*?--settings '(\{{.*?\}})'"
    return {name: json.loads(settings) for name, settings in re.findall(pattern, result.stdout)}


def test_the_celeba_config_plans_the_authors_settings(tmp_path):
    """What the authors' code ran (ProGAN/config.py, SNGAN/configs, the MMD-GAN code base as
    launched in their README, the PRNU tool chain), as the jobs of a paper-scale run get it."""
    config = yaml.safe_load((REPO / "workflow/configs/celeba.yaml").read_text())
    result = snakemake(tmp_path, config, "-n", "-p")
    assert planned_settings(result, "baseline")["prnu"]["sigmas"] == [2.0, 3.0, 5.0, 8.0]
    gans = planned_settings(result, "train-gan")
    assert gans["progan"]["learning_rate"] == 0.001 and gans["progan"]["learning_rates"] == {"128": 0.0015}
    assert gans["sngan"]["lr_decay_start"] == 0.8 and gans["sngan"]["total_images"] == 150_000 * 5 * 32
    code_base = {"latent_dim": 100, "latent_distribution": "uniform", "batch_size": 32, "betas": [0.5, 0.9],
                 "learning_rate": 0.0001, "gradient_clip": 1.0, "lr_decay_start": 1.0, "generator_channels": 64,
                 "critic_channels": 64, "max_channel_factor": 16, "critic_steps": 5, "total_images": 150_000 * 6 * 32}
    for arch, own in (("cramergan", {"critic_output_dim": 256, "gp_weight": 10.0}),
                      ("mmdgan", {"critic_output_dim": 16, "gp_weight": 1.0, "l2_weight": 1.0, "rq_alphas": [0.1, 1.0, 10.0]})):
        assert {key: gans[arch][key] for key in {**code_base, **own}} == {**code_base, **own}, arch
    # deterministic GPU kernels for the same-seed twins only (gan.deterministic: twins)
    free = {instance: bool(flag) for flag, instance in re.findall(
        r"train-gan [^\n]*?(--nondeterministic )?--seed \d+ [^\n]*?/gans/celeba/(\w+)/generator.pt", result.stdout)}
    assert len(free) == 25 and {name for name, flag in free.items() if not flag} == {"progan_all_s1", "progan_all_s1_run2"}
    # visNet (PAPER.md): Adam 1e-3 (0, 0.99), batch 32, loss weights 1 / 20 / 0.1, GP 10, drift 0.001, EMA 0.999
    [(attribution, visnet)] = re.findall(r"--settings '(\{[^']*\})' --visnet '(\{[^']*\})' --network visnet", result.stdout)
    attribution, visnet = json.loads(attribution), json.loads(visnet)
    assert attribution["batch_size"] == 32 and "learning_rate" not in attribution
    assert visnet == {"learning_rate": 0.001, "betas": [0.0, 0.99], "epochs": 10, "lr_schedule": "constant",
                      "classification": 1.0, "reconstruction": 20.0, "adversarial": 0.1, "gp_weight": 10.0,
                      "drift_weight": 0.001, "ema_beta": 0.999}


# The GANs of each config (seeds and a twin, three other architectures, four subsets); the
# default also samples its three Table 3 ProGANs at two points of their runs.
@pytest.mark.parametrize("path, n_gans, snapshots", [("config.yaml", 11, 2), ("workflow/configs/photos.yaml", 12, 0)])
def test_embedded_configs_dry_run(tmp_path, path, n_gans, snapshots):
    config = yaml.safe_load((REPO / path).read_text())
    result = snakemake(tmp_path, config, "-n")
    jobs = planned_jobs(result)
    n_table3_gans = len(config["experiments"]["table3"]["sources"]) - 1
    assert jobs["train_gan"] == n_gans and jobs["sample_gan"] == n_gans + n_table3_gans * snapshots
    assert ("training_length_table" in jobs) == bool(snapshots)
    if snapshots:
        assert "--snapshot 0.5 --snapshot 0.75" in snakemake(
            tmp_path, config, "-n", "-p", "results/gans/deadleaves/progan_all_s2/generator.pt").stdout


@pytest.mark.parametrize("change, message", [
    ({"attribution": {"epochs": "many"}}, r"'many' is not of type 'integer'.*\n.*\n*.*epochs|epochs"),
    ({"attribution": {"epoch": 3}}, "config key 'attribution.epoch' is unknown; did you mean 'epochs'"),
    ({"datasets": {"tiny": {"source": "folder"}}}, "datasets.tiny.path: a 'folder' source needs the path"),
    ({"split": {"n_train": 300, "n_test": 200}}, r"split.n_train \+ split.n_test \+ split.n_val \(628\) exceed datasets.tiny.count \(400\)"),
    ({"subsets": {"base_size": 300}}, r"real_subset_diff_#200 needs 200 images outside the base subset of 300"),
    ({"split": {"n_train": -5}}, "-5 is less than the minimum"),
    ({"experiments": {"table3": {"sources": ["real", "wgan_all_s1"]}}}, "unknown GAN 'wgan'"),
    ({"experiments": {"table3": {"sources": ["real", "progan_s1"]}}}, "experiments.table3.sources: 'progan_s1'"),
    ({"folder_sources": {"real": {"path": "x"}}}, "folder_sources.real: 'real' names the data set's own images"),
    ({"folder_sources": {"conv-net": {"path": "x", "count": 100}}},
     r"folder_sources.conv-net.count \(100\) is below split.n_train \+ split.n_test \+ split.n_val \(288\)"),
    ({"folder_sources": {"My_Net": {"path": "x"}}}, "My_Net"),
])
def test_config_errors_name_the_key(tmp_path, change, message):
    config = {**TINY, **{key: {**TINY.get(key, {}), **value} for key, value in change.items()}}
    result = snakemake(tmp_path, config, "-n", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr
    assert len((result.stdout + result.stderr).splitlines()) < 40  # one screen, not the whole schema


def test_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", str(REPO / "Snakefile"),
                             "--directory", str(REPO)], capture_output=True, text=True)
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
