"""What a config's run costs: the rates of its heavy stages measured on a device with the
config's own settings, the jobs Snakemake plans for each table, and each job's device time
and disk. `ganprint preflight` and benchmarks/paper_scale.py print them.

A job is charged its work over the measured rate: a GAN's training run, the images each
source samples, the attribution networks' epochs (the component variants, visNet and the
defense at the classifier's rate), the PRNU chain's images, the kNN pairs. Jobs of other
rules are counted, not charged (figures, tables, attacks on the CPU, the LPIPS search and
the artifact-free evaluations, Eigenface, DCT, robustness). Everything runs one job at a
time on one device."""

import dataclasses
import json
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

from .attribution.optimiser import OptimiserSettings
from .config_checks import data_path_found, data_paths, folder_source_count
from .names import VISNET
from .rehearsal import results_folder
from .sources import is_gan, parse_instance, split_held_out_experiment, split_snapshot_experiment

REPO = Path(__file__).resolve().parents[2]
TABLES = [f"table{number}" for number in range(1, 9)]
STAGES = ("GAN training", "sampling", "attribution networks", "attribution inference", "PRNU", "kNN")
ARCHS = ("progan", "sngan", "cramergan", "mmdgan")
PIXEL_BYTES = 3  # uint8 RGB arrays


# Rates on a device.

def timed(function, repeats: int, device) -> float:
    """Seconds per call of `function` after one warm-up call."""
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def progan_step(trainer, level: int, device):
    """A training step in the stable phase at the level-th resolution, and its batch size."""
    settings = trainer.settings
    shown = 2 * level * settings.images_per_phase
    batch = settings.batch_sizes[settings.resolutions()[level]]
    real = torch.rand(batch, 3, settings.resolution, settings.resolution, device=device) * 2 - 1
    step = lambda: trainer.step(shown, lambda n: real[:n], lambda n: torch.randn(n, settings.latent_dim, device=device),  # noqa: E731
                                lambda n: torch.rand(n, device=device))
    return step, batch


def progan_seconds_per_image(settings, device, steps: int) -> dict:
    """Seconds per real image of a stable-phase training step at each resolution."""
    from .gans.progan import ProGANTrainer

    trainer = ProGANTrainer(settings, device)
    seconds_per_image = {}
    for level, resolution in enumerate(settings.resolutions()):
        step, batch = progan_step(trainer, level, device)
        seconds_per_image[resolution] = timed(step, steps, device) / batch
    return seconds_per_image


def schedule_seconds(settings, seconds_per_image: dict) -> float:
    """Seconds of a whole ProGAN schedule at the given per-resolution costs."""
    total, shown, chunk = 0.0, 0, 10_000
    while shown < settings.total_images:
        resolution, _ = settings.schedule(shown)
        total += chunk * seconds_per_image[resolution]
        shown += chunk
    return total


def training_rate(arch: str, values: dict, device, steps: int):
    """Real images per second of one training step (for SNGAN, CramerGAN and MMDGAN its critic
    steps and one generator step) with the given settings, and the settings."""
    from .gans import make_trainer

    trainer = make_trainer(arch, values, device)
    settings = trainer.settings
    size = settings.resolution
    real = torch.rand(settings.batch_size, 3, size, size, device=device) * 2 - 1
    drawn = []

    def step():
        trainer.step(0, lambda n: drawn.append(n) or real[:n], lambda n: torch.randn(n, trainer.latent_dim, device=device),
                     lambda n: torch.rand(n, device=device))

    seconds = timed(step, steps, device)
    return sum(drawn) / (steps + 1) / seconds, settings


def gan_run_seconds(config: dict, device, steps: int, archs) -> dict:
    """Seconds of one training run of each architecture with the config's settings."""
    from .gans import make_settings

    size, seconds = config["image_size"], {}
    for arch in archs:
        values = {**config["gan"][arch], "resolution": size}
        if arch == "progan":
            progan = make_settings("progan", values)
            seconds[arch] = schedule_seconds(progan, progan_seconds_per_image(progan, device, steps))
        else:
            rate, settings = training_rate(arch, values, device, steps)
            seconds[arch] = settings.total_images / rate
    return seconds


def planned_architectures(config: dict) -> list[str]:
    """The architectures of the generators the config's experiments name, in gans.ARCHITECTURES order."""
    from .gans import ARCHITECTURES

    named = {parse_instance(source).arch for experiment in config["experiments"].values()
             for source in experiment["sources"] if is_gan(source)}
    return [arch for arch in ARCHITECTURES if arch in named]


def sampling_rates(config: dict, device, steps: int, archs) -> dict:
    """Generated images per second of each architecture's generator (fp32, batch 256)."""
    from . import runtime
    from .gans import make_trainer
    from .gans.latents import draw_latents

    rates = {}
    for arch in archs:
        trainer = make_trainer(arch, {**config["gan"][arch], "resolution": config["image_size"]}, device)
        generator = trainer.final_generator.eval()
        latents = draw_latents(trainer.latent_distribution, 256, trainer.latent_dim, runtime.generator(0)).to(device)
        rates[arch] = 256 / timed(torch.no_grad()(lambda: generator(latents)), steps, device)
    return rates


def attribution_rates(config: dict, n_classes: int, device, steps: int) -> tuple[float, float]:
    """Training and inference images per second of the attribution network (fp32)."""
    from .attribution.network import AttributionNetwork, AttributionSettings

    size, settings = config["image_size"], config["attribution"]
    network = AttributionNetwork(AttributionSettings(resolution=size, n_classes=n_classes, fmap_base=settings["fmap_base"],
                                                     fmap_max=settings["fmap_max"])).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3, betas=(0.0, 0.99))
    batch = settings["batch_size"]
    images = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    labels = torch.randint(0, n_classes, (batch,), device=device)

    def train_step():
        loss = torch.nn.functional.cross_entropy(network(images), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    inputs = torch.rand(256, 3, size, size, device=device) * 2 - 1
    return batch / timed(train_step, steps, device), 256 / timed(torch.no_grad()(lambda: network(inputs)), steps, device)


def random_images(rng, count: int, resolution: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, resolution, resolution, 3), dtype=np.uint8)


def knn_attribution(references, reference_labels, queries, k: int, n_classes: int, device):
    """kNN votes of `queries` among `references` (uint8 arrays), as the baseline searches."""
    from .baselines import knn
    from .baselines.inputs import pixel_vectors

    neighbours = knn.neighbour_labels(lambda p: pixel_vectors(queries[p], device), len(queries),
                                      lambda p: pixel_vectors(references[p], device), reference_labels, k)
    return knn.vote(neighbours, k, n_classes)


def prnu_attribution(images, fingerprints, device):
    """The PRNU chain's attribution of uint8 images by their correlation with `fingerprints`."""
    from .baselines import prnu

    return prnu.correlations(prnu.noise_residuals(images, device=device), fingerprints).argmax(1)


def knn_pair_rate(resolution: int, n_references: int, n_queries: int, device, n_classes: int = 5) -> float:
    """Image pairs compared per second by the kNN search."""
    rng = np.random.default_rng(0)
    references, queries = random_images(rng, n_references, resolution), random_images(rng, n_queries, resolution)
    labels = rng.integers(0, n_classes, size=n_references)
    seconds = timed(lambda: knn_attribution(references, labels, queries, 5, n_classes, device), 1, device)
    return n_queries * n_references / seconds


def prnu_rate(resolution: int, n_images: int, device, batch: int = 256, n_classes: int = 5) -> float:
    """Images per second through the PRNU chain, `batch` at a time."""
    images = random_images(np.random.default_rng(1), n_images, resolution)
    fingerprints = torch.randn(n_classes, resolution, resolution, device=device)

    def chain():
        for start in range(0, n_images, batch):
            prnu_attribution(images[start:start + batch], fingerprints, device)

    return n_images / timed(chain, 1, device)


@dataclasses.dataclass
class Rates:
    """Measured rates of one device with one config's settings."""
    gan_seconds: dict  # arch -> seconds of one training run
    sampling: dict  # arch -> images per second
    attribution_train: float  # images per second
    attribution_inference: float
    prnu: float | None  # None: not measured on this device, PRNU jobs not charged
    knn_pairs: float

    @classmethod
    def measure(cls, config: dict, device, quick: bool = False) -> "Rates":
        steps = 2 if quick else (20 if device.type == "cuda" else 3)
        n_classes = max(len(experiment["sources"]) for experiment in config["experiments"].values())
        train, inference = attribution_rates(config, n_classes, device, steps)
        size = config["image_size"]
        archs = planned_architectures(config)
        return cls(gan_seconds=gan_run_seconds(config, device, steps, archs),
                   sampling=sampling_rates(config, device, steps, archs),
                   attribution_train=train, attribution_inference=inference,
                   prnu=prnu_rate(size, 256 if quick else 1024, device),
                   knn_pairs=knn_pair_rate(size, 4096 if quick else 20000, 256 if quick else 1000, device))


# The jobs of a run.

@dataclasses.dataclass
class Job:
    rule: str
    wildcards: dict
    inputs: list
    outputs: list
    threads: int = 1
    resources: dict = dataclasses.field(default_factory=dict)
    local: bool = False


def stand_in_folders(config: dict, folder: Path) -> dict:
    """--config overrides that point each data set and folder source whose images are not on
    this machine at an empty `folder`: planning a run needs the folders, not the images."""
    missing = {}
    for key, kind, path in data_paths(config):
        if not data_path_found(kind, path):
            section, name, _ = key.split(".")
            missing.setdefault(section, {})[name] = {"path": str(folder)}
    return missing


def config_entries(overrides: dict) -> list[str]:
    """KEY=VALUE entries of Snakemake's --config that give these overrides."""
    return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]


def config_options(entries: list[str]) -> list[str]:
    """Snakemake's --config option of these entries (nothing when there are none)."""
    return ["--config", *entries] if entries else []


def plan(config: dict, configfiles: list[str], entries: list[str] = (), options: list[str] = (),
         workdir: Path | str = ".") -> list["Job"]:
    """The jobs of a from-scratch run of the config (files and --config entries as the user
    gives them), its missing data folders stood in for by an empty one."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ganprint-plan-") as stand_in:
        stand_ins = config_entries(stand_in_folders(config, Path(stand_in)))
        files = [str(Path(path).resolve()) for path in configfiles]
        return planned_jobs(files, config_options([*entries, *stand_ins]) + list(options), workdir=workdir)


def planned_jobs(configfiles: list[str], options: list[str] = (), target: str | None = None,
                 workdir: Path | str = ".", keep_all: bool = False) -> list[Job]:
    """Every job of a from-scratch run of `target` (default: everything), as a dry run plans
    it; the `all` rule's job (which does nothing but need the outputs) only with keep_all."""
    # --nolock and --rerun-incomplete: a plan may be made beside a run in progress
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--rerun-incomplete",
               "--snakefile", str(REPO / "Snakefile"),
               *([target] if target else []), "--configfile", *configfiles, *options]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake -n failed:\n{(result.stderr + result.stdout)[-2000:]}")
    jobs = parse_dry_run(result.stdout)
    return jobs if keep_all else [job for job in jobs if job.rule != "all"]


def parse_dry_run(text: str) -> list[Job]:
    jobs = []
    for line in text.splitlines():
        if match := re.match(r"(local)?rule (\w+):$", line):
            jobs.append(Job(match.group(2), {}, [], [], local=bool(match.group(1))))
        elif jobs and (match := re.match(r"\s+(input|output|wildcards|threads|resources): (.*)", line)):
            field, value = match.groups()
            if field in ("wildcards", "resources"):
                pairs = (pair.split("=", 1) for pair in value.split(", "))
                numbers = field == "resources"  # runtime, mem_mb, gpu: as SLURM is asked for them
                setattr(jobs[-1], field, {key: int(text) if numbers and text.isdigit() else text for key, text in pairs})
            elif field == "threads":
                jobs[-1].threads = int(value)
            else:
                getattr(jobs[-1], f"{field}s").extend(value.split(", "))
    return jobs


def needed_by(jobs: list[Job], target: str) -> list[Job] | None:
    """The jobs that `target` (an output path) needs, itself included; None when no job makes it."""
    producer = {output: index for index, job in enumerate(jobs) for output in job.outputs}
    if target not in producer:
        return None
    needed, stack = set(), [producer[target]]
    while stack:
        index = stack.pop()
        if index not in needed:
            needed.add(index)
            stack.extend(producer[path] for path in jobs[index].inputs if path in producer)
    return [jobs[index] for index in sorted(needed)]


# What each job costs.

def sources_of(config: dict, experiment: str) -> list[str]:
    """The sources of an experiment's job: a held-out experiment's without the one held out."""
    experiment, held_out = split_held_out_experiment(experiment)
    base = split_snapshot_experiment(experiment)[0]
    return [s for s in config["experiments"].get(base, {"sources": []})["sources"] if s != held_out]


def training_optimiser(config: dict, rule: str, network: str | None) -> OptimiserSettings:
    """The optimiser settings a classifier, visNet or defense training job runs with."""
    block = dict(config["attribution"])
    if rule == "train_defense":
        block.update(config["attacks"]["defense"], total_images=None)
    elif network == VISNET:
        block.update({key: value for key, value in config["visnet"].items() if key in block})
    return OptimiserSettings(**{field.name: block[field.name] for field in dataclasses.fields(OptimiserSettings)})


def job_seconds(job: Job, config: dict, rates: Rates) -> tuple[str, float] | None:
    """(stage, device seconds) of a job, or None for a job not charged."""
    rule, wildcards, split = job.rule, job.wildcards, config["split"]
    # the attack jobs (defense, attacked test images) have no experiment wildcard: theirs is attacks.experiment
    n_sources = len(sources_of(config, wildcards.get("experiment", config["attacks"]["experiment"])))
    if rule in ("train_gan", "sample_gan"):
        arch = wildcards["instance"].split("_")[0]
        if arch not in rates.gan_seconds:
            return None  # an architecture the rates (a rates file) do not hold
        if rule == "train_gan":
            return "GAN training", rates.gan_seconds[arch]
        return "sampling", (split["n_train"] + split["n_test"] + split["n_val"]) / rates.sampling[arch]
    if rule in ("train_attribution", "train_defense"):
        images = n_sources * split["n_train"]
        passes = training_optimiser(config, rule, wildcards.get("network")).epochs_over(images)
        return "attribution networks", passes * images / rates.attribution_train
    if rule in ("evaluate_attribution", "evaluate_attacked"):
        return "attribution inference", n_sources * (split["n_test"] + split["n_val"]) / rates.attribution_inference
    method = "prnu" if rule == "prnu_attacked" else wildcards.get("method")
    if method == "prnu" and rates.prnu is None:
        return None
    if rule in ("evaluate_baseline", "prnu_attacked") and method in ("prnu", "knn"):
        train, test = n_sources * split["n_train"], n_sources * split["n_test"]
        if method == "prnu":
            return "PRNU", (len(config["baselines"]["prnu"]["sigmas"]) * train + test) / rates.prnu
        held_out = config["baselines"]["validation_fraction"] * train
        return "kNN", (test * train + held_out * (train - held_out)) / rates.knn_pairs
    return None


def hours_by_stage(jobs: list[Job], config: dict, rates: Rates) -> tuple[dict, Counter]:
    """Device-hours per stage, and the rules of the jobs not charged."""
    hours, uncharged = defaultdict(float), Counter()
    for job in jobs:
        cost = job_seconds(job, config, rates)
        if cost is None:
            uncharged[job.rule] += 1
        else:
            hours[cost[0]] += cost[1] / 3600
    return dict(hours), uncharged


def image_bytes(config: dict, count: int) -> int:
    return count * config["image_size"] ** 2 * PIXEL_BYTES


def job_bytes(job: Job, config: dict) -> int:
    """Bytes of the image arrays a job writes (the rest - models, metrics, figures - is small
    beside them): the real images and their split, every source's samples, the attacked and
    re-encoded copies, and the artifact-free selection."""
    split = config["split"]
    per_source = split["n_train"] + split["n_test"] + split["n_val"]
    if job.rule == "prepare_real":
        return image_bytes(config, config["datasets"][job.wildcards.get("dataset", next(iter(config["datasets"])))]["count"])
    if job.rule in ("split_real", "sample_gan", "split_folder_source"):
        return image_bytes(config, per_source)
    if job.rule == "prepare_folder_source":
        return image_bytes(config, folder_source_count(config, job.wildcards["folder"]))
    if job.rule == "attack_images":
        return image_bytes(config, len(sources_of(config, config["attacks"]["experiment"])) * split["n_test"])
    if job.rule == "attack_training_images":
        return image_bytes(config, len(sources_of(config, config["attacks"]["experiment"])) * split["n_train"])
    if job.rule == "select_artifact_free":
        return image_bytes(config, round(config["artifact_free"]["fraction"] * split["n_test"]))
    return 0


TEMPORARY_RULES = ("attack_training_images",)  # deleted once the defense and PRNU have read them


def disk_bytes(jobs: list[Job], config: dict) -> tuple[int, int]:
    """Bytes the run keeps, and the most its temporary files add at once (one attack's
    training images per attack job running at the same time: all of them at worst)."""
    kept = sum(job_bytes(job, config) for job in jobs if job.rule not in TEMPORARY_RULES)
    temporary = sum(job_bytes(job, config) for job in jobs if job.rule in TEMPORARY_RULES)
    return kept, temporary


def projection(jobs: list[Job], config: dict, rates: Rates, tables=(*TABLES, "all")) -> list[dict]:
    """Device-hours of each table the plan makes (each with every job it needs, shared ones
    too) and of the whole plan ("all", each job once)."""
    rows = []
    for table in tables:
        needed = jobs if table == "all" else needed_by(jobs, f"{results_folder(config)}/{table}.csv")
        if needed is None:
            continue
        hours, uncharged = hours_by_stage(needed, config, rates)
        rows.append({"table": table, "hours": float(f"{sum(hours.values()):.4g}"),
                     "hours_by_stage": {stage: float(f"{value:.4g}") for stage, value in hours.items()},
                     "dominant": max(hours, key=hours.get) if hours else "", "jobs": len(needed),
                     "jobs_not_charged": dict(uncharged)})
    return rows


def markdown(rows: list[dict], device_name: str) -> str:
    lines = [f"Projected hours on {device_name}, one job at a time:", "",
             "| table | hours | " + " | ".join(STAGES) + " | dominant |",
             "| --- | ---: | " + " | ".join("---:" for _ in STAGES) + " | --- |"]
    for row in rows:
        stages = " | ".join(f"{row['hours_by_stage'].get(stage, 0):.3g}" for stage in STAGES)
        lines.append(f"| {row['table']} | {row['hours']:.3g} | {stages} | {row['dominant']} |")
    return "\n".join(lines)
