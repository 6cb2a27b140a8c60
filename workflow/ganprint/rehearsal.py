"""A rehearsal: a config's whole run on the first images of each data set, written apart from
the real run (config block `rehearsal`; workflow/configs/rehearsal.yaml holds the shrunk
counts, lengths and widths)."""

import copy

FOLDER = "rehearsal"
DEFAULT_RESULTS = "results"  # Snakemake's own default of the <results> path variable


def results_folder(config: dict) -> str:
    """The folder <results> stands for in the config."""
    return config.get("pathvars", {}).get("results", DEFAULT_RESULTS)


def is_rehearsal(config: dict) -> bool:
    return config.get("rehearsal", {}).get("images") is not None


def rehearsed(config: dict) -> dict:
    """The config a rehearsal runs (from the config as its files and --config give it, with
    the defaults filled in): each data set reads at most rehearsal.images images, a folder
    source with a count of its own at most that or what the split takes, and <results> is
    the real run's results folder + /rehearsal. Any other config is returned as it is."""
    from .config_checks import images_per_source

    if not is_rehearsal(config):
        return config
    config = copy.deepcopy(config)
    images = config["rehearsal"]["images"]
    for dataset in config["datasets"].values():
        dataset["count"] = min(dataset["count"], images)
    for folder in config["folder_sources"].values():
        if folder["count"] is not None:
            folder["count"] = min(folder["count"], max(images, images_per_source(config["split"])))
    config.setdefault("pathvars", {})["results"] = f"{results_folder(config).rstrip('/')}/{FOLDER}"
    return config


def subset_difference(difference: int, config: dict) -> int:
    """Images by which real_subset_diff_#`difference` differs from the base subset: the
    name's own number, scaled down in a rehearsal (at least 1 unless it is 0)."""
    if not is_rehearsal(config) or difference == 0:
        return difference
    return max(1, round(difference * config["rehearsal"]["difference_scale"]))
