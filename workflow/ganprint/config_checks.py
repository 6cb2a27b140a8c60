"""Checks of a whole config at parse time: against the schema, with one-line errors naming
the key (unknown keys with the nearest valid names), before the Snakefile fills in the
schema's defaults (`settings.with_defaults`); then the constraints between keys that the
schema cannot state, and the folders that the data sets and folder sources read.

Torch-free: the Snakefile imports it.
"""

import difflib
from pathlib import Path

from .errors import GanprintError
from .patches import NATIVE, Preprocessing
from .rehearsal import rehearsed, subset_difference
from .settings import complete_block, schema, with_defaults
from .sources import HELD_OUT_INFIX, REAL, SNAPSHOT_EXPERIMENT, is_real, parse_instance

PATH_SOURCES = ("folder", "lmdb")
SPLIT_SUM = "split.n_train + split.n_test + split.n_val"


def images_per_source(split: dict) -> int:
    """The images the split takes from a real or folder source."""
    return split["n_train"] + split["n_test"] + split["n_val"]


def folder_source_count(config: dict, name: str) -> int:
    """Images read from a folder source: its count, or what the split takes."""
    return config["folder_sources"][name]["count"] or images_per_source(config["split"])


def unknown_keys(node: dict, value, where: str = ""):
    """(dotted key, valid names) of every key of `value` that the schema `node` does not allow."""
    if not isinstance(value, dict):
        return
    properties = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key, child in value.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key in properties:
            yield from unknown_keys(properties[key], child, dotted)
        elif isinstance(extra, dict):
            yield from unknown_keys(extra, child, dotted)
        elif extra is False:
            yield dotted, sorted(properties)


TEMPLATING_KEY = "__use_yte__"


def check_untemplated(paths) -> None:
    """Refuse a config file that turns on Snakemake's YTE templating (`__use_yte__: true`),
    whose `?` values are Python that Snakemake runs as it reads the file. The file is read
    here as plain YAML, which runs nothing; Snakemake has read it before the Snakefile
    runs, so this refusal stops the run but cannot undo what the file's code did."""
    import json

    import yaml

    for path in paths:
        try:
            text = Path(path).read_text()
            try:
                json.loads(text)
                continue  # Snakemake reads JSON as JSON, never as a template
            except ValueError:
                content = yaml.safe_load(text)
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise GanprintError(f"{path}: not readable as YAML: {error}") from error
        if isinstance(content, dict) and TEMPLATING_KEY in content:
            raise GanprintError(
                f"{path} sets {TEMPLATING_KEY} (YTE templating: its '?' values are Python code); ganprint takes "
                "plain configs only. Snakemake has already evaluated that code when it read the file: treat a "
                "config from elsewhere as a script and read it before you run it (docs/trust.md)")


def check_schema(config: dict) -> None:
    """The config as given (before the defaults fill in) against the schema, and the
    analysis experiments it names."""
    import jsonschema

    for dotted, valid in unknown_keys(schema(), config):
        key = dotted.rsplit(".", 1)[-1]
        near = difflib.get_close_matches(key, valid, n=3)
        hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
        raise GanprintError(f"config key '{dotted}' is unknown; {hint}valid keys there: {', '.join(valid)}")
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        where = ".".join(map(str, errors[0].path)) or "(top level)"
        raise GanprintError(f"config key '{where}': {errors[0].message}")
    check_analysis_experiments(config)


# The blocks that run an analysis on one experiment (its `experiment` key).
ANALYSES = ("components", "training_length", "open_set", "visnet", "artifact_free", "attacks", "robustness")


def check_experiment_names(experiments: dict) -> None:
    """Names that the rules would read as another experiment's: a held-out experiment
    (`x_without_y`, open set) or a snapshot one (`x_at0.5`, training length)."""
    for name in experiments:
        if HELD_OUT_INFIX in name:
            raise GanprintError(f"experiments.{name}: a name cannot contain '{HELD_OUT_INFIX}', which names an "
                                "experiment with one of its sources held out (open set); rename it")
        if SNAPSHOT_EXPERIMENT.match(name):
            raise GanprintError(f"experiments.{name}: a name cannot end in '_at<fraction>', which names an experiment "
                                "on its GANs' snapshots (training_length); rename it")


def check_analysis_experiments(config: dict) -> None:
    """An analysis whose experiment a config names must find it (an analysis left at its
    default experiment is skipped where the config lacks it). Run before the defaults fill in."""
    experiments = config.get("experiments") or schema()["properties"]["experiments"]["default"]
    for block in ANALYSES:
        named = (config.get(block) or {}).get("experiment")
        if named is not None and named not in experiments:
            near = difflib.get_close_matches(named, list(experiments), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise GanprintError(f"{block}.experiment: no experiment '{named}' in experiments "
                                f"({', '.join(experiments)}){hint}")


def check_experiment_sources(config: dict) -> None:
    """Every source can be built: 'real', a folder source, or a trained GAN instance of a
    configured architecture (snapshots are the training_length block's, not a source's)."""
    folders = config.get("folder_sources", {})
    architectures = sorted(key for key, value in config["gan"].items() if isinstance(value, dict))
    for experiment, spec in config["experiments"].items():
        where = f"experiments.{experiment}.sources"
        for name in spec["sources"]:
            if is_real(name) or name in folders:
                continue
            instance = parse_instance(name, where)
            if instance.snapshot is not None:
                raise GanprintError(f"{where}: '{name}' is a snapshot of '{instance.base}'; list '{instance.base}' and "
                                    f"set training_length.fractions to attribute its snapshots")
            if instance.arch not in architectures:
                raise GanprintError(f"{where}: unknown GAN architecture '{instance.arch}' in '{name}'; known: "
                                    f"{', '.join(architectures)}")


# Real images made at image_size, with no resizing of anyone's pixels.
RENDERED_SOURCES = ("deadleaves",)


def source_crops(config: dict, dataset: str, sources: list[str]) -> dict:
    """{source: how its files became images}: a folder source's crop, the data set's for
    'real' (its images resized to image_size unless rendered at that size); GANs' images are
    made at image_size, so they have none."""
    folders, real = config.get("folder_sources", {}), config["datasets"][dataset]
    crops = {name: folders[name]["crop"] for name in sources if name in folders}
    if any(map(is_real, sources)) and real["source"] not in RENDERED_SOURCES:
        crops[REAL] = real.get("crop", "centre")
    return crops


def experiment_preprocessing(config: dict, dataset: str, sources: list[str]) -> Preprocessing:
    """How an experiment's images were made from files, recorded with its models: native
    patches when its folder sources are read natively, else its folder sources' or real
    images' crop and resizing."""
    crops = source_crops(config, dataset, sources)
    crop = NATIVE if NATIVE in crops.values() else next(iter(crops.values()), config["datasets"][dataset].get("crop", "centre"))
    folders = config.get("folder_sources", {})
    backgrounds = [folders[name]["alpha_background"] for name in sources if name in folders]
    background = backgrounds[0] if backgrounds else config["datasets"][dataset].get("alpha_background", "white")
    return Preprocessing(size=config["image_size"], crop=crop, alpha_background=background,
                         **complete_block(config.get("patches", {}), "patches"))


def check_native_experiments(config: dict) -> None:
    """An experiment reads all its files natively or none: a classifier of native patches
    against resized images would learn the resizing, not the generators."""
    window = complete_block(config.get("patches", {}), "patches")["window"]
    for experiment, spec in config["experiments"].items():
        for dataset in config["datasets"]:
            crops = source_crops(config, dataset, spec["sources"])
            native = sorted(name for name, crop in crops.items() if crop == NATIVE)
            resized = sorted(name for name, crop in crops.items() if crop != NATIVE)
            if native and resized:
                raise GanprintError(
                    f"experiments.{experiment}: {', '.join(native)} read at native resolution (crop native) but "
                    f"{', '.join(resized)} resized to image_size (datasets.{dataset} or folder_sources crop): a "
                    "classifier would learn the resizing; read them all one way")
            if native and window < config["image_size"]:
                raise GanprintError(f"patches.window ({window}) is smaller than image_size ({config['image_size']}), "
                                    "the patches cut from it")


def check_reencode(config: dict) -> None:
    """Re-encoding concerns files: an experiment of re-encoded folder sources and GAN instances,
    whose images are never encoded, would hand a classifier the encoding as a cue."""
    if not config.get("reencode"):
        return
    for experiment, spec in config["experiments"].items():
        gans = [name for name in spec["sources"] if not is_real(name) and name not in config.get("folder_sources", {})]
        if gans and len(gans) < len(spec["sources"]):
            raise GanprintError(f"reencode: experiments.{experiment} holds GAN instances ({', '.join(gans)}), whose "
                                "images are never encoded, beside re-encoded images; attribute them apart, or "
                                "without reencode")


def check_constraints(config: dict) -> None:
    """Experiment names and sources, paths, split sizes and subset sizes against each data
    set's image count."""
    check_experiment_names(config["experiments"])
    check_experiment_sources(config)
    check_native_experiments(config)
    check_reencode(config)
    sources = [s for spec in config["experiments"].values() for s in spec["sources"]]
    folders = config.get("folder_sources", {})
    differences = [parse_instance(source, f"experiments.{experiment}.sources").subset_difference
                   for experiment, spec in config["experiments"].items()
                   for source in spec["sources"] if not is_real(source) and source not in folders]
    differences = [subset_difference(d, config) for d in differences if d is not None]
    split, base_size = config["split"], config["subsets"]["base_size"]
    check_folder_sources(folders, split)
    for name, dataset in config["datasets"].items():
        count, where = dataset["count"], f"datasets.{name}"
        if dataset["source"] in PATH_SOURCES and not dataset.get("path"):
            raise GanprintError(f"{where}.path: a '{dataset['source']}' source needs the path of its images")
        if any(map(is_real, sources)) and images_per_source(split) > count:
            raise GanprintError(f"{SPLIT_SUM} ({images_per_source(split)}) exceed {where}.count ({count}): the "
                                "real class draws them from the real images")
        if differences and base_size > count:
            raise GanprintError(f"subsets.base_size ({base_size}) exceeds {where}.count ({count})")
        if differences and max(differences) > min(base_size, count - base_size):
            raise GanprintError(f"real_subset_diff_#{max(differences)} needs {max(differences)} images outside the "
                                f"base subset of {base_size}, but {where}.count ({count}) leaves {count - base_size}")


def check_folder_sources(folders: dict, split: dict) -> None:
    """A folder source is not called 'real', and holds what the split takes from it."""
    needed = images_per_source(split)
    for name, folder in folders.items():
        if is_real(name):
            raise GanprintError("folder_sources.real: 'real' names the data set's own images; rename the folder source")
        count = folder.get("count")
        if count is not None and count < needed:
            raise GanprintError(f"folder_sources.{name}.count ({count}) is below {SPLIT_SUM} ({needed}), which "
                                "the split takes from it")


def data_paths(config: dict):
    """(config key, source kind, path) of every folder or LMDB that the data sets and the
    folder sources read."""
    for name, dataset in config["datasets"].items():
        if dataset["source"] in PATH_SOURCES and dataset.get("path"):
            yield f"datasets.{name}.path", dataset["source"], dataset["path"]
    for name, folder in config.get("folder_sources", {}).items():
        if folder.get("pipeline"):
            yield f"folder_sources.{name}.pipeline.path", "pipeline", folder["pipeline"]["path"]
            continue
        for path in [folder["path"]] if isinstance(folder["path"], str) else folder["path"]:
            yield f"folder_sources.{name}.path", "folder", path


# What each kind of data path is, in an error
PATH_KINDS = {"folder": "folder", "lmdb": "LMDB", "pipeline": "saved diffusers pipeline"}


def data_path_found(kind: str, path: str) -> bool:
    """Whether a folder, LMDB or saved pipeline that the config reads is there."""
    if kind == "pipeline":
        return (Path(path) / "model_index.json").is_file()
    return Path(path).is_dir() if kind == "folder" else Path(path).exists()


def check_data_paths(config: dict) -> None:
    """Every folder (and LMDB) that the config reads exists, so that a run, dry or not, stops
    at once rather than at its first job that reads it. Relative paths start at the working
    directory."""
    for key, kind, path in data_paths(config):
        if not data_path_found(kind, path):
            what = PATH_KINDS[kind]
            where = "" if Path(path).is_absolute() else f" (relative to {Path.cwd()})"
            raise GanprintError(f"{key}: the {what} {path} does not exist{where}; "
                                f"set {key} to the {what} of the images")


def checked_config(config: dict, configfiles) -> dict:
    """The config a run uses: its files checked, its keys checked against the schema, the
    defaults filled in, a rehearsal applied, its sizes checked (not its data paths)."""
    check_untemplated(configfiles)
    check_schema(config)
    config = rehearsed(with_defaults(config))
    check_constraints(config)
    return config


def config_overrides(entries) -> dict:
    """The config that `snakemake --config <entries>` (KEY=VALUE strings) gives, read as
    Snakemake reads it."""
    from snakemake.cli import parse_config

    try:
        return parse_config(list(entries))
    except (ValueError, TypeError) as error:
        raise GanprintError(f"--config {' '.join(entries)}: {error}") from error


def read_config(configfiles, overrides: dict | None = None) -> dict:
    """The config of `snakemake --configfile <configfiles> --config <overrides>`: the files
    merged in order as Snakemake merges them (a later file's keys replace an earlier one's,
    block by block), then the overrides, then checked_config."""
    import yaml
    from snakemake.utils import update_config

    config = {}
    for path in configfiles:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            raise GanprintError(f"config file {path}: {error}") from error
        if not isinstance(loaded, dict):
            raise GanprintError(f"config file {path}: not a mapping of keys")
        update_config(config, loaded)
    update_config(config, overrides or {})
    return checked_config(config, configfiles)
