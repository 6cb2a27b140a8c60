"""Projected device-hours of each table of a config, from rates measured here.

Measures, on the device at hand (the GPU when present) and with the config's own settings
and image size: ProGAN training per resolution, SNGAN / CramerGAN / MMDGAN iterations,
generator sampling, the attribution network's training and inference, PRNU residuals and
the kNN search. Then, for each table the config can build, it lists the jobs Snakemake
plans for it from scratch (a dry run with --forceall) and charges each job its work over
the measured rate: a GAN's training run, the images each source samples, the attribution
networks' epochs (the component variants, visNet and the defense at the classifier's
rate), the PRNU chain's images, the kNN pairs. Jobs of other rules are counted and named,
not charged (figures, tables, attacks on the CPU, the LPIPS search, Eigenface, DCT).
A table's hours include every job it needs, shared ones too; "all" is the whole workflow,
each job once. Everything runs one job at a time on one device.

    python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml
    python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml --quick   # fewer steps

Prints one JSON line per measured rate and per table, then a Markdown table.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch
import yaml

from baseline_throughput import bench_knn, bench_prnu
from ganprint import runtime
from ganprint.attribution.network import AttributionNetwork, AttributionSettings
from ganprint.config_checks import data_paths
from ganprint.gans import make_settings, make_trainer
from ganprint.gans.latents import draw_latents
from ganprint.settings import with_defaults
from training_throughput import alternating_rate, progan_seconds_per_image, schedule_seconds, timed

REPO = Path(__file__).resolve().parents[1]
TABLES = [f"table{number}" for number in range(1, 9)]
STAGES = ("GAN training", "sampling", "attribution networks", "attribution inference", "PRNU", "kNN")


def report(**fields):
    print(json.dumps(fields), flush=True)


# Rates on this device, with the config's settings.

def gan_seconds(config: dict, device, steps: int) -> dict:
    """Seconds of one training run of each architecture."""
    size = config["image_size"]
    progan = make_settings("progan", {**config["gan"]["progan"], "resolution": size})
    seconds = {"progan": schedule_seconds(progan, progan_seconds_per_image(progan, device, steps))}
    report(stage="gan_run", arch="progan", total_images=progan.total_images, hours=float(f"{seconds['progan'] / 3600:.4g}"))
    for arch in ("sngan", "cramergan", "mmdgan"):
        rate, settings = alternating_rate(arch, {**config["gan"][arch], "resolution": size}, device, steps)
        seconds[arch] = settings.total_images / rate
        report(stage="gan_run", arch=arch, total_images=settings.total_images, hours=float(f"{seconds[arch] / 3600:.4g}"))
    return seconds


def sampling_rates(config: dict, device, steps: int) -> dict:
    """Generated images per second of each architecture's generator (fp32, batch 256)."""
    rates = {}
    for arch in ("progan", "sngan", "cramergan", "mmdgan"):
        trainer = make_trainer(arch, {**config["gan"][arch], "resolution": config["image_size"]}, device)
        generator = trainer.final_generator.eval()
        latents = draw_latents(trainer.latent_distribution, 256, trainer.latent_dim, runtime.generator(0)).to(device)
        rates[arch] = 256 / timed(torch.no_grad()(lambda: generator(latents)), steps, device)
        report(stage="sampling", arch=arch, images_per_s=round(rates[arch], 1))
    return rates


def attribution_rates(config: dict, n_classes: int, device, steps: int) -> tuple[float, float]:
    """Training and inference images per second of the attribution network (fp32)."""
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
    train = batch / timed(train_step, steps, device)
    inference = 256 / timed(torch.no_grad()(lambda: network(inputs)), steps, device)
    report(stage="attribution", train_images_per_s=round(train, 1), inference_images_per_s=round(inference, 1))
    return train, inference


def measure(config: dict, device, quick: bool) -> dict:
    steps = 2 if quick else (20 if device.type == "cuda" else 3)
    n_classes = max(len(experiment["sources"]) for experiment in config["experiments"].values())
    train, inference = attribution_rates(config, n_classes, device, steps)
    size = config["image_size"]
    return {
        "gan_seconds": gan_seconds(config, device, steps),
        "sampling": sampling_rates(config, device, steps),
        "attribution_train": train,
        "attribution_inference": inference,
        "prnu": bench_prnu(size, 256 if quick else 1024, device),
        "knn_pairs": bench_knn(size, 4096 if quick else 20000, 256 if quick else 1000, device, compare=False),
    }


# The jobs of each table and what each costs.

def stand_in_folders(config: dict, folder: Path) -> list[str]:
    """--config options that point each data set and folder source whose images are not on
    this machine at an empty `folder`: planning a run needs the folders, not the images."""
    missing = {}
    for key, _, path in data_paths(config):
        if not (REPO / path).exists():
            section, name, _ = key.split(".")
            missing.setdefault(section, {})[name] = {"path": str(folder)}
    return ["--config", *(f"{section}={json.dumps(names)}" for section, names in missing.items())] if missing else []


def planned_jobs(configfile: str, target: str | None, options: list[str] = ()) -> list[tuple[str, dict]] | None:
    """(rule, wildcards) of every job a from-scratch run of `target` (default: all) needs;
    None when the config has no such target."""
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", *([target] if target else []), "--configfile",
               configfile, *options]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        if "MissingRuleException" in result.stderr + result.stdout:
            return None
        raise RuntimeError(f"snakemake -n failed for {target}:\n{result.stderr[-2000:]}")
    jobs, rule = [], None
    for line in result.stdout.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):", line):
            rule = match.group(1)
            jobs.append((rule, {}))
        elif rule and (match := re.match(r"\s+wildcards: (.*)", line)):
            jobs[-1] = (rule, dict(pair.split("=", 1) for pair in match.group(1).split(", ")))
    return jobs


def sources_of(config: dict, experiment: str) -> list[str]:
    base = re.sub(r"(_without_.*|_at[0-9.]+)$", "", experiment)
    return config["experiments"].get(base, {"sources": []})["sources"]


def job_cost(rule: str, wildcards: dict, config: dict, rates: dict) -> tuple[str, float] | None:
    """(stage, seconds) of a job on the measured device, or None for a job not charged."""
    split = config["split"]
    # the attack jobs (defense, attacked test images) have no experiment wildcard: theirs is attacks.experiment
    n_sources = len(sources_of(config, wildcards.get("experiment", config["attacks"]["experiment"])))
    if rule == "train_gan":
        return "GAN training", rates["gan_seconds"][wildcards["instance"].split("_")[0]]
    if rule == "sample_gan":
        arch = wildcards["instance"].split("_")[0]
        return "sampling", (split["n_train"] + split["n_test"] + split["n_val"]) / rates["sampling"][arch]
    if rule in ("train_attribution", "train_defense"):
        epochs = config["attacks"]["defense"]["epochs"] if rule == "train_defense" else (
            config["visnet"]["epochs"] if wildcards.get("network") == "visnet" else config["attribution"]["epochs"])
        return "attribution networks", epochs * n_sources * split["n_train"] / rates["attribution_train"]
    if rule in ("evaluate_attribution", "evaluate_attacked"):
        return "attribution inference", n_sources * (split["n_test"] + split["n_val"]) / rates["attribution_inference"]
    method = "prnu" if rule == "prnu_attacked" else wildcards.get("method")
    if rule in ("evaluate_baseline", "prnu_attacked") and method in ("prnu", "knn"):
        train, test = n_sources * split["n_train"], n_sources * split["n_test"]
        if method == "prnu":
            return "PRNU", (len(config["baselines"]["prnu"]["sigmas"]) * train + test) / rates["prnu"]
        held_out = config["baselines"]["validation_fraction"] * train
        return "kNN", (test * train + held_out * (train - held_out)) / rates["knn_pairs"]
    return None


def table_hours(jobs, config, rates) -> tuple[dict, Counter]:
    """Hours per stage, and the rules of the jobs not charged."""
    hours, uncharged = defaultdict(float), Counter()
    for rule, wildcards in jobs:
        cost = job_cost(rule, wildcards, config, rates)
        if cost is None:
            uncharged[rule] += 1
        else:
            hours[cost[0]] += cost[1] / 3600
    return dict(hours), uncharged


def markdown(rows: list[dict], device_name: str) -> str:
    lines = [f"Projected hours on {device_name}, one job at a time:", "",
             "| table | hours | " + " | ".join(STAGES) + " | dominant |",
             "| --- | ---: | " + " | ".join("---:" for _ in STAGES) + " | --- |"]
    for row in rows:
        stages = " | ".join(f"{row['hours_by_stage'].get(stage, 0):.3g}" for stage in STAGES)
        lines.append(f"| {row['table']} | {row['hours']:.3g} | {stages} | {row['dominant']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", required=True, help="the config to project (e.g. workflow/configs/celeba.yaml)")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps and smaller sets")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (when no GPU)")
    parser.add_argument("--tables", nargs="*", default=[*TABLES, "all"],
                        help="tables to project, 'all' for the whole workflow (default: every table the config has, and all)")
    args = parser.parse_args()
    configfile = str(Path(args.configfile).resolve())
    config = with_defaults(yaml.safe_load(Path(configfile).read_text()) or {})
    results = config.get("pathvars", {}).get("results", "results")

    device = runtime.configure(args.threads, seed=0, deterministic=False)
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({args.threads} threads)"
    report(stage="device", device=device_name, torch=torch.__version__, config=args.configfile)
    started = time.perf_counter()
    rates = measure(config, device, args.quick)
    report(stage="measured", seconds=round(time.perf_counter() - started, 1))

    rows = []
    stand_ins = stand_in_folders(config, Path(tempfile.mkdtemp(prefix="paper_scale-")))
    for table in args.tables:
        jobs = planned_jobs(configfile, None if table == "all" else f"{results}/{table}.csv", stand_ins)
        if jobs is None:
            continue
        hours, uncharged = table_hours(jobs, config, rates)
        total = sum(hours.values())
        row = {"table": table, "hours": float(f"{total:.4g}"), "hours_by_stage": {k: float(f"{v:.4g}") for k, v in hours.items()},
               "dominant": max(hours, key=hours.get) if hours else "", "jobs": len(jobs),
               "jobs_not_charged": dict(uncharged)}
        report(stage="projection", **row)
        rows.append(row)
    print(markdown(rows, device_name))


if __name__ == "__main__":
    main()
