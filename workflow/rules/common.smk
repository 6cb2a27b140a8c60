# Helpers shared by the rules: paths of sources, experiments and settings passed as params.
import json
import re
import shlex
from pathlib import Path

from ganprint import GanprintError
from ganprint.cluster import chained_retries, check_requests, job_request, job_resources, sinfo_partitions
from ganprint.config_checks import experiment_preprocessing as preprocessing_of_experiment, folder_source_count
from ganprint.rehearsal import results_folder, subset_difference
from ganprint.names import (
    ATTACKS,
    BASELINE_SHARED_SETTINGS,
    METHODS,
    NETWORK_PATTERN,
    VISNET,
    WITHOUT_TRAINING,
    HIGH_BAND_INPUTS,
    canonical_network,
    highest_switch,
    network_method,
    parse_network,
)
from ganprint.sources import (
    INSTANCE_NAME,
    TRAINED_INSTANCE_NAME,
    is_gan,
    is_real,
    parse_instance,
    same_seed_twins,
    sampling_seed,
    held_out_experiment,
    snapshot_experiment,
    snapshot_source,
    split_held_out_experiment,
    split_snapshot_experiment,
    wildcard_pattern,
)

# The software environment of every job with `--sdm conda` (a path relative to this file)
# holds the package's dependencies. The package itself is this checkout's (PACKAGE_PARENT,
# set by the Snakefile), in every job and with or without conda, so that the workflow and
# the code it runs are one version.
ENVIRONMENT = "../../envs/ganprint.yaml"
# Every job's CPU kernels are pinned to one instruction-set level (ganprint.cpu_kernels).
CPU_ISA = config["cpu_isa"]
shell.prefix("export GANPRINT_CPU_ISA={CPU_ISA}; export PYTHONPATH={PACKAGE_PARENT:q}${{PYTHONPATH:+:$PYTHONPATH}}; ")


def cluster_resources(**request):
    """A rule's resources (what its stage needs at paper scale), capped and placed by the
    `cluster` settings."""
    return job_resources(config["cluster"], **request)


def training_retries(runtime):
    """Retries of a training that outlasts `cluster.max_runtime`: the jobs of its chain."""
    return chained_retries(config["cluster"], runtime)


def check_cluster_requests(jobs):
    """Before submitting to SLURM: name every rule whose request no node of its partition holds."""
    if workflow.executor_plugin is None or workflow.executor_plugin.name != "slurm":
        return
    requests = [job_request(job.rule.name, job.threads, job.resources) for job in jobs if not job.is_local]
    check_requests(requests, sinfo_partitions())


def experiment_sources(experiment):
    """The experiment's sources; for `{experiment}_at{fraction}`, its GANs' snapshots; for
    `{experiment}_without_{source}`, all but that source."""
    experiment, held_out = split_held_out_experiment(experiment)
    configured, fraction = split_snapshot_experiment(experiment)
    if configured not in config["experiments"]:
        raise GanprintError(f"experiments.{configured} is not in the config")
    sources = [s for s in config["experiments"][configured]["sources"] if s != held_out]
    return sources if fraction == 1.0 else [snapshot_source(s, fraction) for s in sources]


def held_out_test_images(wildcards):
    """The test images of the source held out of a `{experiment}_without_{source}`."""
    held_out = split_held_out_experiment(wildcards.experiment)[1]
    return [source_images(wildcards.dataset, held_out, "test")] if held_out else []


def open_set_metrics():
    """The metrics of the open-set experiment's classifiers, each without one of its sources."""
    experiment = config["open_set"]["experiment"]
    if len(experiment_sources(experiment)) < 3:
        raise GanprintError(f"open_set.experiment: {experiment} has fewer than 3 sources, so holding one out "
                            "leaves no classifier")
    return [
        f"<results>/attribution/{dataset}/{held_out_experiment(experiment, source)}/full/metrics.json"
        for dataset in config["datasets"]
        for source in experiment_sources(experiment)
    ]


def open_set_flags(wildcards, input, output):
    """evaluate's open-set options: validation images and the calibration they write, with the
    `open_set` block, and the held-out source's test images (where the rule has them)."""
    if not input.get("val"):
        return ""
    settings = block_settings("open_set", leave_out=["experiment"])
    unknown = " ".join(["--unknown", *map(shlex.quote, input.unknown)]) if input.get("unknown") else ""
    return (f"--validation {' '.join(map(shlex.quote, input.val))} --open-set {shlex.quote(settings)}"
            f" --calibration {shlex.quote(output.calibration)} {unknown}")


FOLDER_SOURCES = sorted(config["folder_sources"])


def source_images(dataset, source, split):
    return f"<results>/sources/{dataset}/{source}/{split}.npy"


def experiment_images(split, experiment=None):
    """Input function: the split's image array of every source of the experiment
    (the `experiment` wildcard unless one is named)."""

    def images(wildcards):
        sources = experiment_sources(experiment or wildcards.experiment)
        return [source_images(wildcards.dataset, s, split) for s in sources]

    return images


def gan_settings(wildcards):
    """The architecture's settings as JSON; the instance name only picks arch, data and seed."""
    arch = parse_instance(wildcards.instance).arch
    return json.dumps({**config["gan"][arch], "resolution": config["image_size"]}, sort_keys=True)


def gan_training_flags(wildcards):
    """--snapshot flags for the GANs of the training-length experiment (their snapshots are
    sampled), and --nondeterministic where gan.deterministic leaves the instance free or the
    instance is a `_noisy<k>` run."""
    flags = []
    experiment = config["training_length"]["experiment"]
    if experiment in config["experiments"] and wildcards.instance in experiment_sources(experiment):
        flags += [f"--snapshot {fraction}" for fraction in config["training_length"]["fractions"]]
    free = config["gan"]["deterministic"] == "twins" and wildcards.instance not in TWINS
    if free or parse_instance(wildcards.instance).noisy:
        flags.append("--nondeterministic")
    return " ".join(flags)


def gan_training_threads(wildcards):
    """The threads of a GAN training: gan.threads; for a `_noisy<k>` run another count (one
    fewer, two instead of one), whose parallel reductions add in another order: its twin up
    to numeric noise on a CPU, never more threads than the other trainings ask for (but one)."""
    threads = config["gan"]["threads"]
    if not parse_instance(wildcards.instance).noisy:
        return threads
    return threads - 1 if threads > 1 else 2


def generator_checkpoint(wildcards):
    """The trained instance's checkpoint (which also holds its snapshots)."""
    return f"<results>/gans/{wildcards.dataset}/{parse_instance(wildcards.instance).base}/generator.pt"


def gan_training_subset(wildcards):
    difference = parse_instance(wildcards.instance).subset_difference
    if difference is None:
        return []
    return f"<results>/real/{wildcards.dataset}/subsets/diff{difference}.npy"


def dataset_setting(key):
    return lambda wildcards: config["datasets"][wildcards.dataset][key]


def first_dataset():
    return next(iter(config["datasets"]))


def method_metrics(dataset, experiment, method):
    networks = {network_method(network): network for network in ("full", VISNET)}
    if method in networks:
        return f"<results>/attribution/{dataset}/{experiment}/{networks[method]}/metrics.json"
    return f"<results>/baselines/{dataset}/{experiment}/{method}.json"


VISNET_EXPERIMENT = config["visnet"]["experiment"]


def experiment_methods(experiment):
    """The configured baselines, then ours (and ours_visnet on visNet's experiment)."""
    visnet = [network_method(VISNET)] if experiment == VISNET_EXPERIMENT else []
    return [*config["baselines"]["methods"], "ours", *visnet]


def experiment_metrics(experiments, datasets=None):
    """Metrics files of every method on the experiments."""
    return [
        method_metrics(dataset, experiment, method)
        for experiment in experiments
        for dataset in (datasets or config["datasets"])
        for method in experiment_methods(experiment)
    ]


def baseline_training_images(wildcards, experiment=None):
    if wildcards.method in WITHOUT_TRAINING:
        return []
    return experiment_images("train", experiment)(wildcards)


def block_settings(block, leave_out=(), **replaced):
    """A config block as JSON for a stage's --settings: without the keys the stage does not
    use (which must not make it rerun), with some keys replaced."""
    settings = {key: value for key, value in config[block].items() if key not in leave_out}
    return json.dumps({**settings, **replaced}, sort_keys=True)


def training_settings(**replaced):
    """The `attribution` block as train-attribution takes it: without eval_batch, which only
    evaluation reads (and which does not change results)."""
    return block_settings("attribution", leave_out=["eval_batch"], **replaced)


def preprocessing_flag(experiment=None, native_only=False):
    """Input function: the --preprocessing of train-attribution and baseline, how the images of
    the experiment (the `experiment` wildcard unless one is named) were made from their files
    (native patches or resizing); with `native_only`, only where it is native patches."""

    def flag(wildcards):
        sources = experiment_sources(experiment or wildcards.experiment)
        preprocessing = preprocessing_of_experiment(config, wildcards.dataset, sources)
        if native_only and not preprocessing.native:
            return ""
        return optional_flag("--preprocessing", json.dumps(preprocessing.record(), sort_keys=True))

    return flag


def network_training_settings(wildcards):
    """train-attribution's --settings: the attribution block, for visNet without the keys that
    its own block replaces (which must not make it rerun)."""
    if wildcards.network != VISNET:
        return training_settings()
    replaced = config["visnet"].keys() & config["attribution"].keys()
    return block_settings("attribution", leave_out=["eval_batch", *sorted(replaced)])


def visnet_flag(wildcards):
    """train-attribution's --visnet settings (the `visnet` block) where the network is visNet."""
    if wildcards.network != VISNET:
        return ""
    return optional_flag("--visnet", block_settings("visnet", leave_out=["experiment"]))


def high_band_flag(wildcards):
    """train-attribution's --high-band-input (components.high_band_input) where the network is
    a high band, so that changing it retrains only those."""
    if parse_network(wildcards.network)[0] != "high_band":
        return ""
    return optional_flag("--high-band-input", config["components"]["high_band_input"])


def optional_flag(flag, value):
    """'--flag value', or nothing when the value is empty."""
    return f"{flag} {shlex.quote(str(value))}" if value else ""


def baseline_settings(method):
    """The method's settings as JSON: its block of `baselines`, the validation fraction and,
    for the methods with a linear classifier, that classifier's settings."""
    baselines = config["baselines"]
    settings = {**baselines.get(method, {})}
    settings.update({key: baselines[key] for key in BASELINE_SHARED_SETTINGS[method]})
    return json.dumps(settings, sort_keys=True)


def component_resolutions():
    """Switching resolutions of the component analysis: configured, or the image size down to 4."""
    size = config["image_size"]
    return config["components"]["resolutions"] or [size >> i for i in range(size.bit_length()) if size >> i >= 4]


def component_networks(kind):
    """Table 4 (bands): low band at every r, high band where the band 2r exists; Table 5
    (patches): post-pooling at every r."""
    resolutions = component_resolutions()
    if kind == "patches":
        return [f"patch{r}" for r in resolutions]
    highest_band = highest_switch("high_band", config["image_size"])
    return [f"low{r}" for r in resolutions] + [f"high{r}" for r in resolutions if r <= highest_band]


def component_inputs(kind):
    """Per data set, the metrics file of each network of the table and the names they stand for."""
    experiment = config["components"]["experiment"]
    names = [name for _ in config["datasets"] for name in component_networks(kind)]
    paths = [
        f"<results>/attribution/{dataset}/{experiment}/{canonical_network(name, config['image_size'])}/metrics.json"
        for dataset in config["datasets"]
        for name in component_networks(kind)
    ]
    return paths, names


ARTIFACT_FREE_EXPERIMENT = config["artifact_free"]["experiment"]


def artifact_free_gans():
    return [s for s in config["experiments"].get(ARTIFACT_FREE_EXPERIMENT, {}).get("sources", []) if not is_real(s)]


def artifact_free_selection(dataset, source):
    return f"<results>/artifact_free/{dataset}/{source}/selection.npz"


def artifact_free_test_images(wildcards):
    """The experiment's test sets with each GAN's reduced to its artifact-free subset."""
    return [
        source_images(wildcards.dataset, s, "test") if is_real(s) else f"<results>/artifact_free/{wildcards.dataset}/{s}/test.npy"
        for s in experiment_sources(ARTIFACT_FREE_EXPERIMENT)
    ]


def artifact_free_metrics():
    methods = [*config["baselines"]["methods"], "ours"]
    return [f"<results>/artifact_free/{d}/metrics/{m}.json" for d in config["datasets"] for m in methods]


ATTACK_EXPERIMENT = config["attacks"]["experiment"]
# The attack tables this config has: the i-th data set fills attacks.table_numbers[i].
ATTACK_TABLE_NUMBERS = [str(n) for n in config["attacks"]["table_numbers"][: len(config["datasets"])]]


def attack_settings(attack):
    """The attacks' parameter ranges as JSON, and the combination's steps for the combination
    (the attack name is passed on its own)."""
    keys = ["noise_std", "blur_sizes", "crop_fraction", "jpeg_quality", "relight_strength", "relight_model", "probability"]
    if attack == "combination":
        keys.append("combination_steps")
    return json.dumps({key: config["attacks"][key] for key in keys}, sort_keys=True)


def attacked_images(split):
    def images(wildcards):
        return [
            f"<results>/attacks/{wildcards.dataset}/{wildcards.attack}/{s}/{split}.npy"
            for s in experiment_sources(ATTACK_EXPERIMENT)
        ]

    return images


FRESH_DEFENSE = config["attacks"]["defense"]["perturbations"] == "fresh"


def defense_training_images():
    """Input function: the defense's training images, attacked once (fixed perturbations), or
    clean ones that the training attacks afresh at every epoch (fresh)."""
    return experiment_images("train", ATTACK_EXPERIMENT) if FRESH_DEFENSE else attacked_images("train")


def defense_optimiser():
    """The defense's training length, rate and schedule (its other key is the attack's)."""
    return {key: value for key, value in config["attacks"]["defense"].items() if key != "perturbations"}


def defense_attack_flags(wildcards):
    """train-attribution's --attack flags of the defense: with fresh perturbations, the attack
    it draws at every epoch; none with fixed ones."""
    if not FRESH_DEFENSE:
        return ""
    return (f"--attack {wildcards.attack} --attack-settings {shlex.quote(attack_settings(wildcards.attack))}"
            f" --attack-seed {config['attacks']['seed']}")


def attack_metrics(dataset):
    return [
        f"<results>/attacks/{dataset}/{attack}/metrics/{method}_{stage}.json"
        for attack in config["attacks"]["names"]
        for method in ("ours", "prnu")
        for stage in ("akt", "dfs")
    ]


def attack_table_dataset(number):
    """The data set of Table 7 or 8."""
    return list(config["datasets"])[ATTACK_TABLE_NUMBERS.index(number)]


def attack_figure_source():
    """The first GAN source of the attacked experiment (the real class if it has none)."""
    sources = experiment_sources(ATTACK_EXPERIMENT)
    return next((s for s in sources if not is_real(s)), sources[0])


# Each output of the paper and the experiments it needs; `rule all` asks for those whose
# experiments the config defines (the paper ran Table 2 on CelebA only, for example).
# Beyond the paper: real images, GANs and diffusion models (results/beyond_diffusion.csv and
# figures/diffusion_samples_{dataset}.png)
DIFFUSION_EXPERIMENT = "beyond_diffusion"
TABLE_EXPERIMENTS = {
    "table1": ["table1"],
    "table2": ["table2"],
    "table3": ["table3"],
    "sanity_check": ["sanity_same_seed", "sanity_noise", "sanity_diff_seed"],
    "beyond_diffusion": [DIFFUSION_EXPERIMENT],
    "diffusion_seeds": ["diffusion_same_seed", "diffusion_diff_seed"],
}
# Tables with a column per source (the sanity-style pairs' comparisons have different sources).
PER_SOURCE_TABLES = ("table1", "table2", "table3", "beyond_diffusion")
COMPONENT_TABLES = {"4": "bands", "5": "patches"}
TABLE_OF_COMPONENTS = {kind: number for number, kind in COMPONENT_TABLES.items()}
# How Table 4's high band entered its networks, as its page and figure titles say it.
HIGH_BAND_ARRANGEMENT = HIGH_BAND_INPUTS[config["components"]["high_band_input"]]
TABLE4_TITLE = f"Table 4: frequency bands, {HIGH_BAND_ARRANGEMENT}"
COMPONENT_FIGURE_TITLES = {
    "bands": f"Component analysis, bands, {HIGH_BAND_ARRANGEMENT}",
    "patches": "Component analysis, patches",
}


def table_experiments(table):
    """The experiments of one of TABLE_EXPERIMENTS' tables that the config defines."""
    return [e for e in TABLE_EXPERIMENTS[table] if e in config["experiments"]]


def table_metrics(table):
    """Metrics files of one of TABLE_EXPERIMENTS' tables (Table 2: first data set only)."""
    experiments = table_experiments(table)
    if not experiments:
        raise GanprintError(f"{table}.csv needs one of the experiments {', '.join(TABLE_EXPERIMENTS[table])}, "
                            "and the config defines none of them")
    datasets = [first_dataset()] if table == "table2" else None
    return experiment_metrics(experiments, datasets)


# The title of each table's page in the report.
TABLE_TITLES = {
    "table1": "Table 1: real images and one instance of each GAN architecture",
    "table2": "Table 2: ProGANs trained on real_subset_diff_#i",
    "table3": "Table 3: ProGAN instances differing only in their seed",
    "sanity_check": "Sanity check: same-seed twins, twins up to numeric noise, and different seeds",
    "beyond_diffusion": "Beyond the paper: real images, GANs and diffusion models",
    "diffusion_seeds": "Beyond the paper: diffusion models, same-seed twins and different seeds",
    "table4": TABLE4_TITLE,
    "table5": "Table 5: patch sizes",
    "table6": "Table 6: the artifact-free subset",
    "table7": "Table 7: attacks and defense",
    "table8": "Table 8: attacks and defense",
    "training_length": "Attribution against GAN training length",
    "open_set": "Open-set attribution: each source held out of the classifier in turn",
    "robustness": "Attribution of degraded test images, no retraining",
}


def training_length_experiments():
    """The training-length experiment at each snapshot fraction, then at the end of the runs."""
    experiment = config["training_length"]["experiment"]
    fractions = config["training_length"]["fractions"]
    if experiment not in config["experiments"] or not fractions:
        return []
    if not any(map(is_gan, config["experiments"][experiment]["sources"])):
        return []
    return [snapshot_experiment(experiment, f) for f in sorted(fractions)] + [experiment]


def training_length_metrics():
    """Metrics of ours and of the configured baselines, on each training length."""
    methods = [m for m in config["baselines"]["methods"] if m in config["training_length"]["methods"]]
    return [
        method_metrics(dataset, experiment, method)
        for experiment in training_length_experiments()
        for dataset in config["datasets"]
        for method in [*methods, "ours"]
    ]


def images_per_run():
    """Real images shown in a whole run of the training-length experiment's first GAN."""
    gans = [s for s in experiment_sources(config["training_length"]["experiment"]) if is_gan(s)]
    return config["gan"][parse_instance(gans[0]).arch]["total_images"]


def folder_source_setting(key):
    return lambda wildcards: config["folder_sources"][wildcards.folder][key]


def pipeline_images_folder(folder):
    """Where the images of a folder source made by a diffusers pipeline are written."""
    return f"{results_folder(config)}/pipelines/{folder}"


def pipeline_made_images(wildcards):
    """prepare-real's input: the folder a pipeline makes, for a folder source that has one."""
    return [pipeline_images_folder(wildcards.folder)] if config["folder_sources"][wildcards.folder].get("pipeline") else []


def folder_source_paths(wildcards):
    """prepare-real's --path: the folder source's folder or folders."""
    path = pipeline_made_images(wildcards) or config["folder_sources"][wildcards.folder]["path"]
    return "--path " + " ".join(shlex.quote(p) for p in ([path] if isinstance(path, str) else path))


def pipeline_flags(wildcards):
    """generate-pipeline's options from folder_sources.<name>.pipeline."""
    pipeline = config["folder_sources"][wildcards.folder]["pipeline"]
    flags = [f"--pipeline {shlex.quote(pipeline['path'])}", f"--steps {pipeline['steps']}", f"--seed {pipeline['seed']}",
             f"--batch {pipeline['batch']}", f"--count {folder_source_count(config, wildcards.folder)}"]
    if pipeline["prompts"]:
        flags.append("--prompts " + " ".join(map(shlex.quote, pipeline["prompts"])))
    if pipeline["prompts_file"]:
        flags.append(f"--prompts-file {shlex.quote(pipeline['prompts_file'])}")
    if pipeline["guidance"] is not None:
        flags.append(f"--guidance {pipeline['guidance']}")
    return " ".join(flags)


def native_window_flags(wildcards):
    """prepare-real's --window and --align for a folder source read at native resolution."""
    if config["folder_sources"][wildcards.folder]["crop"] != "native":
        return ""
    return f"--window {config['patches']['window']} --align {config['patches']['align']}"


def reencode_flag(wildcards):
    """prepare-real's --reencode-quality where the config re-encodes folder sources."""
    return f"--reencode-quality {config['reencode']['quality']}" if config["reencode"] else ""


def format_check_input(wildcards):
    """The format comparison of an experiment's folder sources (its configured experiment's),
    where it has two or more."""
    configured = split_snapshot_experiment(split_held_out_experiment(wildcards.experiment)[0])[0]
    folders = [s for s in config["experiments"][configured]["sources"] if s in FOLDER_SOURCES]
    return [f"<results>/formats/{configured}.csv"] if len(folders) >= 2 else []


def folder_source_images(wildcards):
    """Images read from a folder source: its count, or what the split takes."""
    return folder_source_count(config, wildcards.folder)


def configured_outputs():
    tables = [
        f"<results>/{table}.csv"
        for table in TABLE_EXPERIMENTS
        if table_experiments(table)
    ]
    figures = []
    if "table1" in config["experiments"]:
        figures = [f"<results>/figures/samples_{dataset}.png" for dataset in config["datasets"]]
    if DIFFUSION_EXPERIMENT in config["experiments"]:
        figures += [f"<results>/figures/diffusion_samples_{dataset}.png" for dataset in config["datasets"]]
    if ATTACK_EXPERIMENT in config["experiments"] and config["attacks"]["names"]:
        tables += [f"<results>/table{n}.csv" for n in ATTACK_TABLE_NUMBERS]
        figures += [f"<results>/figures/attacks_{dataset}.png" for dataset in config["datasets"]]
    if ARTIFACT_FREE_EXPERIMENT in config["experiments"]:
        tables.append("<results>/table6.csv")
        figures += [f"<results>/figures/selection_{dataset}.png" for dataset in config["datasets"]]
    if config["components"]["experiment"] in config["experiments"]:
        tables += ["<results>/table4.csv", "<results>/table5.csv"]
        figures += ["<results>/figures/components_bands.png", "<results>/figures/components_patches.png"]
    if VISNET_EXPERIMENT in config["experiments"]:
        figures += [f"<results>/figures/fingerprints_{dataset}.png" for dataset in config["datasets"]]
    if "table1" in config["experiments"]:
        figures += [f"<results>/figures/fingerprint_map_{dataset}.png" for dataset in config["datasets"]]
    if training_length_experiments():
        tables.append("<results>/training_length.csv")
        figures += [f"<results>/figures/training_length_{dataset}.png" for dataset in config["datasets"]]
    if len(config["experiments"].get(config["open_set"]["experiment"], {}).get("sources", [])) >= 3:
        tables.append("<results>/open_set.csv")
    if config["robustness"]["experiment"] in config["experiments"]:
        tables.append("<results>/robustness.csv")
        figures += [f"<results>/figures/robustness_{dataset}.png" for dataset in config["datasets"]]
    pages = [f"<results>/report/{Path(table).stem}.html" for table in tables]
    return tables + pages + figures


# GAN instances that must train bit-identically (gan.deterministic: twins).
TWINS = same_seed_twins(name for spec in config["experiments"].values() for name in spec["sources"])


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9-]*",
    instance=wildcard_pattern(INSTANCE_NAME),
    folder="|".join(map(re.escape, FOLDER_SOURCES)) or "(?!)",
    source=r"[a-z][a-z0-9_.-]*",
    experiment=r"[A-Za-z0-9_.-]+",
    difference=r"\d+",
    method="|".join(METHODS),
    network=NETWORK_PATTERN,
    attack="|".join(ATTACKS),
    stage="akt|dfs",
    split="train|test|val",
