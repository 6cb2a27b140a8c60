"""The `ganprint` command: the commands a user runs on new images, and one per workflow stage.

Each command below is a function whose signature is its command line: keyword parameters
become options (`--n-train`), a list one or more values, a bool a flag, `settings` a JSON
object of the stage's config block (its defaults are the config schema's, see
`settings.py`). Its docstring is its help: the first paragraph says what it does, each
`name: text` line what a parameter means (COMMON_HELP holds those that mean the same in
every command), and an `examples:` paragraph ends the help of a user command.
"""

import argparse
import dataclasses
import inspect
import logging
import re
import shutil
import signal
import sys
import textwrap
import types
import typing
from pathlib import Path

from . import CPU_ISA, __version__
from .errors import GanprintError
from .names import HIGH_BAND_INPUTS
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


CROPS = typing.Literal["centre", "celeba", "native"]  # patches.CROP_MODES
BAD_IMAGES = typing.Literal["fail", "skip"]
EXPORTS = typing.Literal["round", "truncate", "stretch"]  # convert.EXPORTS
HIGH_BAND_INPUT = typing.Literal[tuple(HIGH_BAND_INPUTS)]

# Help of the parameters that mean the same in every command that has them; a command's
# docstring line (`name: text`) describes each of its other parameters, or overrides these.
COMMON_HELP = {
    "threads": "CPU threads",
    "batch": "images per batch",
    "output": "the file written",
    "title": "the title drawn above it",
    "label": "KEY=VALUE pairs copied into the metrics (dataset=..., experiment=...)",
    "sources": "source names, in the order of the image arrays",
    "train": "one training image array (.npy) per source, in the order of the sources",
    "test": "one test image array (.npy) per source, in the order of the sources",
    "crop": "centre: the largest centred square, resized; celeba: the 128x128 square around (89, 121) of an aligned"
            " CelebA image, resized; native: no resizing, a centred window of native pixels",
    "preprocessing": "how the images were made from their files (a JSON object of patches.Preprocessing: size, crop,"
                     " window, grid, align, alpha_background); recorded with the model",
    "on_bad_image": "an unreadable image, or one of a single colour, stops the run naming it (fail), or is skipped"
                    " with a warning (skip)",
}


def prepare_real(*, source: typing.Literal["deadleaves", "embedded", "folder", "lmdb"], size: positive,
                 count: positive, path: list[str] = (), crop: CROPS = schema_default("datasets", "*", "crop"),
                 seed: non_negative = schema_default("datasets", "*", "seed"), threads: positive = 1,
                 on_bad_image: BAD_IMAGES = schema_default("datasets", "*", "on_bad_image"),
                 alpha_background: typing.Literal["white", "black"] = schema_default("datasets", "*", "alpha_background"),
                 window: positive = schema_default("patches", "window"),
                 align: positive = schema_default("patches", "align"), reencode_quality: typing.Optional[positive] = None,
                 formats: str | None = None, output: str):
    """decode, crop and resize real images into an .npy array

    source: deadleaves: drawn dead-leaves images; embedded: crops of the photographs bundled with
        scikit-image; folder: the images of --path; lmdb: the LSUN LMDB of --path
    size: side of the square images written (pixels)
    count: images written (the first ones of a folder or LMDB)
    path: image folders (their images in name order, the folders in turn) or one LMDB
    seed: seed of the embedded crops and of the dead-leaves images
    alpha_background: the colour that transparent pixels are composited on
    window: with --crop native, the side of the window of native pixels written (the images' side)
    align: with --crop native, the window's corner lies on multiples of this many pixels
    reencode_quality: encode every image as JPEG at this quality, and decode it again, before its crop
    formats: the report of the files' formats written (JSON: containers, JPEG qualities and subsampling, sizes)
    output: the image array written (.npy)
    """
    from .data.real import prepare_real as run

    if reencode_quality is not None and not 1 <= reencode_quality <= 100:
        raise GanprintError(f"--reencode-quality must be in [1, 100], got {reencode_quality}")
    run(source, output, size, count, path, crop, seed, threads, on_bad_image, alpha_background, window, align,
        reencode_quality, formats)


def generate_pipeline(*, pipeline: str, count: positive, prompts: list[str] = (), prompts_file: str | None = None,
                      steps: positive = 50, guidance: float | None = None, seed: non_negative = 0, batch: positive = 8,
                      threads: positive = 1, output: str):
    """images of a local diffusers pipeline as PNG files in a folder, which a folder source then reads

    pipeline: a folder written by the pipeline's save_pretrained (loaded with local_files_only: nothing is
        downloaded)
    count: images written, 000000.png onwards
    prompts: the prompts of a text-to-image pipeline, image i taking prompt i mod their number; none for an
        unconditional pipeline
    prompts_file: a text file of prompts, one a line (after --prompts)
    steps: denoising steps per image
    guidance: classifier-free guidance scale (the pipeline's default when absent)
    seed: image i is made from its own random stream, seeded by (seed, i)
    output: the folder written (whole or not at all)
    """
    from .data.pipelines import generate_pipeline_images

    if prompts_file is not None:
        if not Path(prompts_file).is_file():
            raise GanprintError(f"prompts file {prompts_file} not found")
        prompts = [*prompts, *filter(None, map(str.strip, Path(prompts_file).read_text().splitlines()))]
    generate_pipeline_images(pipeline, output, count, prompts, steps, guidance, seed, batch, threads)


def real_subset(*, images: str, base_size: positive, difference: non_negative,
                seed: non_negative = schema_default("subsets", "seed"), output: str):
    """indices of real_subset_diff_#i: a base subset of the real images with i of them replaced

    images: the real image array (.npy)
    base_size: images in the base subset
    difference: i, the images replaced by images from outside the base subset
    seed: seed of the draw (the same for every i, so the subsets share their base)
    output: the indices written (.npy)
    """
    from .data.subsets import subset_diff
    from .storage import load_images, save_array

    save_array(output, subset_diff(len(load_images(images)), base_size, difference, seed))


def split_real(*, images: str, n_train: positive, n_test: positive, n_val: positive,
               seed: non_negative = schema_default("split", "seed"), train_output: str, test_output: str,
               val_output: str):
    """the real class's train, test and validation images

    images: the real image array (.npy)
    n_train: training images
    n_test: test images
    n_val: validation images
    seed: seed of the split
    train_output: the training images written (.npy)
    test_output: the test images written (.npy)
    val_output: the validation images written (.npy)
    """
    from .data.subsets import real_split
    from .storage import load_images, write_rows

    array = load_images(images)
    for rows, output in zip(real_split(len(array), n_train, n_test, n_val, seed),
                            (train_output, test_output, val_output)):
        write_rows(array, rows, output)


def train_gan(*, arch: str, settings: Settings = Settings(), images: str, subset: str | None = None, seed: non_negative,
              threads: positive = 1, checkpoint_every: typing.Optional[positive] = None, log_every: typing.Optional[positive] = None,
              snapshot: list[float] = (), nondeterministic: bool = False, output: str):
    """train one GAN instance (resumable)

    arch: progan, sngan, cramergan or mmdgan
    settings: the `gan.<arch>` config block and `resolution`
    images: the real image array it learns from (.npy)
    subset: the indices of the real images to train on (.npy); all of them when absent
    seed: seed of the weights and of the data order
    checkpoint_every: images shown between resumable states; every 2% of the run when absent
    log_every: images shown between progress lines; 5% of the run (at most 10,000) when absent
    snapshot: fractions of the run at which the generator's weights are kept as well
    nondeterministic: on a GPU, let cuDNN pick its fastest kernels: a rerun differs in the last bits (the
        CPU's are deterministic anyway)
    output: the checkpoint written (.pt)
    """
    from .gans.training import train_gan as run

    run(arch, dict(settings), images, output, seed, threads, subset, checkpoint_every, log_every, snapshot,
        deterministic=not nondeterministic)


def sample_gan(*, checkpoint: str, snapshot: str | None = None, n_train: positive, n_test: positive,
               n_val: positive, seed: non_negative, batch: positive = schema_default("sampling", "batch"),
               export: EXPORTS = "round", threads: positive = 1, train_output: str, test_output: str, val_output: str):
    """sample train, test and validation images from a trained GAN (or from one of its snapshots)

    checkpoint: the GAN's checkpoint (.pt)
    snapshot: the fraction of the run whose generator samples; the final one when absent
    n_train: training images
    n_test: test images, numbered after the training images
    n_val: validation images, numbered after the test images
    seed: seed of the latent vectors
    batch: images generated per batch
    export: how generated pixels become uint8: round, truncate or stretch (see sampling.export in the config
        schema)
    train_output: the training images written (.npy)
    test_output: the test images written (.npy)
    val_output: the validation images written (.npy)
    """
    from .gans.sampling import sample_gan as run

    run(checkpoint, {train_output: n_train, test_output: n_test, val_output: n_val}, seed, batch, threads, snapshot,
        export)


def train_attribution(*, train: list[str], sources: list[str], settings: Settings = Settings(),
                      visnet: Settings = Settings(), preprocessing: Settings = Settings(), initial: str | None = None,
                      network: str = "full",
                      high_band_input: HIGH_BAND_INPUT = schema_default("components", "high_band_input"),
                      attack: str | None = None, attack_settings: Settings = Settings(),
                      attack_seed: non_negative = schema_default("attacks", "seed"), threads: positive = 1,
                      output: str):
    """train the attribution network or visNet over sources

    settings: the `attribution` config block
    visnet: the `visnet` config block (with --network visnet): its optimiser keys replace the attribution block's
    initial: start from this attribution model's weights; from random weights when absent
    network: full, visnet, or a component-analysis variant switching at resolution r: low<r>, high<r>,
        patch<r>
    high_band_input: how a high<r> network takes its 2r x 2r band: unshuffled to r x r x 12, or at full
        resolution with one conv block more (the `components` block's high_band_input)
    attack: attack every training image afresh at every epoch (noise, blur, crop, jpeg, relight, combination); its
        draws follow --attack-seed, the epoch, the source and the image
    attack_settings: the `attacks` config block (with --attack)
    attack_seed: seed of the attack's draws (with --attack)
    output: the model written (.pt)
    """
    from .attacks import FreshAttack
    from .attribution.training import OptimiserSettings, VisNetLoss, train_attribution as run
    from .names import VISNET

    block = complete_block(dict(settings), "attribution")
    loss = None
    if network == VISNET:
        visnet_block = complete_block(dict(visnet), "visnet")
        block.update({key: visnet_block[key] for key in block.keys() & visnet_block.keys()})
        loss = settings_of(VisNetLoss, visnet_block, "visnet")
    optimiser = settings_of(OptimiserSettings, block, "attribution")
    fresh = FreshAttack(attack, attack_settings_of(attack_settings), attack_seed) if attack else None
    run(train, sources, output, optimiser, block["fmap_base"], block["fmap_max"], block["seed"], threads, initial,
        network, loss, block["input"], preprocessing_of(preprocessing), attack=fresh,
        high_band_input=high_band_input)


def attack_settings_of(block: dict):
    """The attacks.AttackSettings of an `attacks` block given on the command line."""
    from .attacks import AttackSettings

    return settings_of(AttackSettings, complete_block(dict(block), "attacks"), "attacks")


def preprocessing_of(record: dict):
    """The --preprocessing option's object (patches.Preprocessing); none when not given."""
    from .patches import Preprocessing

    return Preprocessing.from_record(dict(record), "--preprocessing") if record else None


def evaluate(*, model: str, test: list[str], validation: list[str] = (), unknown: list[str] = (),
             open_set: Settings = Settings(), label: list[key_value] = (),
             batch: positive = schema_default("attribution", "eval_batch"),
             seed: non_negative = schema_default("attribution", "seed"), threads: positive = 1, metrics: str,
             features: str, confusion: str, calibration: str | None = None):
    """accuracy, confusion, features and FD ratio of an attribution model, and its open-set calibration

    model: the attribution model (.pt)
    validation: one validation image array per source; they calibrate the open-set rejection threshold
    unknown: test image arrays of sources the model was not trained on (open-set evaluation)
    open_set: the `open_set` config block
    seed: seed of the halves of the test features that the FD ratio compares
    metrics: the metrics written (JSON)
    features: the test images' fingerprint features and labels written (.npz)
    confusion: the confusion matrix written (CSV)
    calibration: the open-set calibration written (.pt; with --validation)
    """
    from .attribution.evaluation import evaluate_attribution

    if bool(validation) != bool(calibration):
        raise GanprintError("--validation and --calibration go together: the validation images calibrate the model")
    if unknown and not validation:
        raise GanprintError("--unknown needs --validation: rejection is measured at the calibrated threshold")
    evaluate_attribution(model, test, metrics, features, confusion, dict(label), batch, threads, seed,
                         list(validation), calibration, dict(open_set), list(unknown))


def baseline(*, method: str, train: list[str] = (), test: list[str], sources: list[str], settings: Settings = Settings(),
             preprocessing: Settings = Settings(), label: list[key_value] = (),
             seed: non_negative = schema_default("baselines", "seed"), threads: positive = 1, metrics: str):
    """attribute an experiment's test images with a baseline

    method: knn, eigenface, prnu, dct or inception (FD ratio only)
    train: one training image array (.npy) per source, in the order of the sources (not used by inception)
    settings: the method's settings of the `baselines` config block
    seed: seed of the method's random draws
    metrics: the metrics written (JSON)
    """
    from .baselines.evaluation import evaluate_baseline

    evaluate_baseline(method, list(train), test, sources, dict(settings), metrics, dict(label), threads, seed,
                      preprocessing_of(preprocessing))


def attribute(images: list[str], *, model: str, calibration: str | None = None,
              score: typing.Optional[typing.Literal["msp", "distance"]] = None, threshold: float | None = None,
              crop: typing.Optional[CROPS] = None, batch: positive = schema_default("attribution", "eval_batch"),
              threads: positive = 1, on_bad_image: BAD_IMAGES = "skip", format: typing.Literal["csv", "jsonl"] = "csv",
              output: str | None = None):
    """attribute image files or folders with a trained attribution model: "unknown" below the calibrated threshold

    Output columns, one row per image: image (its path), source (the attributed source, or "unknown" when its score
    is below the threshold), nearest_source (the source of highest probability, even when rejected), probability
    (that highest softmax probability), the score used (msp or distance), and p_<source> for every source.

    images: image files or folders of any size and mode, read as the model's training images were (the
        preprocessing recorded with it): decoded to RGB, then cropped and resized to the model's resolution
        (Lanczos; smaller images are enlarged, with a warning), or, for a model of native patches, cut into its
        grid of patches of native pixels, whose predictions are combined
    crop: the model's crop (recorded with it); another is refused
    model: the attribution model (model.pt of the workflow's results/.../attribution/...)
    calibration: the open-set calibration; calibration.pt beside the model when absent
    score: the rejection score; the calibration's when absent. msp: the highest softmax probability, 1/(number of
        sources) to 1. distance: minus the mean, over the network's layers, of each layer's squared Mahalanobis
        distance to the nearest source, in standard deviations of the validation images' (0: a typical validation
        image; lower: farther from every known source)
    threshold: reject images whose score is below this instead of the calibrated threshold (which rejects
        open_set.false_rejection_rate of the validation images: for msp near 1 when the classifier is confident,
        for distance about -1.5 at the default rate, 0.05)
    format: CSV, or one JSON object per line
    output: the attributions written (one row per image); standard output when absent

    examples:
      # the demo's Table 3 classifier (after `snakemake --cores 2`) on a folder of 32x32 images
      ganprint attribute --model results/attribution/deadleaves/table3/full/model.pt \\
          --output attributions.csv new_images/
      # one JSON object per image on standard output, rejecting by softmax probability below 0.9
      ganprint attribute --model results/attribution/deadleaves/table3/full/model.pt \\
          --score msp --threshold 0.9 --format jsonl image1.png image2.png
      # a model of the CelebA run (workflow/configs/celeba.yaml) on aligned face images
      ganprint attribute --model results/celeba/attribution/celeba/table1/full/model.pt \\
          --output attributions.csv aligned_faces/
    """
    from .attribution.inference import attribute as run, image_files, write_attributions
    from .storage import check_output_path

    files = [str(path) for path in image_files(images)]
    beside_model = str(Path(model).with_name("calibration.pt"))
    check_output_path(output, [model, calibration or beside_model, *files])
    write_attributions(run(model, files, calibration, score, threshold, crop, batch, threads, on_bad_image,
                           progress=True), output, format)


def preflight(*, configfile: list[str], config: list[str] = (), gpu_node: bool = False, no_rates: bool = False,
              no_determinism: bool = False, profile: str | None = None, account: str | None = None):
    """check a run before it spends GPU-hours: its data, weights, devices, cost, disk and cluster, one line each

    Reads the config as `snakemake --configfile ... --config ...` would, and reports: each data set (it exists,
    holds the images the run reads, a sample decodes and crops; its formats and sizes), the LPIPS and FID
    Inception weights where the jobs will look, the CUDA devices and whether two same-seed trainings on the GPU
    are bit-identical, the measured rates and projected GPU-hours of each table and of the whole run (on a GPU),
    the disk the run needs against the free disk of its results folder, and on SLURM the partitions, each rule's
    request and the account. Each failure says what to do; the exit status is 1 when anything failed. Run it
    where the jobs will run: on a GPU node for the device and cost lines, on the login node for SLURM's.

    configfile: the run's config files, in the order Snakemake is given them
    config: KEY=VALUE overrides, as snakemake --config takes them (and read as it reads them)
    gpu_node: this machine is where the GPU jobs run: no CUDA device is a failure, not a warning
    no_rates: do not measure the rates (a minute or two on a GPU) nor project the GPU-hours
    no_determinism: do not train the two same-seed GANs on the GPU
    profile: the Snakemake profile the run will use (its threads and resources are what SLURM is asked for)
    account: the SLURM account the jobs are charged to (the profile's slurm_account)

    examples:
      # on a GPU node of the cluster, with the same config files as the run
      ganprint preflight --gpu-node --configfile workflow/configs/celeba.yaml site.yaml
      # on the login node: the data, the weights, the disk and SLURM's partitions and requests
      ganprint preflight --profile workflow/profiles/slurm --account my_account \\
          --configfile workflow/configs/celeba.yaml site.yaml
    """
    from .preflight import preflight as run, report

    findings = run(configfile, config, gpu_node=gpu_node, rates=not no_rates, determinism=not no_determinism,
                   profile=profile, account=account)
    return report(findings)


def table(*, metrics: list[str], per_class: bool = False, selections: list[str] = (), output: str):
    """assemble a CSV table from metrics files

    metrics: metrics files (JSON), one row each
    per_class: add a column of accuracy per source
    selections: the artifact-free selections (.npz), which say how the LPIPS distances were computed
    """
    from .tables import write_table

    print(write_table(metrics, output, per_class, list(selections)).to_string(index=False))


def select_artifact_free(*, real: str, test: str, settings: Settings = Settings(), threads: positive = 1,
                         selection: str, output: str):
    """the generated test images closest (LPIPS) to a real image

    real: the real image array (.npy)
    test: the generated test image array (.npy)
    settings: the `artifact_free` config block
    selection: the distances and selected rows written (.npz)
    output: the selected images written (.npy)
    """
    from .artifact_free import select_artifact_free as run

    block = complete_block(dict(settings), "artifact_free")
    run(real, test, selection, output, block["fraction"], block["net"], block["backbone_weights"],
        block["uncalibrated_fallback"], block["batch"], threads)


def figure_selection(*, images: list[str], selections: list[str], labels: list[str], per_row: positive = 8,
                     title: str = "", output: str):
    """selected and not selected images per source (Figure 5)

    images: one test image array (.npy) per source
    selections: one artifact-free selection (.npz) per image array
    labels: one row label per image array
    per_row: images per row
    """
    from .figures import selection_grid

    selection_grid(images, selections, labels, output, per_row, title)


def attack(*, name: str, images: list[str], settings: Settings = Settings(),
           seed: non_negative = schema_default("attacks", "seed"),
           streams: list[str] = (), batch: positive = 1024, threads: positive = 1, output: list[str]):
    """perturb every image of each array (noise, blur, crop, jpeg, relight, combination)

    name: the attack: noise, blur, crop, jpeg, relight or combination
    images: image arrays (.npy), each attacked into the output at its position
    settings: the `attacks` config block
    seed: seed of the perturbations
    streams: one name per image array (e.g. its source and split) that gives it its own draws under the same
        seed; the arrays' positions when absent
    output: the attacked image arrays written (.npy), one per image array
    """
    from .attacks import attack_images

    attack_settings = attack_settings_of(settings)
    streams = list(streams) or [str(i) for i in range(len(images))]
    if not len(images) == len(output) == len(streams):
        raise GanprintError(f"{len(images)} image arrays, {len(output)} outputs, {len(streams)} streams")
    for array, written, stream in zip(images, output, streams):
        attack_images(name, array, written, seed, stream, attack_settings, batch, threads)


def attack_table(*, metrics: list[str], clean: list[str] = (), output: str):
    """Table 7/8 from metrics files labelled attack= and stage=

    metrics: metrics files (JSON) of the attacked evaluations
    clean: metrics files (JSON) of the clean evaluations: the row 'none'
    """
    from .tables import write_attack_table

    print(write_attack_table(metrics, output, list(clean)).to_string(index=False))


def open_set_table(*, metrics: list[str], output: str):
    """the open-set table from the metrics of classifiers each trained without one source

    metrics: metrics files (JSON) of the evaluations with --unknown
    """
    from .tables import write_open_set_table

    print(write_open_set_table(metrics, output).to_string(index=False))


def component_table(*, kind: typing.Literal["bands", "patches"], metrics: list[str], networks: list[str], output: str):
    """Table 4 (bands) or Table 5 (patches) from metrics files, each standing for one network

    kind: bands (Table 4) or patches (Table 5)
    metrics: metrics files (JSON), one per network
    networks: the network of each metrics file: low<r>, high<r> or patch<r>
    """
    from .tables import write_component_table

    print(write_component_table(kind, metrics, networks, output).to_string(index=False))


def figure_components(*, table: str, kind: typing.Literal["bands", "patches"], title: str = "", output: str):
    """accuracy against switching resolution (bands) or patch size (patches)

    table: the component table (CSV)
    kind: bands (Table 4) or patches (Table 5)
    """
    from .figures import component_curves

    component_curves(table, kind, output, title)


def length_table(*, metrics: list[str], images_per_run: typing.Optional[positive] = None, output: str):
    """accuracy against GAN training length, from the metrics of an experiment and of its snapshots

    metrics: metrics files (JSON) of the experiment and of its `_at<fraction>` snapshots
    images_per_run: real images shown to each GAN in a whole run; adds the column images_shown
    """
    from .tables import write_length_table

    print(write_length_table(metrics, output, images_per_run).to_string(index=False))


def figure_length(*, table: str, dataset: str, title: str = "", output: str):
    """accuracy of every method against GAN training length

    table: the training-length table (CSV)
    dataset: the data set whose rows are drawn
    """
    from .figures import training_length_curves

    training_length_curves(table, dataset, output, title)


def format_check(*, reports: list[str], sources: list[str], reencoded_quality: typing.Optional[positive] = None,
                 output: str):
    """compare the formats of an experiment's folder sources' files: every difference a classifier could learn

    reports: the format reports (JSON) of the sources, one per source (written at their preparation)
    reencoded_quality: the JPEG quality every source was re-encoded at (the differences are then noted, not warned of)
    output: the differences written (CSV: first, second, difference); empty when there are none
    """
    from .data.formats import compare_sources

    compare_sources(reports, sources, output, reencoded_quality)


def robustness(*, model: str, train: list[str], test: list[str], settings: Settings = Settings(),
               baselines: Settings = Settings(), dataset: str, threads: positive = 1,
               batch: positive = schema_default("attribution", "eval_batch"),
               seed: non_negative = schema_default("baselines", "seed"), output: str):
    """accuracy of a classifier and the baselines on degraded test images (JPEG, downscaling, blur), no retraining

    model: the attribution model (.pt)
    settings: the `robustness` config block
    baselines: the `baselines` config block (each method's settings)
    dataset: the data set's name, written in every row
    seed: seed of the baselines' random draws
    output: the table written (CSV): one row per perturbation, level and method
    """
    from .robustness import robustness_table

    block = complete_block(dict(settings), "robustness")
    robustness_table(model, train, test, block, dict(baselines), output, dataset, threads, batch, seed)


def robustness_table(*, tables: list[str], output: str):
    """the data sets' robustness tables as one

    tables: the robustness tables (CSV) of the data sets
    """
    from .robustness import write_robustness_table

    write_robustness_table(tables, output)


def figure_robustness(*, table: str, dataset: str, title: str = "", output: str):
    """accuracy of every method against the level of each perturbation

    table: the robustness table (CSV)
    dataset: the data set whose rows are drawn
    """
    from .figures import robustness_curves

    robustness_curves(table, dataset, output, title)


def table_page(*, table: str, title: str = "", output: str):
    """a CSV table as an HTML page (for the Snakemake report)

    table: the table (CSV)
    """
    from .report import write_table_page

    write_table_page(table, output, title)


def figure_samples(*, images: list[str], labels: list[str], per_source: positive = 8, title: str = "", output: str):
    """a labelled grid of samples, one row per source

    images: one image array (.npy) per source
    labels: one row label per image array
    per_source: images shown per source
    """
    from .figures import sample_grid

    sample_grid(images, labels, output, per_source, title)


def figure_fingerprints(*, model: str, test: list[str], per_source: positive = 2,
                        batch: positive = schema_default("attribution", "eval_batch"), threads: positive = 1,
                        title: str = "", correlations: str, output: str):
    """Figure 7: a visNet's model and image fingerprints and their responses

    model: the visNet model (.pt)
    per_source: images shown per source
    correlations: the mean correlation of each source's image fingerprints with each model fingerprint written
        (CSV)
    """
    from .attribution.visualisation import fingerprint_figure

    print(fingerprint_figure(model, test, output, correlations, per_source, batch, threads, title).round(3).to_string())


def figure_map(*, features: str, test: list[str], sources: list[str], per_source: positive = 500,
               seed: non_negative = 0, threads: positive = 1, title: str = "", output: str):
    """Figure 1: t-SNE maps of test images by learned fingerprint features and by pixels

    features: an evaluation's fingerprint features (features.npz)
    per_source: images mapped per source
    seed: seed of the drawn images and of t-SNE
    """
    from .maps import fingerprint_map

    fingerprint_map(features, test, sources, output, per_source, seed, threads, title)


def visualise(images: list[str], *, model: str, crop: typing.Optional[CROPS] = None, shown: positive = 8,
              batch: positive = schema_default("attribution", "eval_batch"), threads: positive = 1,
              on_bad_image: BAD_IMAGES = "skip", table: str | None = None, output: str):
    """image fingerprints of image files or folders with a trained visNet: a figure of the first --shown,
    a correlation table of all

    Table columns, one row per image: image (its path), source (the source whose model fingerprint correlates
    best with the image fingerprint) and correlation_<source> for every source (from -1 to 1).

    images: image files or folders of any size and mode, read as the model's training images were (the
        preprocessing recorded with it; for a model of native patches, the first patch of each image's grid)
    crop: the model's crop (recorded with it); another is refused
    model: the visNet model (model.pt of the workflow's results/.../attribution/.../visnet/)
    shown: images drawn in the figure (the first ones)
    table: the correlation of every image with every model fingerprint written (CSV); standard output when
        absent
    output: the figure written (PNG)

    examples:
      # the demo's visNet (after `snakemake --cores 2`) on a folder of 32x32 images
      ganprint visualise --model results/attribution/deadleaves/table3/visnet/model.pt \\
          --output fingerprints.png --table correlations.csv new_images/
      # the visNet of the CelebA run (workflow/configs/celeba.yaml) on aligned face images
      ganprint visualise --model results/celeba/attribution/celeba/table3/visnet/model.pt \\
          --output fingerprints.png --table correlations.csv aligned_faces/
    """
    from .attribution.inference import image_files
    from .attribution.visualisation import visualise_files
    from .storage import check_output_path, spreadsheet_safe_csv

    files = [str(path) for path in image_files(images)]
    check_output_path(output, [model, *files])
    check_output_path(table, [model, *files, output], "--table")
    result = visualise_files(model, files, output, table, crop, shown, batch, threads, on_bad_image)
    if not table:
        print(spreadsheet_safe_csv(result), end="")


# The commands a user runs by hand (on new images, before a run); the stages are the workflow's rules.
USER_COMMANDS = [attribute, visualise, preflight]
STAGES = [prepare_real, generate_pipeline, real_subset, split_real, train_gan, sample_gan, train_attribution, evaluate, baseline, table,
          select_artifact_free, figure_selection, attack, attack_table, open_set_table, component_table,
          figure_components, length_table, figure_length, format_check, robustness, robustness_table, figure_robustness, table_page,
          figure_samples, figure_fingerprints, figure_map]
PARAMETER_LINE = re.compile(r"^(\w+): (.+(?:\n +.+)*)", re.M)
EXAMPLES = "examples:\n"


@dataclasses.dataclass(frozen=True)
class CommandHelp:
    summary: str
    parameters: dict[str, str]
    examples: str
    details: tuple[str, ...] = ()  # paragraphs after the summary (what the command writes)


def command_help(command) -> CommandHelp:
    """A command's help from its docstring: a summary paragraph, paragraphs of details, `name:
    text` lines (indented lines continue them), and `examples:` with its lines as written."""
    summary, _, rest = inspect.getdoc(command).partition("\n\n")
    described, _, examples = rest.partition(EXAMPLES)
    parameters = {name: " ".join(text.split()) for name, text in PARAMETER_LINE.findall(described)}
    details = tuple(" ".join(paragraph.split()) for paragraph in described.split("\n\n")
                    if paragraph.strip() and not PARAMETER_LINE.match(paragraph.strip()))
    return CommandHelp(" ".join(summary.split()), parameters, EXAMPLES + examples if examples else "", details)


def command_name(command) -> str:
    return command.__name__.replace("_", "-")


class CommandHelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one: what an absent option means, its help says."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default in ("", [], {}):
            return action.help
        return super()._get_help_string(action)


def argument(parameter: inspect.Parameter, help_text: str) -> tuple[list[str], dict]:
    """The argparse names and keywords of one parameter of a command."""
    kind, default = parameter.annotation, parameter.default
    required = default is inspect.Parameter.empty
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(option for option in typing.get_args(kind) if option is not type(None))
    if kind is Settings:
        help_text += " (a JSON object; keys left out take the schema's defaults)"
    keywords = {"help": help_text.replace("%", "%%")}
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


def help_width() -> int:
    return shutil.get_terminal_size().columns - 2  # as argparse's


def command_list(heading: str, commands: list) -> str:
    """A heading and one line per command with its summary, laid out like argparse's lists."""
    lines = [heading]
    for command in commands:
        lines += textwrap.wrap(command_help(command).summary, width=help_width(),
                               initial_indent=f"  {command_name(command):<21} ", subsequent_indent=" " * 24)
    return "\n".join(lines)


def add_command(commands, command) -> None:
    described = command_help(command)
    paragraphs = (described.summary, *described.details)
    parser = commands.add_parser(command_name(command),
                                 description="\n\n".join(textwrap.fill(text, help_width()) for text in paragraphs),
                                 epilog=described.examples, formatter_class=CommandHelpFormatter)
    for parameter in inspect.signature(command).parameters.values():
        help_text = described.parameters.get(parameter.name) or COMMON_HELP.get(parameter.name, "")
        names, keywords = argument(parameter, help_text)
        parser.add_argument(*names, **keywords)
    parser.set_defaults(run=command)


def build_parser() -> argparse.ArgumentParser:
    description = "\n\n".join([textwrap.fill(__doc__.split("\n")[0], help_width()),
                                command_list("user commands (on your own images, before a run):", USER_COMMANDS),
                                command_list("workflow stages (the Snakemake rules run these):", STAGES)])
    parser = argparse.ArgumentParser(prog="ganprint", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="stage", required=True, metavar="COMMAND",
                                     help="one of the commands above; `ganprint COMMAND -h` shows its options")
    for command in USER_COMMANDS + STAGES:
        add_command(commands, command)
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
        status = run(**args)
    except GanprintError as error:
        print(f"ganprint {stage}: error: {error}", file=sys.stderr)
        return 1
    return status if isinstance(status, int) else 0

