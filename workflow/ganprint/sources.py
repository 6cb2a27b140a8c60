"""Names of image sources in experiments.

A source is `real` (the data set's real images), a folder source (images made elsewhere,
named in the config's `folder_sources`: lower-case letters, digits and hyphens, so never a
GAN instance's name) or a GAN instance named
`{arch}_{subset}_s{seed}` with an optional `_run{k}` or `_noisy{k}`: e.g. `progan_all_s1`,
`progan_diff100_s1`, `progan_all_s1_run2`, a second training job with the very same
settings (the paper's sanity check: bit-identical to the first), and `progan_all_s1_noisy2`,
a second job that differs from the first only in floating-point summation order (numeric
noise: another CPU thread count, and on a GPU nondeterministic kernels). A trailing `_at{fraction}` names the snapshot of
an instance taken at that fraction of its run: `progan_all_s1_at0.25`.
"""

import re
import zlib
from dataclasses import dataclass

from .errors import GanprintError

REAL = "real"
SNAPSHOT_SUFFIX = "_at"
SNAPSHOT_FRACTION = r"0\.\d+"
TRAINED_INSTANCE_NAME = r"(?P<arch>[a-z][a-z0-9]*)_(?P<subset>all|diff\d+)_s(?P<seed>\d+)(?:_(?P<rerun>run|noisy)(?P<run>\d+))?"
INSTANCE_NAME = rf"(?P<base>{TRAINED_INSTANCE_NAME})(?:{SNAPSHOT_SUFFIX}(?P<snapshot>{SNAPSHOT_FRACTION}))?"
INSTANCE_PATTERN = re.compile(f"^{INSTANCE_NAME}$")


def wildcard_pattern(pattern: str) -> str:
    """A name pattern as a Snakemake wildcard constraint: its named groups unnamed."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


@dataclass(frozen=True)
class GanInstance:
    name: str
    arch: str
    subset: str  # "all" or "diff{i}"
    seed: int
    run: int
    noisy: bool  # a `_noisy<k>` run: its twin up to numeric noise
    base: str  # the trained instance: the name without its snapshot suffix
    snapshot: str | None  # fraction of the run, for a snapshot

    @property
    def subset_difference(self) -> int | None:
        return None if self.subset == "all" else int(self.subset[len("diff"):])


def parse_instance(name: str, where: str = "source") -> GanInstance:
    match = INSTANCE_PATTERN.match(name)
    if match is None:
        raise GanprintError(
            f"{where}: '{name}' is neither 'real', a folder source (folder_sources), nor a GAN instance name "
            "'{arch}_{all|diff<i>}_s{seed}[_run{k}|_noisy{k}][_at<fraction>]' (e.g. progan_all_s1)"
        )
    return GanInstance(name, match["arch"], match["subset"], int(match["seed"]), int(match["run"] or 1),
                       match["rerun"] == "noisy", match["base"], match["snapshot"])


def same_seed_twins(names) -> set[str]:
    """The GAN instances among `names` that share architecture, subset and seed with another
    run of them (X and X_run2): the pairs that must train bit-identically (a `_noisy<k>` run
    is not one of them)."""
    runs = {}
    for name in names:
        if not is_gan(name) or parse_instance(name).noisy:
            continue
        instance = parse_instance(name)
        runs.setdefault((instance.arch, instance.subset, instance.seed), set()).add(instance.base)
    return {name for group in runs.values() if len(group) > 1 for name in group}


def fraction_name(fraction: float) -> str:
    """How a fraction of a GAN run is written in snapshot, source and experiment names."""
    return f"{float(fraction):g}"


def snapshot_source(name: str, fraction: float) -> str:
    """The source standing for `name` at a fraction of its training run (real and folder
    sources stay as they are)."""
    return f"{name}{SNAPSHOT_SUFFIX}{fraction_name(fraction)}" if is_gan(name) else name


def is_real(name: str) -> bool:
    return name == REAL


def is_gan(name: str) -> bool:
    return INSTANCE_PATTERN.match(name) is not None


def sampling_seed(name: str, base_seed: int) -> int:
    """Each instance's own latent stream: separate runs of identical GANs draw different
    images; the snapshots of one run draw the same latents as its final weights."""
    name = parse_instance(name).base
    return (zlib.crc32(name.encode()) + base_seed) % 2**31


SNAPSHOT_EXPERIMENT = re.compile(rf"^(?P<base>.+){SNAPSHOT_SUFFIX}(?P<fraction>{SNAPSHOT_FRACTION})$")


def snapshot_experiment(experiment: str, fraction: float) -> str:
    """The experiment on its GANs' snapshots at a fraction of their runs: `table3_at0.25`."""
    return f"{experiment}{SNAPSHOT_SUFFIX}{fraction_name(fraction)}"


def split_snapshot_experiment(name: str) -> tuple[str, float]:
    """(configured experiment, fraction of the GANs' runs; 1.0 for the experiment itself)."""
    match = SNAPSHOT_EXPERIMENT.match(name)
    return (name, 1.0) if match is None else (match["base"], float(match["fraction"]))


HELD_OUT_INFIX = "_without_"


def held_out_experiment(experiment: str, source: str) -> str:
    """The experiment without one of its sources (open-set attribution): `table1_without_real`."""
    return f"{experiment}{HELD_OUT_INFIX}{source}"


def split_held_out_experiment(name: str) -> tuple[str, str | None]:
    """(configured experiment, the source held out of it; None for the experiment itself)."""
    experiment, infix, source = name.partition(HELD_OUT_INFIX)
    return (experiment, source) if infix else (name, None)
