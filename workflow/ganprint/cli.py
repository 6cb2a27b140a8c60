"""The `ganprint` command: one subcommand per workflow stage.

Each stage below is a function whose signature is its command line: keyword parameters
become options (`--n-train`), a list one or more values, a bool a flag, `settings` a JSON
object of the stage's config block (its defaults are the config schema's, see
`settings.py`). The first line of the docstring is the stage's help.
"""

import argparse
import inspect
import logging
import signal
import sys
import types
import typing
from pathlib import Path

from . import CPU_ISA, GanprintError, __version__
from .settings import complete_block, json_object, schema_default, settings_of


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or positive, got {value}")
    return value


def key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key, value


class Settings(dict):
    """A JSON object on the command line."""

    def __init__(self, text: str = "{}"):
        try:
            super().__init__(json_object(text, "--settings"))
        except GanprintError as error:
            raise argparse.ArgumentTypeError(str(error)) from error


CROPS = typing.Literal["centre", "celeba"]
BAD_IMAGES = typing.Literal["fail", "skip"]
EXPORTS = typing.Literal["round", "truncate", "stretch"]  # convert.EXPORTS

HELP = {
    "settings": "JSON object of the stage's config block; keys left out take the schema's defaults",
    "train": "one training image array per source",
    "test": "one test image array per source, in the order of the sources",
    "sources": "source names, in the order of the image arrays",
    "label": "KEY=VALUE pairs copied into the metrics",
    "threads": "CPU threads",
    "snapshot": "fractions of the run at which to keep the generator (train-gan), or the one to sample",
    "nondeterministic": "on a GPU, let cuDNN pick its fastest kernels: a rerun differs in the last bits (the CPU's are deterministic anyway)",
    "network": "full, visnet, or a component-analysis variant switching at r: low<r>, high<r>, patch<r>",
    "visnet": "JSON object of the `visnet` block (with --network visnet): its optimiser keys replace the attribution block's",
    "initial": "start from this attribution model's weights",
    "metrics": "metrics files (JSON)",
    "output": "the file written",
    "on_bad_image": "an unreadable image, or one of a single colour, stops the run naming it (fail), or is skipped"
                    " with a warning (skip)",
    "alpha_background": "the colour that transparent pixels are composited on",
    "path": "image folders (their images in name order, the folders in turn) or one LMDB",
    "per_source": "images of each source shown",
    "shown": "images shown in the figure",
    "validation": "one validation image array per source, which calibrate the open-set threshold",
    "unknown": "test image arrays of sources the model was not trained on (open-set evaluation)",
    "open_set": "JSON object of the `open_set` config block",
    "calibration": "the open-set calibration written (evaluate) or read (attribute: default calibration.pt beside the model)",
    "score": "rejection score (attribute): msp or distance; default the calibration's",
    "threshold": "reject images whose score is below this instead of the calibrated threshold",
    "format": "output format: CSV, or one JSON object per line",
    "images": "image arrays (uint8 N x H x W x 3 .npy); for attribute and visualise, image files or folders of any size"
              " and mode: decoded to RGB, the largest centred square (or the CelebA crop) resized to the model's"
              " resolution (Lanczos), smaller images enlarged with a warning",
}


def prepare_real(*, source: typing.Literal["deadleaves", "embedded", "folder", "lmdb"], size: positive,
                 count: positive, path: list[str] = (), crop: CROPS = schema_default("datasets", "*", "crop"),
                 seed: non_negative = schema_default("datasets", "*", "seed"), threads: positive = 1,
                 on_bad_image: BAD_IMAGES = schema_default("datasets", "*", "on_bad_image"),
                 alpha_background: typing.Literal["white", "black"] = schema_default("datasets", "*", "alpha_background"),
                 output: str):
    """decode, crop and resize real images into an .npy array"""
    from .data.real import prepare_real as run

    run(source, output, size, count, path, crop, seed, threads, on_bad_image, alpha_background)


def real_subset(*, images: str, base_size: positive, difference: non_negative,
                seed: non_negative = schema_default("subsets", "seed"), output: str):
    """indices of real_subset_diff_#i"""
    from .data.subsets import subset_diff
    from .storage import load_images, save_array

    save_array(output, subset_diff(len(load_images(images)), base_size, difference, seed))


def split_real(*, images: str, n_train: positive, n_test: positive, n_val: positive,
               seed: non_negative = schema_default("split", "seed"), train_output: str, test_output: str,
               val_output: str):
    """the real class's train, test and validation images"""
    from .data.subsets import real_split
    from .storage import load_images, write_rows

    array = load_images(images)
    for rows, output in zip(real_split(len(array), n_train, n_test, n_val, seed),
                            (train_output, test_output, val_output)):
        write_rows(array, rows, output)


def train_gan(*, arch: str, settings: Settings = Settings(), images: str, subset: str | None = None, seed: non_negative,
              threads: positive = 1, checkpoint_every: typing.Optional[positive] = None, log_every: typing.Optional[positive] = None,
              snapshot: list[float] = (), nondeterministic: bool = False, output: str):
    """train one GAN instance (resumable; settings: its `gan.<arch>` block and resolution)"""
    from .gans.training import train_gan as run

    run(arch, dict(settings), images, output, seed, threads, subset, checkpoint_every, log_every, snapshot,
        deterministic=not nondeterministic)


def sample_gan(*, checkpoint: str, snapshot: str | None = None, n_train: positive, n_test: positive,
               n_val: positive, seed: non_negative, batch: positive = schema_default("sampling", "batch"),
               export: EXPORTS = "round", threads: positive = 1, train_output: str, test_output: str, val_output: str):
    """sample train, test and validation images from a trained GAN (or from one of its snapshots);
    export: round, truncate or stretch (see sampling.export in the config schema)"""
    from .gans.sampling import sample_gan as run

    run(checkpoint, {train_output: n_train, test_output: n_test, val_output: n_val}, seed, batch, threads, snapshot,
        export)


def train_attribution(*, train: list[str], sources: list[str], settings: Settings = Settings(),
                      visnet: Settings = Settings(), initial: str | None = None, network: str = "full",
                      threads: positive = 1, output: str):
    """train the attribution network or visNet over sources (settings: the `attribution` block)"""
    from .attribution.training import OptimiserSettings, VisNetLoss, train_attribution as run
    from .names import VISNET

    block = complete_block(dict(settings), "attribution")
    loss = None
    if network == VISNET:
        visnet_block = complete_block(dict(visnet), "visnet")
        block.update({key: visnet_block[key] for key in block.keys() & visnet_block.keys()})
        loss = settings_of(VisNetLoss, visnet_block, "visnet")
    optimiser = settings_of(OptimiserSettings, block, "attribution")
    run(train, sources, output, optimiser, block["fmap_base"], block["fmap_max"], block["seed"], threads, initial,
        network, loss)


def evaluate(*, model: str, test: list[str], validation: list[str] = (), unknown: list[str] = (),
             open_set: Settings = Settings(), label: list[key_value] = (),
             batch: positive = schema_default("attribution", "eval_batch"),
             seed: non_negative = schema_default("attribution", "seed"), threads: positive = 1, metrics: str,
             features: str, confusion: str, calibration: str | None = None):
    """accuracy, confusion, features and FD ratio of an attribution model (seed: of the FD-ratio halves), and its open-set calibration"""
    from .attribution.evaluation import evaluate_attribution

    if bool(validation) != bool(calibration):
        raise GanprintError("--validation and --calibration go together: the validation images calibrate the model")
    if unknown and not validation:
        raise GanprintError("--unknown needs --validation: rejection is measured at the calibrated threshold")
    evaluate_attribution(model, test, metrics, features, confusion, dict(label), batch, threads, seed,
                         list(validation), calibration, dict(open_set), list(unknown))


def baseline(*, method: str, train: list[str] = (), test: list[str], sources: list[str], settings: Settings = Settings(),
             label: list[key_value] = (), seed: non_negative = schema_default("baselines", "seed"),
             threads: positive = 1, metrics: str):
    """attribute an experiment's test images with a baseline (knn, eigenface, prnu, dct, inception)"""
    from .baselines.evaluation import evaluate_baseline

    evaluate_baseline(method, list(train), test, sources, dict(settings), metrics, dict(label), threads, seed)


def attribute(images: list[str], *, model: str, calibration: str | None = None,
              score: typing.Optional[typing.Literal["msp", "distance"]] = None, threshold: float | None = None,
              crop: CROPS = "centre", batch: positive = schema_default("attribution", "eval_batch"),
              threads: positive = 1, on_bad_image: BAD_IMAGES = "skip", format: typing.Literal["csv", "jsonl"] = "csv",
              output: str | None = None):
    """attribute image files or folders with a trained attribution model: "unknown" below the calibrated threshold"""
    from .attribution.inference import attribute as run, write_attributions

    write_attributions(run(model, images, calibration, score, threshold, crop, batch, threads, on_bad_image,
                           progress=True), output, format)


def table(*, metrics: list[str], per_class: bool = False, selections: list[str] = (), output: str):
    """assemble a CSV table from metrics files (selections: artifact-free, say how LPIPS was computed)"""
    from .tables import write_table

    print(write_table(metrics, output, per_class, list(selections)).to_string(index=False))


def select_artifact_free(*, real: str, test: str, settings: Settings = Settings(), threads: positive = 1,
                         selection: str, output: str):
    """the generated test images closest (LPIPS) to a real image (settings: the `artifact_free` block)"""
    from .artifact_free import select_artifact_free as run

    block = complete_block(dict(settings), "artifact_free")
    run(real, test, selection, output, block["fraction"], block["net"], block["backbone_weights"],
        block["uncalibrated_fallback"], block["batch"], threads)


def figure_selection(*, images: list[str], selections: list[str], labels: list[str], per_row: positive = 8,
                     title: str = "", output: str):
    """selected and not selected images per source (Figure 5)"""
    from .figures import selection_grid

    selection_grid(images, selections, labels, output, per_row, title)


def attack(*, name: str, images: list[str], settings: Settings = Settings(),
           seed: non_negative = schema_default("attacks", "seed"),
           streams: list[str] = (), batch: positive = 1024, threads: positive = 1, output: list[str]):
    """perturb every image of each array (noise, blur, crop, jpeg, relight, combination; settings: `attacks`)"""
    from .attacks import AttackSettings, attack_images

    attack_settings = settings_of(AttackSettings, complete_block(dict(settings), "attacks"), "attacks")
    streams = list(streams) or [str(i) for i in range(len(images))]
    if not len(images) == len(output) == len(streams):
        raise GanprintError(f"{len(images)} image arrays, {len(output)} outputs, {len(streams)} streams")
    for array, written, stream in zip(images, output, streams):
        attack_images(name, array, written, seed, stream, attack_settings, batch, threads)


def attack_table(*, metrics: list[str], clean: list[str] = (), output: str):
    """Table 7/8 from metrics files labelled attack=, stage= (clean: the row 'none')"""
    from .tables import write_attack_table

    print(write_attack_table(metrics, output, list(clean)).to_string(index=False))


def open_set_table(*, metrics: list[str], output: str):
    """the open-set table from the metrics of classifiers each trained without one source"""
    from .tables import write_open_set_table

    print(write_open_set_table(metrics, output).to_string(index=False))


def component_table(*, kind: typing.Literal["bands", "patches"], metrics: list[str], networks: list[str], output: str):
    """Table 4 (bands) or Table 5 (patches) from metrics files, each standing for one network"""
    from .tables import write_component_table

    print(write_component_table(kind, metrics, networks, output).to_string(index=False))


def figure_components(*, table: str, kind: typing.Literal["bands", "patches"], title: str = "", output: str):
    """accuracy against switching resolution (bands) or patch size (patches)"""
    from .figures import component_curves

    component_curves(table, kind, output, title)


def length_table(*, metrics: list[str], images_per_run: typing.Optional[positive] = None, output: str):
    """accuracy against GAN training length, from the metrics of an experiment and of its snapshots"""
    from .tables import write_length_table

    print(write_length_table(metrics, output, images_per_run).to_string(index=False))


def figure_length(*, table: str, dataset: str, title: str = "", output: str):
    """accuracy of every method against GAN training length"""
    from .figures import training_length_curves

    training_length_curves(table, dataset, output, title)


def table_page(*, table: str, title: str = "", output: str):
    """a CSV table as an HTML page (for the Snakemake report)"""
    from .report import write_table_page

    write_table_page(table, output, title)


def figure_samples(*, images: list[str], labels: list[str], per_source: positive = 8, title: str = "", output: str):
    """a labelled grid of samples, one row per source"""
    from .figures import sample_grid

    sample_grid(images, labels, output, per_source, title)


def figure_fingerprints(*, model: str, test: list[str], per_source: positive = 2,
                        batch: positive = schema_default("attribution", "eval_batch"), threads: positive = 1,
                        title: str = "", correlations: str, output: str):
    """Figure 7: a visNet's model and image fingerprints and their responses (correlations: the mean-correlation CSV)"""
    from .attribution.visualisation import fingerprint_figure

    print(fingerprint_figure(model, test, output, correlations, per_source, batch, threads, title).round(3).to_string())


def figure_map(*, features: str, test: list[str], sources: list[str], per_source: positive = 500,
               seed: non_negative = 0, threads: positive = 1, title: str = "", output: str):
    """Figure 1: t-SNE maps of test images by learned fingerprint features (an evaluation's features.npz) and by pixels"""
    from .maps import fingerprint_map

    fingerprint_map(features, test, sources, output, per_source, seed, threads, title)


def visualise(images: list[str], *, model: str, crop: CROPS = "centre", shown: positive = 8,
              batch: positive = schema_default("attribution", "eval_batch"), threads: positive = 1,
              on_bad_image: BAD_IMAGES = "skip", table: str | None = None, output: str):
    """image fingerprints of image files or folders with a trained visNet: a figure of the first --shown, a correlation table of all"""
    from .attribution.visualisation import visualise_files

    result = visualise_files(model, images, output, table, crop, shown, batch, threads, on_bad_image)
    if not table:
        print(result.to_csv(index=False), end="")


STAGES = [prepare_real, real_subset, split_real, train_gan, sample_gan, train_attribution, evaluate, baseline, attribute,
          table, select_artifact_free, figure_selection, attack, attack_table, open_set_table, component_table, figure_components,
          length_table, figure_length, table_page, figure_samples, figure_fingerprints, figure_map, visualise]


def argument(parameter: inspect.Parameter) -> tuple[list[str], dict]:
    """The argparse names and keywords of one parameter of a stage."""
    kind, default = parameter.annotation, parameter.default
    required = default is inspect.Parameter.empty
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(option for option in typing.get_args(kind) if option is not type(None))
    keywords = {"help": HELP.get(parameter.name, "")}
    if kind is bool:
        keywords.update(action="store_true")
    elif typing.get_origin(kind) is list:
        keywords.update(type=typing.get_args(kind)[0], nargs="+" if required else "*", action="extend")
        default = None if required else list(default)
    elif typing.get_origin(kind) is typing.Literal:
        keywords.update(choices=typing.get_args(kind))
    else:
        keywords.update(type=kind)
    if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
        return [parameter.name], keywords
    keywords.update(required=True, default=argparse.SUPPRESS) if required else keywords.update(default=default)
    return ["--" + parameter.name.replace("_", "-")], keywords


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganprint", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    stages = parser.add_subparsers(dest="stage", required=True)
    for stage in STAGES:
        subparser = stages.add_parser(stage.__name__.replace("_", "-"), help=stage.__doc__.split("\n")[0],
                                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        for parameter in inspect.signature(stage).parameters.values():
            names, keywords = argument(parameter)
            subparser.add_argument(*names, **keywords)
        subparser.set_defaults(run=stage)
    return parser


def _exit_on_sigterm(signum, frame):
    """A terminated job (a scheduler's cancel or time limit) unwinds like an interrupt, so
    partly written outputs are removed on the way out."""
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = vars(build_parser().parse_args(argv))
    stage, run, quiet = args.pop("stage"), args.pop("run"), args.pop("quiet")
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger(__name__).info("ganprint %s %s from %s, CPU kernels: %s", __version__, stage,
                                     Path(__file__).parent, CPU_ISA)
    try:
        run(**args)
    except GanprintError as error:
        print(f"ganprint {stage}: error: {error}", file=sys.stderr)
        return 1
    return 0

