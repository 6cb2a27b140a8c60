"""The `ganprint` command: one subcommand per workflow stage."""

import argparse
import json
import logging
import sys

from . import GanprintError, __version__


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or positive, got {value}")
    return value


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key, value


def _json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise GanprintError(f"{option} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise GanprintError(f"{option} must be a JSON object, got {text}")
    return value


def prepare_real(args):
    from .data.real import prepare_real as run

    run(args.source, args.output, args.size, args.count, args.path, args.crop, args.seed, args.threads)


def real_subset(args):
    from .data.subsets import subset_diff
    from .storage import load_images, save_array

    total = len(load_images(args.images))
    save_array(args.output, subset_diff(total, args.base_size, args.difference, args.seed))


def split_real(args):
    from .data.subsets import real_split
    from .storage import load_images, write_rows

    images = load_images(args.images)
    train_rows, test_rows = real_split(len(images), args.n_train, args.n_test, args.seed)
    write_rows(images, train_rows, args.train_output)
    write_rows(images, test_rows, args.test_output)


def train_gan(args):
    from .gans.training import train_gan as run

    run(args.arch, _json_object(args.settings, "--settings"), args.images, args.output, args.seed, args.threads, args.subset,
        args.checkpoint_every, args.log_every, args.snapshot)


def sample_gan(args):
    from .gans.sampling import sample_gan as run

    run(args.checkpoint, args.train_output, args.test_output, args.n_train, args.n_test, args.seed, args.batch, args.threads,
        args.snapshot)


def train_attribution(args):
    from .attribution.training import OptimiserSettings, train_attribution as run

    optimiser = OptimiserSettings(learning_rate=args.lr, betas=tuple(args.betas), batch_size=args.batch_size,
                                  epochs=args.epochs, lr_schedule=args.lr_schedule, flip=not args.no_flip)
    run(args.train, args.sources, args.output, optimiser, args.fmap_base, args.fmap_max, args.seed, args.threads,
        args.initial, args.network)


def evaluate(args):
    from .attribution.evaluation import evaluate_attribution

    evaluate_attribution(args.model, args.test, args.metrics, args.features, args.confusion, dict(args.label),
                         args.batch, args.threads, args.seed)


def baseline(args):
    from .baselines.evaluation import evaluate_baseline

    evaluate_baseline(args.method, args.train, args.test, args.sources, _json_object(args.settings, "--settings"),
                      args.metrics, dict(args.label), args.threads, args.seed)


def attribute(args):
    from .attribution.inference import attribute as run
    from .storage import save_table

    result = run(args.model, args.images, args.threshold, args.crop, args.batch, args.threads)
    if args.output:
        save_table(args.output, result)
    else:
        print(result.to_csv(index=False), end="")


def table(args):
    from .tables import write_table

    print(write_table(args.metrics, args.output, args.per_class, args.selections).to_string(index=False))


def component_table(args):
    from .tables import write_component_table

    print(write_component_table(args.kind, args.metrics, args.networks, args.output).to_string(index=False))


def figure_components(args):
    from .figures import component_curves

    component_curves(args.table, args.kind, args.output, args.title)


def select_artifact_free(args):
    from .artifact_free import select_artifact_free as run

    run(args.real, args.test, args.selection, args.output, args.fraction, args.net, args.backbone_weights,
        args.uncalibrated_fallback, args.batch, args.threads)


def figure_selection(args):
    from .figures import selection_grid

    selection_grid(args.images, args.selections, args.labels, args.output, args.per_row, args.title)


def attack(args):
    from .attacks import AttackSettings, attack_images

    settings = _json_object(args.settings, "--settings")
    try:
        settings = AttackSettings(**settings)
    except TypeError as error:
        raise GanprintError(f"--settings: {error}") from error
    streams = args.streams or [str(i) for i in range(len(args.images))]
    if not len(args.images) == len(args.output) == len(streams):
        raise GanprintError(f"{len(args.images)} image arrays, {len(args.output)} outputs, {len(streams)} streams")
    for images, output, stream in zip(args.images, args.output, streams):
        attack_images(args.name, images, output, args.seed, stream, settings, args.batch, args.threads)


def attack_table(args):
    from .tables import write_attack_table

    print(write_attack_table(args.metrics, args.output, args.clean or []).to_string(index=False))


def length_table(args):
    from .tables import write_length_table

    print(write_length_table(args.metrics, args.output, args.images_per_run).to_string(index=False))


def figure_length(args):
    from .figures import training_length_curves

    training_length_curves(args.table, args.dataset, args.output, args.title)


def table_page(args):
    from .report import write_table_page

    write_table_page(args.table, args.output, args.title)


def figure_samples(args):
    from .figures import sample_grid

    sample_grid(args.images, args.labels, args.output, args.per_source, args.title)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganprint", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    stages = parser.add_subparsers(dest="stage", required=True)

    stage = stages.add_parser("prepare-real", help="decode, crop and resize real images into an .npy array")
    stage.add_argument("--source", choices=["deadleaves", "embedded", "folder", "lmdb"], required=True)
    stage.add_argument("--path", help="image folder or LMDB (not for embedded and deadleaves)")
    stage.add_argument("--crop", choices=["centre", "celeba"], default="centre")
    stage.add_argument("--size", type=_positive, required=True)
    stage.add_argument("--count", type=_positive, required=True)
    stage.add_argument("--seed", type=int, default=0)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=prepare_real)

    stage = stages.add_parser("real-subset", help="indices of real_subset_diff_#i")
    stage.add_argument("--images", required=True)
    stage.add_argument("--base-size", type=_positive, required=True)
    stage.add_argument("--difference", type=_non_negative, required=True)
    stage.add_argument("--seed", type=int, default=0)
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=real_subset)

    stage = stages.add_parser("split-real", help="the real class's train and test images")
    stage.add_argument("--images", required=True)
    stage.add_argument("--n-train", type=_positive, required=True)
    stage.add_argument("--n-test", type=_positive, required=True)
    stage.add_argument("--seed", type=int, default=0)
    stage.add_argument("--train-output", required=True)
    stage.add_argument("--test-output", required=True)
    stage.set_defaults(run=split_real)

    stage = stages.add_parser("train-gan", help="train one GAN instance (resumable)")
    stage.add_argument("--arch", required=True)
    stage.add_argument("--settings", default="{}", help="JSON object of the architecture's settings")
    stage.add_argument("--images", required=True)
    stage.add_argument("--subset", help="index file restricting the real images used")
    stage.add_argument("--seed", type=_non_negative, required=True)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--checkpoint-every", type=_positive, help="images between resumable states (default: 2%% of the run)")
    stage.add_argument("--log-every", type=_positive, help="images between progress lines (default: 5%% of the run, at most 10k)")
    stage.add_argument("--snapshot", type=float, action="append", default=[], metavar="FRACTION",
                       help="also keep the generator as it was at this fraction of the run (0 < FRACTION < 1)")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=train_gan)

    stage = stages.add_parser("sample-gan", help="sample train and test images from a trained GAN")
    stage.add_argument("--checkpoint", required=True)
    stage.add_argument("--snapshot", help="sample the snapshot taken at this fraction of the run, not the final weights")
    stage.add_argument("--n-train", type=_positive, required=True)
    stage.add_argument("--n-test", type=_positive, required=True)
    stage.add_argument("--seed", type=_non_negative, required=True)
    stage.add_argument("--batch", type=_positive, default=256)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--train-output", required=True)
    stage.add_argument("--test-output", required=True)
    stage.set_defaults(run=sample_gan)

    stage = stages.add_parser("train-attribution", help="train the attribution network over sources")
    stage.add_argument("--train", nargs="+", required=True, help="one training image array per source")
    stage.add_argument("--sources", nargs="+", required=True, help="source names, in the order of --train")
    stage.add_argument("--lr", type=float, default=1e-3)
    stage.add_argument("--betas", type=float, nargs=2, default=(0.0, 0.99))
    stage.add_argument("--batch-size", type=_positive, default=32)
    stage.add_argument("--epochs", type=_positive, default=10)
    stage.add_argument("--lr-schedule", choices=["constant", "linear"], default="constant")
    stage.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    stage.add_argument("--fmap-base", type=_positive, default=1024)
    stage.add_argument("--fmap-max", type=_positive, default=512)
    stage.add_argument("--initial", help="start from this attribution model's weights")
    stage.add_argument("--network", default="full",
                       help="full, or a component-analysis variant switching at r: low<r>, high<r>, patch<r>")
    stage.add_argument("--seed", type=_non_negative, default=0)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=train_attribution)

    stage = stages.add_parser("evaluate", help="accuracy, confusion, features and FD ratio of a model")
    stage.add_argument("--model", required=True)
    stage.add_argument("--test", nargs="+", required=True, help="one test image array per source, model order")
    stage.add_argument("--label", type=_key_value, nargs="+", action="extend", default=[],
                       help="KEY=VALUE pairs copied into the metrics")
    stage.add_argument("--batch", type=_positive, default=256)
    stage.add_argument("--seed", type=_non_negative, default=0, help="seed of the FD-ratio half split")
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--metrics", required=True)
    stage.add_argument("--features", required=True)
    stage.add_argument("--confusion", required=True)
    stage.set_defaults(run=evaluate)

    stage = stages.add_parser("baseline", help="attribute an experiment's test images with a baseline method")
    stage.add_argument("--method", required=True, help="knn, eigenface, prnu, dct or inception")
    stage.add_argument("--train", nargs="*", default=[], help="one training image array per source (none for inception)")
    stage.add_argument("--test", nargs="+", required=True, help="one test image array per source")
    stage.add_argument("--sources", nargs="+", required=True, help="source names, in the order of --train/--test")
    stage.add_argument("--settings", default="{}", help="JSON object of the method's settings")
    stage.add_argument("--label", type=_key_value, nargs="+", action="extend", default=[],
                       help="KEY=VALUE pairs copied into the metrics")
    stage.add_argument("--seed", type=_non_negative, default=0)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--metrics", required=True)
    stage.set_defaults(run=baseline)

    stage = stages.add_parser("attribute", help="attribute image files with a trained attribution model")
    stage.add_argument("--model", required=True, help="an attribution model (model.pt)")
    stage.add_argument("images", nargs="+", help="image files or folders of images")
    stage.add_argument("--threshold", type=float, default=0.5, help="below this top probability: 'unknown'")
    stage.add_argument("--crop", choices=["centre", "celeba"], default="centre")
    stage.add_argument("--batch", type=_positive, default=256)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--output", help="CSV file (default: standard output)")
    stage.set_defaults(run=attribute)

    stage = stages.add_parser("table", help="assemble a CSV table from metrics files")
    stage.add_argument("--metrics", nargs="+", required=True)
    stage.add_argument("--per-class", action="store_true", help="add a column per source")
    stage.add_argument("--selections", nargs="*", default=[], help="artifact-free selections: adds how LPIPS was computed")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=table)

    stage = stages.add_parser("select-artifact-free", help="the generated test images closest (LPIPS) to a real image")
    stage.add_argument("--real", required=True, help="the real image array searched")
    stage.add_argument("--test", required=True, help="one source's generated test images")
    stage.add_argument("--fraction", type=float, default=0.1, help="share of the test images kept")
    stage.add_argument("--net", choices=["alex", "vgg"], default="alex", help="LPIPS backbone")
    stage.add_argument("--backbone-weights", help="torchvision ImageNet weights file (default: torch's hub cache)")
    stage.add_argument("--uncalibrated-fallback", action="store_true",
                       help="use a random backbone when the weights are missing (uncalibrated distances)")
    stage.add_argument("--batch", type=_positive, default=64)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--selection", required=True, help=".npz: distances, nearest_real, selected, calibrated")
    stage.add_argument("--output", required=True, help="the selected images")
    stage.set_defaults(run=select_artifact_free)

    stage = stages.add_parser("figure-selection", help="selected and not selected images per source (Figure 5)")
    stage.add_argument("--images", nargs="+", required=True, help="each source's test images")
    stage.add_argument("--selections", nargs="+", required=True, help="each source's selection .npz")
    stage.add_argument("--labels", nargs="+", required=True)
    stage.add_argument("--per-row", type=_positive, default=8)
    stage.add_argument("--title", default="")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=figure_selection)

    stage = stages.add_parser("attack", help="perturb every image of an array (noise, blur, crop, jpeg, relight, ...)")
    stage.add_argument("--name", required=True, help="noise, blur, crop, jpeg, relight or combination")
    stage.add_argument("--images", nargs="+", required=True, help="image arrays")
    stage.add_argument("--settings", default="{}", help="JSON object of attack settings (ranges, relight model)")
    stage.add_argument("--seed", type=_non_negative, default=0)
    stage.add_argument("--streams", nargs="+", help="per array, a name giving it its own random draws (source/split)")
    stage.add_argument("--batch", type=_positive, default=1024)
    stage.add_argument("--threads", type=_positive, default=1)
    stage.add_argument("--output", nargs="+", required=True, help="one output per image array")
    stage.set_defaults(run=attack)

    stage = stages.add_parser("attack-table", help="Table 7/8 from metrics files labelled attack=, stage=")
    stage.add_argument("--metrics", nargs="+", required=True)
    stage.add_argument("--clean", nargs="+", help="metrics on clean images (the row 'none')")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=attack_table)

    stage = stages.add_parser("component-table", help="Table 4 (bands) or Table 5 (patches) from metrics files")
    stage.add_argument("--kind", choices=["bands", "patches"], required=True)
    stage.add_argument("--metrics", nargs="+", required=True)
    stage.add_argument("--networks", nargs="+", required=True, help="the network each metrics file stands for")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=component_table)

    stage = stages.add_parser("figure-components", help="accuracy against resolution or patch size")
    stage.add_argument("--table", required=True, help="results/table4.csv (bands) or table5.csv (patches)")
    stage.add_argument("--kind", choices=["bands", "patches"], required=True)
    stage.add_argument("--title", default="")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=figure_components)

    stage = stages.add_parser("length-table", help="accuracy against GAN training length from snapshot metrics")
    stage.add_argument("--metrics", nargs="+", required=True, help="metrics of the experiment and of its snapshot experiments")
    stage.add_argument("--images-per-run", type=_positive, help="real images shown in a whole GAN run")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=length_table)

    stage = stages.add_parser("figure-length", help="accuracy of every method against GAN training length")
    stage.add_argument("--table", required=True, help="results/training_length.csv")
    stage.add_argument("--dataset", required=True)
    stage.add_argument("--title", default="")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=figure_length)

    stage = stages.add_parser("table-page", help="a CSV table as an HTML page (for the Snakemake report)")
    stage.add_argument("--table", required=True)
    stage.add_argument("--title", default="")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=table_page)

    stage = stages.add_parser("figure-samples", help="a labelled grid of samples, one row per source")
    stage.add_argument("--images", nargs="+", required=True, help="one image array per source")
    stage.add_argument("--labels", nargs="+", required=True, help="row labels, in the order of --images")
    stage.add_argument("--per-source", type=_positive, default=8)
    stage.add_argument("--title", default="")
    stage.add_argument("--output", required=True)
    stage.set_defaults(run=figure_samples)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        args.run(args)
    except GanprintError as error:
        print(f"ganprint {args.stage}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
