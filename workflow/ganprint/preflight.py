"""Before a run spends GPU-hours: its data, weights, devices, cost, disk and cluster checked
from its config, one line each, with what to do about each failure (`ganprint preflight`)."""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import GanprintError

SAMPLE = 8  # images decoded from each data set
GPU_SIZED_IMAGES = 1_000_000  # GAN training lengths from which a config is sized for a GPU (paper: 12M; gpu.yaml: 1M-2.4M)
DETERMINISM_GAN = dict(resolution=16, latent_dim=16, fmap_base=64, fmap_max=32, images_per_phase=256,
                       total_images=1024, batch_sizes={4: 32, 8: 32, 16: 32})


@dataclasses.dataclass
class Finding:
    check: str  # data, weights, device, cost, disk, slurm, config
    status: str  # ok, warn, fail or skip
    message: str  # what was found
    fix: str = ""  # what to do when it is not ok

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.check:7} {self.message}"
        return f"{text}\n{'':13}-> {self.fix}" if self.fix and self.status != "ok" else text


# The data.

def data_sets(config: dict):
    """(config key, source, path or None, images read, crop) of each data set and folder source."""
    from .config_checks import folder_source_count

    for name, dataset in config["datasets"].items():
        yield f"datasets.{name}", dataset["source"], dataset.get("path"), dataset["count"], dataset["crop"]
    for name, folder in config["folder_sources"].items():
        count = folder_source_count(config, name)
        if folder.get("pipeline"):
            yield f"folder_sources.{name}.pipeline", "pipeline", folder["pipeline"]["path"], count, folder["crop"]
        else:
            yield f"folder_sources.{name}", "folder", folder["path"], count, folder["crop"]


def sample_items(source: str, paths: list[str], count: int):
    """The first SAMPLE (name, data) items of folders or an LMDB, after checking that they hold `count`."""
    from itertools import islice

    from .data.real import folder_items, lmdb_items

    items = folder_items(paths, count) if source == "folder" else lmdb_items(paths[0], count)
    return list(islice(items, SAMPLE))


def data_finding(key: str, source: str, path: str | list[str] | None, count: int, crop: str, size: int) -> Finding:
    from .data import formats
    from .data.images import crop_function, decode_image

    if source == "pipeline":
        from .config_checks import data_path_found

        if not data_path_found(source, path):
            return Finding("data", "fail", f"{key}.path: {path} holds no saved diffusers pipeline (model_index.json)",
                           f"set {key}.path to a folder written by the pipeline's save_pretrained")
        return Finding("data", "ok", f"{key}: {count} images made by the run with the pipeline in {path}")
    if source not in ("folder", "lmdb"):
        return Finding("data", "ok", f"{key}: {source} images, made by the run ({count})")
    paths = [path] if isinstance(path, str) else list(path)
    absent = [folder for folder in paths if not Path(folder).exists()]
    if absent:
        return Finding("data", "fail", f"{key}.path: {', '.join(absent)} does not exist",
                       f"set {key}.path to the {'folder' if source == 'folder' else 'LMDB'} of the images "
                       "(in a site config layered last)")
    path = " + ".join(paths)
    try:
        decoded = {name: decode_image(data, name) for name, data in sample_items(source, paths, count)}
        if crop in ("centre", "celeba"):  # native windows are cut by each experiment's settings
            for name, image in decoded.items():
                crop_function(crop)(image.pixels, size, name)
    except GanprintError as error:
        return Finding("data", "fail", f"{key}: {error}",
                       f"point {key}.path at data holding at least {count} readable images, or lower the count "
                       f"({key}.count, or split for a folder source without one; rehearsal.images in a rehearsal)")
    summary = formats.summarise([image.file for image in decoded.values()])
    containers = ", ".join(f"{name} {share:.0%}" for name, share in summary["containers"].items())
    sides = f"{summary['width_quartiles'][1]:g}x{summary['height_quartiles'][1]:g}"
    return Finding("data", "ok", f"{key}: {path} holds the {count} images the run reads; {len(decoded)} decoded "
                   f"and cropped ({crop}): {containers}, median {sides}")


def data_findings(config: dict) -> list[Finding]:
    return [data_finding(*entry, config["image_size"]) for entry in data_sets(config)]


# The weights.

def lpips_finding(config: dict) -> Finding | None:
    from .perceptual import how_to_get_backbone, locate_backbone

    block = config["artifact_free"]
    if block["experiment"] not in config["experiments"]:
        return None
    try:
        found = locate_backbone(block["net"], block["backbone_weights"])
    except GanprintError as error:
        return Finding("weights", "fail", f"LPIPS backbone: {error}", "fix artifact_free.backbone_weights")
    if found is not None:
        return Finding("weights", "ok", f"LPIPS backbone ({block['net']}): {found}")
    what = f"LPIPS backbone ({block['net']}) not found where the jobs look"
    if block["uncalibrated_fallback"]:
        return Finding("weights", "warn", f"{what}: Table 6 and Figure 5 will be uncalibrated (random backbone)",
                       how_to_get_backbone(block["net"]))
    return Finding("weights", "fail", f"{what}: the run stops at Table 6 (artifact_free)", how_to_get_backbone(block["net"]))


def inception_finding(config: dict) -> Finding | None:
    if "inception" not in config["baselines"]["methods"]:
        return None
    from .baselines import inception

    try:
        found = inception.locate_weights(config["baselines"]["inception"]["weights"])
    except GanprintError as error:
        return Finding("weights", "fail", f"FID Inception: {error}", "fix baselines.inception.weights")
    if found is not None:
        return Finding("weights", "ok", f"FID Inception: {found}")
    return Finding("weights", "warn", "FID Inception weights not found: the inception rows will say 'not computed'",
                   inception.how_to_get_weights())


def weights_findings(config: dict) -> list[Finding]:
    findings = [lpips_finding(config), inception_finding(config)]
    note = Finding("weights", "ok", f"the jobs look in torch's hub cache {hub_checkpoints()} (TORCH_HOME on the node "
                   "that runs them, not the login node's) unless the config names a file")
    return [finding for finding in findings if finding is not None] + [note]


def hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


# The devices.

def longest_gan_training(config: dict) -> int:
    """Real images shown in the longest GAN training of the config."""
    from .costs import ARCHS

    return max(config["gan"][arch]["total_images"] for arch in ARCHS)


def sized_for_a_gpu(config: dict) -> bool:
    """Whether the config's GANs train long enough to need a GPU (the paper configs, gpu.yaml)."""
    from .rehearsal import is_rehearsal

    return not is_rehearsal(config) and longest_gan_training(config) >= GPU_SIZED_IMAGES


def device_findings(config: dict, gpu_node: bool, determinism: bool) -> list[Finding]:
    import torch

    if not torch.cuda.is_available():
        where = "this machine has no CUDA device"
        if not sized_for_a_gpu(config):
            return [Finding("device", "warn", f"{where}: the jobs run on the CPU (the config is small enough)")]
        fix = ("run `ganprint preflight` on a GPU node of the cluster (or check the CUDA build of PyTorch: "
               f"torch {torch.__version__}, CUDA {torch.version.cuda})")
        status = "fail" if gpu_node else "warn"
        return [Finding("device", status, f"{where}, and the config's GANs train on up to "
                        f"{longest_gan_training(config):,} images", fix)]
    names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
    findings = [Finding("device", "ok", f"CUDA: {torch.cuda.device_count()} x {', '.join(names)}, torch {torch.__version__}")]
    if determinism:
        findings.append(determinism_finding())
    return findings


def determinism_finding() -> Finding:
    """Two same-seed ProGAN trainings on this GPU, in two processes as workflow jobs run: the
    sanity check's twins must come out bit-identical."""
    import json

    import torch

    from .data.real import prepare_real
    from .storage import load_checkpoint

    with tempfile.TemporaryDirectory(prefix="ganprint-preflight-") as folder:
        folder = Path(folder)
        prepare_real("embedded", folder / "real.npy", 16, 256, seed=0)
        for name in ("first", "twin"):
            command = [sys.executable, "-m", "ganprint", "--quiet", "train-gan", "--arch", "progan", "--settings",
                       json.dumps(DETERMINISM_GAN), "--images", str(folder / "real.npy"), "--seed", "1",
                       "--output", str(folder / f"{name}.pt")]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                return Finding("device", "fail", f"a ProGAN training on the GPU failed: {run.stderr.strip()[-300:]}",
                               "run `pytest tests/test_gpu.py` on this node for the details")
        first, twin = (load_checkpoint(folder / f"{name}.pt")["generator"] for name in ("first", "twin"))
    if all(torch.equal(first[key], twin[key]) for key in first):
        return Finding("device", "ok", "deterministic kernels: two same-seed trainings on this GPU are bit-identical")
    return Finding("device", "fail", "two same-seed trainings on this GPU differ: the sanity check's twins will not be "
                   "identical", "check CUBLAS_WORKSPACE_CONFIG and the driver; `pytest tests/test_gpu.py`")


# Cost and disk.

def cost_findings(config: dict, jobs, measure: bool, quick: bool) -> list[Finding]:
    import torch

    from . import costs, runtime

    if not measure:
        return [Finding("cost", "skip", "device-hours not projected (no CUDA device, or --no-rates)",
                        "run `ganprint preflight` on a GPU node to measure the rates there and project the hours")]
    device = runtime.configure(torch.get_num_threads(), seed=0, deterministic=False)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "this CPU"
    try:
        rates = costs.Rates.measure(config, device, quick)
    except RuntimeError as error:  # CUDA's out-of-memory error among them
        return [Finding("cost", "fail", f"the config's networks do not run on {where}: {str(error).splitlines()[0][:300]}",
                        "use a GPU with more memory, or smaller batch sizes (gan.<arch>.batch_size(s))")]
    rows = costs.projection(jobs, config, rates)
    tables = ", ".join(f"{row['table']} {row['hours']:.3g} h" for row in rows if row["table"] != "all")
    total = next(row for row in rows if row["table"] == "all")
    memory = (f"; peak GPU memory {torch.cuda.max_memory_allocated() / 1e9:.3g} GB (the largest training step)"
              if device.type == "cuda" else "")
    return [Finding("cost", "ok", f"projected on {where}, one job at a time (each table with every job it needs): "
                    f"{tables}; all {total['hours']:.3g} h over {total['jobs']} jobs, "
                    f"{total['hours_by_stage'].get('GAN training', 0):.3g} h of it GAN training{memory}")]


def free_bytes(folder: Path) -> int:
    """Free bytes of the file system the folder is (or will be) on."""
    folder = folder.resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def disk_finding(config: dict, jobs) -> Finding:
    from .costs import disk_bytes
    from .rehearsal import results_folder

    kept, temporary = disk_bytes(jobs, config)
    folder = Path(results_folder(config))
    free = free_bytes(folder)
    needed = kept + temporary
    what = (f"{gigabytes(kept)} kept + up to {gigabytes(temporary)} of attacked training images while the attacks run, "
            f"{gigabytes(free)} free at {folder}")
    if needed > free:
        return Finding("disk", "fail", f"too little disk: {what}",
                       "free space, or set pathvars.results to a larger file system; run the attacks one at a "
                       "time with --resources attacks=1 to keep only one attack's images at once")
    return Finding("disk", "ok", what)


def gigabytes(count: int) -> str:
    return f"{count / 1e9:.3g} GB"


# The cluster.

def slurm_findings(config: dict, jobs, profile: str | None, account: str | None) -> list[Finding]:
    from .cluster import job_request, oversized, sinfo_partitions

    if profile is None:
        return [Finding("slurm", "skip", "no --profile given: a run on this machine",
                        "on a cluster, pass the profile the run will use (--profile workflow/profiles/slurm)")]
    if shutil.which("sinfo") is None:
        return [Finding("slurm", "fail", "no SLURM here (sinfo not found)",
                        "run `ganprint preflight` on the cluster's login node to check partitions and requests")]
    try:
        partitions = sinfo_partitions()
    except GanprintError as error:
        return [Finding("slurm", "fail", str(error), "check that the SLURM controller answers (sinfo)")]
    listed = ", ".join(f"{p.name} ({p.gpus} GPU, {p.cpus} CPUs, {p.mem_mb} MB)" for p in partitions.values())
    findings = [Finding("slurm", "ok", f"partitions: {listed}")]
    for key in ("gpu_partition", "cpu_partition"):
        name = config["cluster"][key]
        if name is not None and name not in partitions:
            findings.append(Finding("slurm", "fail", f"cluster.{key}: partition '{name}' is not in sinfo's list",
                                    f"set cluster.{key} to one of {sorted(partitions)}"))
    problems = {}
    for job in jobs:
        if not job.local:
            request = job_request(job.rule, job.threads, {**job.resources, "slurm_partition": job.resources.get(
                "slurm_partition") or config["cluster"]["gpu_partition" if job.resources.get("gpu") else "cpu_partition"]})
            reason = oversized(request, partitions)
            if reason is not None:
                problems.setdefault(job.rule, reason)
    for rule, reason in sorted(problems.items()):
        findings.append(Finding("slurm", "fail", f"rule {rule} asks for {reason}", "see docs/cluster.md"))
    findings.append(account_finding(account))
    return findings


def account_finding(account: str | None) -> Finding:
    if account is None:
        return Finding("slurm", "warn", "no account given: jobs are charged to your default account",
                       "pass --account (the profile's slurm_account) to check it")
    if shutil.which("sacctmgr") is None:
        return Finding("slurm", "skip", f"account '{account}' not checked (no sacctmgr)")
    user = os.environ.get("USER", "")
    run = subprocess.run(["sacctmgr", "-nP", "show", "associations", f"user={user}", "format=account"],
                         capture_output=True, text=True)
    accounts = {line.strip() for line in run.stdout.splitlines() if line.strip()}
    if run.returncode != 0:
        reason = (run.stderr.strip().splitlines() or ["no message"])[0][:120]
        return Finding("slurm", "skip", f"account '{account}' not checked: sacctmgr failed ({reason})")
    if account in accounts:
        return Finding("slurm", "ok", f"account '{account}' is one of {user}'s")
    return Finding("slurm", "fail", f"account '{account}' is not one of {user}'s ({', '.join(sorted(accounts)) or 'none'})",
                   "set slurm_account in the profile to one of them")


# All of it.

def preflight(configfiles: list[str], entries: list[str] = (), *, gpu_node: bool = False,
              rates: bool = True, quick: bool = True, determinism: bool = True, profile: str | None = None,
              account: str | None = None) -> list[Finding]:
    """Every finding about the run of `snakemake --configfile <configfiles> --config <entries>`."""
    import torch

    from . import costs
    from .config_checks import config_overrides, read_config
    from .rehearsal import results_folder

    try:
        config = read_config(configfiles, config_overrides(entries))
    except GanprintError as error:
        return [Finding("config", "fail", str(error), "fix the key it names")]
    findings = [Finding("config", "ok", f"{' + '.join(configfiles)}: {config['image_size']} px, "
                        f"experiments {', '.join(config['experiments'])}, results in {results_folder(config)}")]
    findings += data_findings(config)
    findings += weights_findings(config)
    findings += device_findings(config, gpu_node, determinism)
    try:
        jobs = costs.plan(config, configfiles, entries, ["--profile", profile] if profile else [])
    except RuntimeError as error:
        last = [line for line in str(error).splitlines() if line.strip()][-1]
        return findings + [Finding("config", "fail", f"Snakemake cannot plan the run: {last[:300]}",
                                   "run the same snakemake command with -n to see the whole message")]
    findings.append(Finding("config", "ok", f"Snakemake plans {len(jobs)} jobs from scratch"))
    findings += cost_findings(config, jobs, rates and torch.cuda.is_available(), quick)
    findings.append(disk_finding(config, jobs))
    findings += slurm_findings(config, jobs, profile, account)
    return findings


def report(findings: list[Finding]) -> int:
    """Print the findings; the exit status: 1 when any failed."""
    for finding in findings:
        print(finding.line())
    failed = sum(finding.status == "fail" for finding in findings)
    warned = sum(finding.status == "warn" for finding in findings)
    print(f"preflight: {failed} failed, {warned} warnings, {len(findings)} checks")
    return 1 if failed else 0
