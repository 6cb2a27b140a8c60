"""Names of image sources in experiments.

A source is `real` (the data set's real images) or a GAN instance named
`{arch}_{subset}_s{seed}` with an optional `_run{k}`: e.g. `progan_all_s1`,
`progan_diff100_s1`, and `progan_all_s1_run2`, a second training job with the very
same settings (the paper's sanity check).
"""

import re
import zlib
from dataclasses import dataclass

from . import GanprintError

REAL = "real"
INSTANCE_PATTERN = re.compile(r"^(?P<arch>[a-z][a-z0-9]*)_(?P<subset>all|diff\d+)_s(?P<seed>\d+)(?:_run(?P<run>\d+))?$")


@dataclass(frozen=True)
class GanInstance:
    name: str
    arch: str
    subset: str  # "all" or "diff{i}"
    seed: int
    run: int

    @property
    def subset_difference(self) -> int | None:
        return None if self.subset == "all" else int(self.subset[len("diff"):])


def parse_instance(name: str, where: str = "source") -> GanInstance:
    match = INSTANCE_PATTERN.match(name)
    if match is None:
        raise GanprintError(
            f"{where}: '{name}' is neither 'real' nor a GAN instance name "
            "'{arch}_{all|diff<i>}_s{seed}[_run{k}]' (e.g. progan_all_s1)"
        )
    return GanInstance(name, match["arch"], match["subset"], int(match["seed"]), int(match["run"] or 1))


def is_real(name: str) -> bool:
    return name == REAL


def sampling_seed(name: str, base_seed: int) -> int:
    """Each source's own latent stream: separate runs of identical GANs draw different images."""
    return (zlib.crc32(name.encode()) + base_seed) % 2**31
