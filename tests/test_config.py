"""The workflow's plan and its config checks: Snakemake dry runs and parse-time errors,
cheap enough for every run of the tests (no job runs)."""

import json
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from ganprint import GanprintError
from ganprint.cli import USER_COMMANDS, command_help
from ganprint.config_checks import check_constraints, check_data_paths, check_schema
from ganprint.names import HIGH_BAND_INPUTS
from ganprint.settings import with_defaults
from tiny_workflow import REPO, TINY, TWO_DATASETS, planned_jobs, planned_rules, snakemake


def test_two_data_sets_fill_table_7_and_table_8_each_from_its_own_data_set(tmp_path):
    """Which metrics each attack table is made of; test_cli_stages checks what attack-table
    makes of them."""
    result = snakemake(tmp_path, {**TINY, "datasets": TWO_DATASETS}, "-n", "-p",
                       "results/table7.csv", "results/table8.csv")
    commands = {table: arguments for arguments, table
                in re.findall(r"ganprint attack-table (.*) --output results/(table\d)\.csv", result.stdout)}
    # the i-th data set as Snakemake reads the config (written with sorted keys) fills attacks.table_numbers[i]
    for table, dataset in zip(("table7", "table8"), sorted(TWO_DATASETS)):
        attacked = [f"results/attacks/{dataset}/combination/metrics/{method}_{stage}.json"
                    for method in ("ours", "prnu") for stage in ("akt", "dfs")]
        clean = [f"results/attribution/{dataset}/table3/full/metrics.json",
                 f"results/baselines/{dataset}/table3/prnu.json"]
        assert commands[table].split() == ["--metrics", *attacked, "--clean", *clean]
    assert planned_jobs(result)["train_defense"] == 2 and planned_jobs(result)["attack_table"] == 2


def paper_config(name: str, directory) -> dict:
    """A paper config whose data set reads an empty folder in `directory`: a dry run needs the
    folder to exist, not the images in it."""
    config = yaml.safe_load((REPO / f"workflow/configs/{name}.yaml").read_text())
    for dataset in config["datasets"].values():
        dataset["path"] = str(directory / "images")
    (directory / "images").mkdir(exist_ok=True)
    return config


# Ten ProGAN seeds and the sanity check's two second runs of seed 1 (bit-identical, and up to
# numeric noise); SNGAN, CramerGAN and MMDGAN (Table 1); on CelebA, ProGANs on the eleven
# real_subset_diff_#i (Table 2). Five baselines on each experiment (tables 1, 2 on CelebA, 3,
# and the three sanity comparisons).
@pytest.mark.parametrize("name, n_gans, n_experiments", [("celeba", 12 + 3 + 11, 6), ("lsun", 12 + 3, 5)])
def test_paper_configs_dry_run(tmp_path, name, n_gans, n_experiments):
    result = snakemake(tmp_path, paper_config(name, tmp_path), "-n", "-p")
    rules = planned_rules(result)
    assert {"prepare_real", "train_gan", "sample_gan", "train_attribution", "experiment_table", "figure_samples",
            "component_table", "figure_components", "table6", "figure_selection", "attack_table",
            "figure_attacks", "table_page"} <= rules
    # each paper config writes under its own folder: a CelebA and an LSUN run never collide
    outputs = [path for line in re.findall(r"^\s+(?:output|log): (.*)$", result.stdout, re.M) for path in line.split(", ")]
    assert outputs and all(path.startswith(f"results/{name}/") for path in outputs)
    tables = set(re.findall(rf"output: results/{name}/(\w+)\.csv", result.stdout))
    assert tables == {"table1", "table3", "sanity_check", "table4", "table5", "table6", "open_set", "robustness",
                      "table7" if name == "celeba" else "table8"} | ({"table2"} if name == "celeba" else set())
    assert planned_jobs(result)["train_gan"] == n_gans
    assert planned_jobs(result)["evaluate_baseline"] == 5 * n_experiments
    assert planned_jobs(result)["select_artifact_free"] == 10  # the ten ProGANs of Table 3
    # the attacks of Table 7; Table 8 without relighting (a face model), in its combination too
    n_attacks = 6 if name == "celeba" else 5
    assert planned_jobs(result)["attack_images"] == planned_jobs(result)["attack_training_images"] == n_attacks
    assert planned_jobs(result)["train_defense"] == n_attacks
    steps = json.loads(re.search(r"ganprint attack --name combination [^\n]*--settings '(\{[^']*\})'",
                                 result.stdout)[1])["combination_steps"]
    assert steps == ["relight", "crop", "blur", "jpeg", "noise"][name == "lsun":]
    # component analysis at 128 px: low band at 64..4, high band at 64..4, post-pooling at 128..8
    # (the low band at 128 and post-pooling at 4 are the full network of Table 3)
    # and visNet on Table 3; Table 1 without each of its five sources (open set)
    assert planned_jobs(result)["train_attribution"] == n_experiments + 5 + 5 + 5 + 1 + 5
    assert {"figure_fingerprints", "figure_fingerprint_map"} <= rules
    if name == "celeba":  # the CelebA models of `ganprint attribute -h` and `visualise -h` are this run's
        assert set(example_models("results/celeba/")) <= set(outputs) and example_models("results/celeba/")


def example_models(prefix: str) -> list[str]:
    """The --model paths under `prefix` in the examples of the user commands' help."""
    examples = "".join(command_help(command).examples for command in USER_COMMANDS)
    return [path for path in re.findall(r"--model (\S+)", examples) if path.startswith(prefix)]


def test_the_help_examples_name_models_the_demo_makes(tmp_path):
    demo = yaml.safe_load((REPO / "config.yaml").read_text())
    result = snakemake(tmp_path, demo, "-n")
    outputs = {path for line in re.findall(r"^\s+output: (.*)$", result.stdout, re.M) for path in line.split(", ")}
    demo_models = [path for path in example_models("results/") if not path.startswith("results/celeba/")]
    assert len(demo_models) >= 2 and set(demo_models) <= outputs, set(demo_models) - outputs


def planned_settings(result, stage: str) -> dict[str, dict]:
    """The --settings JSON of every planned `ganprint <stage>` command, by its first option's value."""
    pattern = rf"ganprint {stage} --\S+ (\S+) .*?--settings '(\{{.*?\}})'"
    return {name: json.loads(settings) for name, settings in re.findall(pattern, result.stdout)}


def test_the_celeba_config_plans_the_authors_settings(tmp_path):
    """What the authors' code ran (ProGAN/config.py, SNGAN/configs, the MMD-GAN code base as
    launched in their README, the PRNU tool chain), as the jobs of a paper-scale run get it."""
    result = snakemake(tmp_path, paper_config("celeba", tmp_path), "-n", "-p")
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
    # (the twin up to numeric noise takes the nondeterministic ones, and another thread count: one fewer)
    assert len(free) == 26 and {name for name, flag in free.items() if not flag} == {"progan_all_s1", "progan_all_s1_run2"}
    threads = {name: count for count, name in re.findall(
        r"--threads (\d+) --output results/celeba/gans/celeba/(\w+)/generator.pt", result.stdout)}
    assert {name for name, count in threads.items() if count != "8"} == {"progan_all_s1_noisy2"} and threads[
        "progan_all_s1_noisy2"] == "7"
    # visNet (PAPER.md): Adam 1e-3 (0, 0.99), batch 32, loss weights 1 / 20 / 0.1, GP 10, drift 0.001, EMA 0.999
    [(attribution, visnet)] = re.findall(r"--settings '(\{[^']*\})' --visnet '(\{[^']*\})' --network visnet", result.stdout)
    attribution, visnet = json.loads(attribution), json.loads(visnet)
    # every model records how its images were read: the authors' CelebA crop, resized to 128 px
    recorded = {json.dumps(json.loads(record), sort_keys=True)
                for record in re.findall(r"train-attribution .*?--preprocessing '(\{[^']*\})'", result.stdout)}
    assert [json.loads(record) for record in recorded] == [{
        "size": 128, "crop": "celeba", "resampling": "lanczos", "alpha_background": "white", "window": 128, "grid": 4,
        "align": 8}]
    assert attribution["batch_size"] == 32 and "learning_rate" not in attribution
    assert visnet == {"learning_rate": 0.001, "betas": [0.0, 0.99], "epochs": 10, "total_images": 25_000_000,
                      "lr_schedule": "constant", "classification": 1.0, "reconstruction": 20.0, "adversarial": 0.1,
                      "gp_weight": 10.0, "drift_weight": 0.001, "ema_beta": 0.999}
    # the released classifier config's length (100M images) for every classifier; the defense its own epochs
    lengths = {output: json.loads(settings).get("total_images", "visnet's") for settings, output in re.findall(
        r"train-attribution [^\n]*?--settings '(\{[^']*\})'[^\n]*?--output (\S+)", result.stdout)}
    assert len(lengths) == 33 and {length for output, length in lengths.items() if "/defense/" not in output} == {
        100_000_000, "visnet's"} and {length for output, length in lengths.items() if "/defense/" in output} == {None}
    # the defense attacks the clean training images anew each epoch (attacks.defense.perturbations: fresh)
    defenses = re.findall(r"train-attribution (--train [^\n]*?/defense/model\.pt)", result.stdout)
    assert len(defenses) == 6 and all("--attack " in command and "results/celeba/sources/celeba/" in command
                                      for command in defenses)


@pytest.mark.parametrize("name", ["celeba", "lsun"])
def test_paper_configs_plan_how_the_authors_wrote_samples_fed_sngan_and_estimated_prnu(tmp_path, name):
    """SNGAN/evaluation.py truncates; the MMD-GAN code base's scipy.misc.imsave stretches each
    image; ProGAN's misc rounds. SNGAN/datasets/celeba.py feeds x / 128 - 1 + U(0, 1/128).
    Marra et al.'s fingerprint is the mean residual, correlated as it is."""
    result = snakemake(tmp_path, paper_config(name, tmp_path), "-n", "-p")
    exports = dict(re.findall(rf"sample-gan --checkpoint results/{name}/gans/{name}/([a-z]+)_\S+ .*?--export (\w+)",
                              result.stdout))
    assert exports == {"progan": "round", "sngan": "truncate", "cramergan": "stretch", "mmdgan": "stretch"}
    assert planned_settings(result, "train-gan")["sngan"]["real_scaling"] == "dequantised"
    prnu = planned_settings(result, "baseline")["prnu"]
    assert (prnu["estimator"], prnu["chain"]) == ("average", "marra")


# The generators of each config (seeds and a twin, three other architectures, four subsets;
# the default's two diffusion seeds and a twin); the default also samples its three Table 3
# ProGANs at two points of their runs.
@pytest.mark.parametrize("path, n_gans, snapshots", [("config.yaml", 15, 2), ("workflow/configs/photos.yaml", 12, 0)])
def test_embedded_configs_dry_run(tmp_path, path, n_gans, snapshots):
    config = yaml.safe_load((REPO / path).read_text())
    result = snakemake(tmp_path, config, "-n")
    jobs = planned_jobs(result)
    n_table3_gans = len(config["experiments"]["table3"]["sources"]) - 1
    assert jobs["train_gan"] == n_gans and jobs["sample_gan"] == n_gans + n_table3_gans * snapshots
    assert ("training_length_table" in jobs) == bool(snapshots)
    if "sanity_noise" in config["experiments"]:  # gan.deterministic: all, but for the noise-only twin
        plan = snakemake(tmp_path, config, "-n", "-p", "--forceall", "results/gans/deadleaves/progan_all_s1_noisy2/generator.pt",
                         "results/gans/deadleaves/progan_all_s1/generator.pt").stdout
        assert re.findall(r"--nondeterministic --seed \d+ --threads (\d) --output \S+/(\w+)/generator.pt", plan) == [
            ("2", "progan_all_s1_noisy2")]
    if snapshots:
        assert "--snapshot 0.5 --snapshot 0.75" in snakemake(
            tmp_path, config, "-n", "-p", "results/gans/deadleaves/progan_all_s2/generator.pt").stdout


def changed_tiny(change: dict) -> dict:
    """TINY with each block of `change` merged into its block."""
    return {**TINY, **{key: {**TINY.get(key, {}), **value} for key, value in change.items()}}


def config_error(config: dict) -> str:
    """The message of the error that the Snakefile's checks raise on a config, run in its order."""
    with pytest.raises(GanprintError) as error:
        check_schema(config)
        check_constraints({**config, **with_defaults(config)})
    return str(error.value)


@pytest.mark.parametrize("change, message", [
    ({"attribution": {"epochs": "many"}}, r"config key 'attribution\.epochs': 'many' is not of type 'integer'"),
    ({"attribution": {"epoch": 3}}, "config key 'attribution.epoch' is unknown; did you mean 'epochs'"),
    ({"datasets": {"tiny": {"source": "folder"}}}, "datasets.tiny.path: a 'folder' source needs the path"),
    ({"split": {"n_train": 300, "n_test": 200}}, r"split.n_train \+ split.n_test \+ split.n_val \(628\) exceed datasets.tiny.count \(400\)"),
    ({"subsets": {"base_size": 300}}, r"real_subset_diff_#200 needs 200 images outside the base subset of 300"),
    ({"split": {"n_train": -5}}, r"config key 'split\.n_train': -5 is less than the minimum of 1"),
    ({"experiments": {"table3": {"sources": ["real", "progan_s1"]}}}, "experiments.table3.sources: 'progan_s1'"),
    ({"folder_sources": {"real": {"path": "x"}}}, "folder_sources.real: 'real' names the data set's own images"),
    ({"folder_sources": {"conv-net": {"path": "x", "count": 100}}},
     r"folder_sources.conv-net.count \(100\) is below split.n_train \+ split.n_test \+ split.n_val \(288\)"),
    ({"folder_sources": {"My_Net": {"path": "x"}}}, r"config key 'folder_sources': 'My_Net' does not match"),
    ({"experiments": {"x_without_real": {"sources": ["real", "progan_all_s1"]}}},
     "experiments.x_without_real: a name cannot contain '_without_'"),
    ({"experiments": {"x_at0.5": {"sources": ["real", "progan_all_s1"]}}},
     "experiments.x_at0.5: a name cannot end in '_at<fraction>'"),
    ({"experiments": {"my table": {"sources": ["real", "progan_all_s1"]}}},
     r"config key 'experiments': 'my table' does not match"),
    ({"experiments": {"a/b": {"sources": ["real", "progan_all_s1"]}}}, r"config key 'experiments': 'a/b' does not match"),
    ({"experiments": {"table3": {"sources": ["real", "progan_all_s1_at0.5"]}}},
     "experiments.table3.sources: 'progan_all_s1_at0.5' is a snapshot of 'progan_all_s1'"),
    ({"experiments": {"table3": {"sources": ["real", "wgan_all_s1"]}}},
     "experiments.table3.sources: unknown GAN architecture 'wgan' in 'wgan_all_s1'"),
    ({"open_set": {"experiment": "tabel3"}}, "open_set.experiment: no experiment 'tabel3' in experiments .*did you mean 'table3'"),
    ({"visnet": {"experiment": "table9"}}, "visnet.experiment: no experiment 'table9' in experiments"),
    ({"folder_sources": {"conv-net": {"path": "x", "crop": "native"}}},
     "experiments.table1: conv-net read at native resolution .* but real resized to image_size"),
    ({"reencode": {"format": "jpeg", "quality": 50}},
     r"reencode: experiments.table1 holds GAN instances \(progan_all_s1, .*\), whose images are never encoded"),
    ({"reencode": {"format": "png", "quality": 50}}, r"config key 'reencode.format': 'png' is not one of \['jpeg'\]"),
    ({"patches": {"align": 3}}, r"config key 'patches.align': 3 is not one of"),
])
def test_config_checks_name_the_key(change, message):
    error = config_error(changed_tiny(change))
    assert re.search(message, error), error


@pytest.mark.parametrize("change, message", [
    ({"attribution": {"epochs": "many"}}, r"config key 'attribution\.epochs': 'many' is not of type 'integer'"),
    ({"split": {"n_train": 300, "n_test": 200}}, r"split.n_train \+ split.n_test \+ split.n_val \(628\) exceed"),
    ({"experiments": {"table3": {"sources": ["real", "wgan_all_s1"]}}},
     "experiments.table3.sources: unknown GAN architecture 'wgan' in 'wgan_all_s1'"),
    ({"experiments": {"table3": {"sources": ["real", "progan_all_s1_at0.5"]}}}, "is a snapshot of 'progan_all_s1'"),
])
def test_snakemake_stops_on_a_config_error_with_one_line_naming_the_key(tmp_path, change, message):
    result = snakemake(tmp_path, changed_tiny(change), "-n", check=False)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith("config error: ") and re.search(message, lines[0]), lines[0]


def test_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", str(REPO / "Snakefile"),
                             "--directory", str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


SCHEMA_WORDS = {"type", "default", "description", "enum", "items", "minimum", "maximum", "exclusiveMinimum",
                "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "properties", "additionalProperties",
                "required", "oneOf", "anyOf", "patternProperties", "propertyNames", "minLength", "pattern", "format",
                "minProperties"}


def schema_properties(node: dict, path: str = ""):
    """(dotted key, its schema) of every property in the schema, nested ones too."""
    for name, child in (node.get("properties") or {}).items():
        yield f"{path}{name}", child
        yield from schema_properties(child, f"{path}{name}.")
    for word in ("items", "additionalProperties"):
        if isinstance(node.get(word), dict):
            yield from schema_properties(node[word], f"{path}*.")


def test_every_schema_entry_parses_into_json_schema_words_only():
    """A comma or ' #' in an unquoted description cuts it short and leaves stray keys."""
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    entries = dict(schema_properties(schema))
    assert len(entries) > 100
    stray = {key: sorted(set(entry) - SCHEMA_WORDS) for key, entry in entries.items() if set(entry) - SCHEMA_WORDS}
    assert not stray
    assert entries["subsets.base_size"]["description"].endswith("of every diff subset.")


@pytest.mark.parametrize("name, key, path", [("celeba", "datasets.celeba.path", "data/celeba/img_align_celeba"),
                                             ("lsun", "datasets.lsun.path", "data/lsun/bedroom_train_lmdb")])
def test_a_paper_config_without_its_images_stops_at_once_naming_the_key_and_the_folder(tmp_path, name, key, path):
    config = yaml.safe_load((REPO / f"workflow/configs/{name}.yaml").read_text())
    result = snakemake(tmp_path, config, "-n", check=False)
    assert result.returncode == 1
    [line] = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert line.startswith(f"config error: {key}: the ") and f" {path} does not exist" in line, line
    assert f"set {key} to" in line and str(tmp_path) in line  # where a relative path was looked for


def test_every_folder_of_a_folder_source_must_exist(tmp_path):
    (tmp_path / "first").mkdir()
    config = {**with_defaults(TINY), "folder_sources": {"conv-net": {"path": [str(tmp_path / "first"),
                                                                            str(tmp_path / "second")]}}}
    with pytest.raises(GanprintError) as error:
        check_data_paths(config)
    assert str(error.value).startswith(f"folder_sources.conv-net.path: the folder {tmp_path / 'second'} does not exist")


def test_the_slurm_profiles_own_command_plans_its_target(tmp_path):
    """The command in the profile's first lines, run where the paper config's images are an
    empty folder (--config), plans the table it names."""
    comment = (REPO / "workflow/profiles/slurm/config.yaml").read_text().splitlines()[1]
    command = shlex.split(comment.lstrip("# "))
    assert command[0] == "snakemake" and not command[1].startswith("-")  # the target before the options
    arguments = [str(REPO / word) if word.startswith("workflow/") else word for word in command[1:]]
    (tmp_path / "images").mkdir()
    overrides = "datasets=" + json.dumps({name: {"path": str(tmp_path / "images")}
                                         for name in yaml.safe_load(Path(arguments[-1]).read_text())["datasets"]})
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory",
                             str(tmp_path), *arguments, "--config", overrides], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"output: {command[1]}" in result.stdout


def table_caption(table: str, config: dict) -> str:
    """A table page's caption as `snakemake --report` renders it: the template, then reStructuredText."""
    import jinja2
    from docutils.core import publish_parts

    template = jinja2.Template((REPO / "workflow/report/table.rst").read_text())
    snakemake = types.SimpleNamespace(wildcards=types.SimpleNamespace(table=table), config=with_defaults(config))
    return publish_parts(template.render(snakemake=snakemake), writer_name="html",
                         settings_overrides={"halt_level": 2})["body"]


@pytest.mark.filterwarnings("ignore:Argument \"writer_name\":PendingDeprecationWarning")  # as Snakemake calls it
def test_every_table_page_of_the_report_has_a_caption():
    titles = (REPO / "workflow/rules/common.smk").read_text().split("TABLE_TITLES = {")[1].split("}")[0]
    captions = {table: table_caption(table, TINY) for table in re.findall(r'^\s+"(\w+)":', titles, re.M)}
    assert len(captions) == 14 and all(captions.values()), [table for table, text in captions.items() if not text]
    assert "open-set attribution" in captions["open_set"] and "table3" in captions["open_set"]


@pytest.mark.filterwarnings("ignore:Argument \"writer_name\":PendingDeprecationWarning")  # as Snakemake calls it
def test_the_high_band_arrangement_reaches_only_the_high_band_trainings_and_table_4_names_it(tmp_path):
    """components.high_band_input is a flag of the high-band networks' training alone (so that
    changing it retrains only those), and Table 4's page title, figure title and caption say it."""
    result = snakemake(tmp_path, {**TINY, "components": {"high_band_input": "full_resolution"}}, "-n", "-p",
                       "results/report/table4.html", "results/figures/components_bands.png")
    flags = dict(re.findall(r"train-attribution [^\n]*?--network (\w+) (--high-band-input \w+ )?", result.stdout))
    assert flags == {"full": "", "low8": "", "low4": "", "high8": "--high-band-input full_resolution ",
                     "high4": "--high-band-input full_resolution "}
    assert "--title 'Table 4: frequency bands, the high band at 2r x 2r'" in result.stdout
    assert "--title 'Component analysis, bands, the high band at 2r x 2r'" in result.stdout
    for arrangement in HIGH_BAND_INPUTS:
        caption = table_caption("table4", {**TINY, "components": {"high_band_input": arrangement}})
        assert re.search(r"entered its networks\s+<\w+ [^>]*>(\w+)<", caption)[1] == arrangement


def test_fresh_defense_perturbations_train_on_the_clean_images_and_fixed_ones_on_the_attacked_copy(tmp_path):
    """attacks.defense.perturbations reaches the defense's training alone: its images and its
    --attack flags, not its --settings (so that changing it retrains only the defense)."""
    target = "results/attacks/tiny/combination/defense/model.pt"
    commands, jobs = {}, {}
    for perturbations in ("fixed", "fresh"):
        config = {**TINY, "attacks": {**TINY["attacks"], "defense": {**TINY["attacks"]["defense"],
                                                                    "perturbations": perturbations}}}
        result = snakemake(tmp_path, config, "-n", "-p", target)
        [command] = re.findall(r"ganprint train-attribution (.*/defense/model\.pt) 2> ", result.stdout)
        commands[perturbations], jobs[perturbations] = shlex.split(command), planned_jobs(result)

    def values(tokens, option):
        start = tokens.index(option) + 1
        return tokens[start : next(i for i in range(start, len(tokens)) if tokens[i].startswith("--"))]

    sources = TINY["experiments"]["table3"]["sources"]
    assert values(commands["fixed"], "--train") == [f"results/attacks/tiny/combination/{s}/train.npy" for s in sources]
    assert values(commands["fresh"], "--train") == [f"results/sources/tiny/{s}/train.npy" for s in sources]
    assert "--attack" not in commands["fixed"] and jobs["fixed"]["attack_training_images"] == 1
    assert values(commands["fresh"], "--attack") == ["combination"] and values(commands["fresh"], "--attack-seed") == ["0"]
    assert json.loads(values(commands["fresh"], "--attack-settings")[0])["relight_model"] is None
    assert "attack_training_images" not in jobs["fresh"]
    assert values(commands["fixed"], "--settings") == values(commands["fresh"], "--settings")


def test_a_templated_config_is_refused_in_one_line_naming_it(tmp_path):
    """`__use_yte__: true` turns a config's `?` values into Python that Snakemake runs while
    it reads the file; ganprint refuses such a file, dry run included. The refusal comes after
    Snakemake's reading, as docs/trust.md says: the expression has run."""
    templated = tmp_path / "shared.yaml"
    marker = tmp_path / "evaluated"
    templated.write_text(f'__use_yte__: true\nimage_size: ?__import__("pathlib").Path("{marker}").touch() or 16\n')
    result = snakemake(tmp_path, TINY, "-n", "--configfile", str(templated), check=False)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"config error: {templated} sets __use_yte__") and "docs/trust.md" in lines[0]
    assert marker.exists()


def test_a_rehearsal_reads_the_first_images_scales_table_2_and_writes_apart():
    from ganprint.config_checks import read_config
    from ganprint.rehearsal import rehearsed, subset_difference

    configs = [REPO / "workflow/configs/celeba.yaml", REPO / "workflow/configs/rehearsal.yaml"]
    config, paper = read_config(configs), read_config(configs[:1])
    assert config["datasets"]["celeba"]["count"] == 400 and config["image_size"] == 128
    assert config["pathvars"]["results"] == "results/celeba/rehearsal"
    assert rehearsed(paper) == paper  # a real run is left as it is
    assert [subset_difference(i, config) for i in (0, 1, 10, 1000, 20000, 100000)] == [0, 1, 1, 2, 40, 200]
    # what decides the code paths stays the paper config's
    for keys in (("sampling", "export"), ("gan", "deterministic"), ("gan", "sngan", "real_scaling"),
                 ("baselines", "prnu", "estimator"), ("baselines", "prnu", "chain"), ("datasets", "celeba", "crop"),
                 ("experiments",), ("attacks", "names")):
        rehearsal_value, paper_value = config, paper
        for key in keys:
            rehearsal_value, paper_value = rehearsal_value[key], paper_value[key]
        assert rehearsal_value == paper_value, keys
    assert subset_difference(100000, paper) == 100000 and paper["datasets"]["celeba"]["count"] == 200000
    lsun = read_config([REPO / "workflow/configs/lsun.yaml", configs[1]])
    assert set(lsun["datasets"]) == {"lsun"} and lsun["datasets"]["lsun"]["count"] == 400
    assert lsun["pathvars"]["results"] == "results/lsun/rehearsal" and "table2" not in lsun["experiments"]


@pytest.mark.slow
def test_the_rehearsal_plans_the_whole_celeba_run_on_400_images(tmp_path):
    config = paper_config("celeba", tmp_path)
    rehearsal = yaml.safe_load((REPO / "workflow/configs/rehearsal.yaml").read_text())
    (tmp_path / "rehearsal.yaml").write_text(yaml.safe_dump(rehearsal))
    (tmp_path / "celeba.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "-p",
                             "--configfile", "celeba.yaml", "rehearsal.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert jobs["train_gan"] == 26 and jobs["real_subset"] == 11 and jobs["experiment_table"] == 4
    assert "--count 400 " in result.stdout and "--difference 200 " in result.stdout  # real_subset_diff_#100000
    assert "results/celeba/rehearsal/table2.csv" in result.stdout and "results/celeba/table" not in result.stdout
