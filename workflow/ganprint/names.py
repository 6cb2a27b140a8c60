"""The names the workflow's rules and the package share: baseline methods, attacks and
attribution networks, with the patterns that match them.

Torch-free, so that the Snakefile imports it without paying for torch at every parse.
Source names are in `sources` (also torch-free).
"""

import re

from .errors import GanprintError

# Each baseline method, and the shared blocks of the `baselines` config it reads besides its
# own: the validation split that picks k or the number of components, the linear classifier.
BASELINE_SHARED_SETTINGS = {
    "knn": ("validation_fraction",),
    "eigenface": ("validation_fraction", "linear"),
    "prnu": (),
    "dct": ("linear",),
    "inception": (),
}
METHODS = tuple(BASELINE_SHARED_SETTINGS)
# Methods that use only the test images (the FD ratio of fixed features).
WITHOUT_TRAINING = ("inception",)

ATTACKS = ("noise", "blur", "crop", "jpeg", "relight", "combination")
# The steps of the combination attack in the paper's order (each with attacks.probability)
COMBINATION_ORDER = ("relight", "crop", "blur", "jpeg", "noise")

VARIANTS = ("full", "low_band", "high_band", "post_pool")
NETWORK_PREFIXES = {"low": "low_band", "high": "high_band", "patch": "post_pool"}
VARIANT_NETWORK = rf"({'|'.join(NETWORK_PREFIXES)})(\d+)"  # e.g. high16: the prefix, then r
# visNet (the fingerprint visualisation network) is built on the full network's encoder.
VISNET = "visnet"
NETWORK_PATTERN = rf"full|{VISNET}|{VARIANT_NETWORK}"
# How a high-band network takes its band, the 2r x 2r image between 2r and r
# (components.high_band_input), as Table 4's title says it.
HIGH_BAND_INPUTS = {
    "unshuffled": "the high band unshuffled to r x r x 12",
    "full_resolution": "the high band at 2r x 2r",
}


def parse_network(name: str) -> tuple[str, int | None]:
    """'full' or 'visnet', or 'low<r>', 'high<r>', 'patch<r>' -> (variant, switch resolution)."""
    if name in ("full", VISNET):
        return "full", None
    match = re.fullmatch(VARIANT_NETWORK, name)
    if not match:
        raise GanprintError(f"network '{name}' is not 'full', '{VISNET}', 'low<r>', 'high<r>' or 'patch<r>'")
    return NETWORK_PREFIXES[match[1]], int(match[2])


def network_method(name: str) -> str:
    """The method name of a network in tables: ours, or ours_visnet."""
    return f"ours_{VISNET}" if name == VISNET else "ours"


def highest_switch(variant: str, resolution: int) -> int:
    """The highest switching resolution of a variant: the high band between 2r and r needs 2r
    within the image, whichever its arrangement (HIGH_BAND_INPUTS)."""
    return resolution // 2 if variant == "high_band" else resolution


def canonical_network(name: str, resolution: int) -> str:
    """The name under which this network is trained: 'full' for the variants that are the
    full network (low band at the image size, post-pooling from 4x4)."""
    variant, switch = parse_network(name)
    same_as_full = (variant, switch) in (("low_band", resolution), ("post_pool", 4))
    return "full" if same_as_full else name
