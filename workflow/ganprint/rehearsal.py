"""A rehearsal: a config's whole run on the first images of each data set, written apart from
the real run (config block `rehearsal`; workflow/configs/rehearsal.yaml holds the shrunk
counts, lengths and widths)."""

import copy

FOLDER = "rehearsal"
DEFAULT_RESULTS = "results"  # Snakemake's own default of the <results> path variable


def is_rehearsal(config: dict) -> bool:
    return config.get("rehearsal", {}).get("images") is not None


def rehearsed(config: dict) -> dict:
    """The config a rehearsal runs: each data set reads at most rehearsal.images images, and
    <results> is the real run's results folder + /rehearsal. Any other config is returned as
    it is; applying it twice changes nothing."""
    if not is_rehearsal(config):
        return config
    config = copy.deepcopy(config)
    images = config["rehearsal"]["images"]
    for dataset in config["datasets"].values():
        dataset["count"] = min(dataset["count"], images)
    pathvars = config.setdefault("pathvars", {})
    results = pathvars.get("results", DEFAULT_RESULTS).rstrip("/")
    if not results.endswith(f"/{FOLDER}"):
        pathvars["results"] = f"{results}/{FOLDER}"
    return config


def subset_difference(difference: int, config: dict) -> int:
    """Images by which real_subset_diff_#`difference` differs from the base subset: the
    name's own number, scaled down in a rehearsal (at least 1 unless it is 0)."""
    if not is_rehearsal(config) or difference == 0:
        return difference
    return max(1, round(difference * config["rehearsal"]["difference_scale"]))
