"""Sizing jobs for a SLURM cluster: each rule's request capped by the `cluster` settings,
the GPU asked for the way the scheduler understands, the partition of GPU and CPU rules,
retries for trainings longer than the runtime cap (they continue from their checkpoint),
and a check of every request against what `sinfo` reports before anything is submitted.

Torch-free: the Snakefile imports it.
"""

import dataclasses
import math
import re
import subprocess

from .errors import GanprintError

SINFO_FORMAT = "%P|%c|%m|%l|%G"


def capped(value: int, cap: int | None) -> int:
    return value if cap is None else min(value, cap)


def job_resources(cluster: dict, *, mem_mb: int, runtime: int, gpu: bool = False) -> dict:
    """A rule's Snakemake resources: memory (MB) and runtime (minutes) capped by the
    settings, a GPU as `gpu` (--gpus) or `gres` (--gres, for select/cons_res) and of the
    configured model (--constraint), and the partition of its kind where one is set."""
    resources = {"mem_mb": capped(mem_mb, cluster["max_mem_mb"]), "runtime": capped(runtime, cluster["max_runtime"])}
    if gpu:
        resources.update({"gpu": 1} if cluster["gpu_request"] == "gpus" else {"gres": "gpu:1"})
        if cluster.get("gpu_constraint"):
            resources["constraint"] = cluster["gpu_constraint"]
    partition = cluster["gpu_partition" if gpu else "cpu_partition"]
    if partition:
        resources["slurm_partition"] = partition
    return resources


def chained_retries(cluster: dict, runtime: int) -> int | None:
    """Retries of a training of `runtime` minutes in jobs of at most `max_runtime`: one per
    further job of the chain (each continues from the checkpoint the one before left), plus
    the spare `retries`; None when one job is enough (the profile's retries then apply)."""
    if cluster["max_runtime"] is None or runtime <= cluster["max_runtime"]:
        return None
    return math.ceil(runtime / cluster["max_runtime"]) - 1 + cluster["retries"]


@dataclasses.dataclass(frozen=True)
class Partition:
    """The largest node of a partition, as sinfo reports it."""

    name: str
    cpus: int
    mem_mb: int
    minutes: float  # the time limit; inf where unlimited
    gpus: int
    default: bool = False


@dataclasses.dataclass(frozen=True)
class Request:
    rule: str
    partition: str | None  # None: the cluster's default partition
    threads: int
    mem_mb: int
    runtime: int
    gpus: int


def job_request(rule: str, threads: int, resources) -> Request:
    """What a Snakemake job (its rule, threads and resources) asks SLURM for."""
    gpus = int(resources.get("gpu") or 0) + gres_gpus(str(resources.get("gres") or ""))
    return Request(rule, resources.get("slurm_partition"), threads, resources.get("mem_mb", 0),
                   resources.get("runtime", 0), gpus)


def time_limit_minutes(text: str) -> float:
    """sinfo's time limit ([days-]hours:minutes:seconds, minutes:seconds, or infinite)."""
    text = text.strip().lower()
    if text in ("infinite", "unlimited", "n/a"):
        return math.inf
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    hours, minutes, seconds = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 else (0, parts[0], 0)
    return (int(days or 0) * 24 + hours) * 60 + minutes + seconds / 60


def gres_gpus(text: str) -> int:
    """GPUs in a gres list such as 'gpu:a100:4(S:0-1),shard:8' (0 for '(null)')."""
    return sum(int(count) for count in re.findall(r"(?:^|,)gpu(?::[^:,(]+)?:(\d+)", text))


def read_partitions(sinfo_output: str) -> dict[str, Partition]:
    """Partitions from `sinfo -h -o "%P|%c|%m|%l|%G"` (one line per group of alike nodes),
    each with the largest node's CPUs, memory and GPUs."""
    partitions = {}
    for line in sinfo_output.splitlines():
        if not line.strip():
            continue
        name, cpus, memory, limit, gres = line.split("|")
        default = name.endswith("*")
        name = name.rstrip("*")
        node = Partition(name, int(cpus.rstrip("+")), int(memory.rstrip("+")), time_limit_minutes(limit),
                         gres_gpus(gres), default)
        known = partitions.get(name)
        if known is not None:
            node = Partition(name, max(node.cpus, known.cpus), max(node.mem_mb, known.mem_mb),
                             max(node.minutes, known.minutes), max(node.gpus, known.gpus), default or known.default)
        partitions[name] = node
    return partitions


def sinfo_partitions() -> dict[str, Partition]:
    try:
        output = subprocess.run(["sinfo", "-h", "-o", SINFO_FORMAT], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise GanprintError(f"cannot ask SLURM what its partitions offer (sinfo): {error}") from None
    return read_partitions(output)


def oversized(request: Request, partitions: dict[str, Partition]) -> str | None:
    """Why the request cannot run on its partition, or None when it fits."""
    if request.partition is None:
        defaults = [p for p in partitions.values() if p.default]
        if not defaults:
            return None  # sbatch picks; nothing to compare with
        partition = defaults[0]
    elif request.partition not in partitions:
        return f"partition '{request.partition}' does not exist (sinfo lists {sorted(partitions)})"
    else:
        partition = partitions[request.partition]
    where = f"the largest node of partition '{partition.name}'"
    if request.threads > partition.cpus:
        return f"{request.threads} CPUs, {where} has {partition.cpus} (set max-threads in the profile)"
    if request.mem_mb > partition.mem_mb:
        return f"{request.mem_mb} MB, {where} has {partition.mem_mb} MB (set cluster.max_mem_mb or the profile's default-resources)"
    if request.runtime > partition.minutes:
        return (f"{request.runtime} minutes, partition '{partition.name}' allows {partition.minutes:g}"
                " (set cluster.max_runtime)")
    if request.gpus > partition.gpus:
        return f"{request.gpus} GPU, {where} has {partition.gpus} (set cluster.gpu_partition)"
    return None


def check_requests(requests: list[Request], partitions: dict[str, Partition]) -> None:
    """Raise, naming every rule (once) whose request no node of its partition can hold."""
    problems = {}
    for request in requests:
        reason = oversized(request, partitions)
        if reason is not None and request.rule not in problems:
            problems[request.rule] = reason
    if problems:
        lines = "\n".join(f"  rule {rule} asks for {reason}" for rule, reason in sorted(problems.items()))
        raise GanprintError(f"{len(problems)} rule(s) ask for more than the cluster offers; nothing was submitted:\n"
                            f"{lines}")
