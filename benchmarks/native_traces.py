"""Attributing generators that differ only in a trace at native resolution (ganprint.data.traces):
the README's own-images recipe (its mine.yaml) on folders of same-content images, each source
with its own two-fold enlargement, read by resizing to image_size and by native patches, with
the paper's network input (the image) and the residual one, beside the DCT, Eigenface and kNN
baselines. Prints and writes <output>/native_traces.csv (accuracy, %).

With --formats, the file-format shortcut instead: two sources of the very same pictures, one
saved as PNG and one as JPEG at quality 90, read natively, as they are and re-encoded
(`reencode`) at each of --qualities; writes <output>/formats.csv.

    python benchmarks/native_traces.py --output results/native_traces --cores 2          # 3,000 images per source
    python benchmarks/native_traces.py --output /tmp/traces --count 300 --epochs 3      # a few minutes
    python benchmarks/native_traces.py --output results/native_traces --formats --cores 2

Every run is the README's Snakemake command on a config made from its mine.yaml (the same
keys, the trace folders as sources, `crop` and `attribution.input` set per variant).
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BASELINES = ("dct", "eigenface", "knn")
CROPS = ("centre", "native")
INPUTS = ("image", "residual")


def readme_recipe() -> dict:
    """The README's mine.yaml."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n# mine\.yaml\n(.*?)```", text, re.S)
    if block is None:
        raise SystemExit("README.md holds no mine.yaml block")
    return yaml.safe_load(block.group(1))


def variant_config(recipe: dict, folders: dict, crop: str, network_input: str, results: Path,
                   count: int | None, epochs: int | None, reencode: int | None = None) -> dict:
    config = json.loads(json.dumps(recipe))
    config["pathvars"] = {"results": str(results)}
    if reencode:
        config["reencode"] = {"format": "jpeg", "quality": reencode}
    config["folder_sources"] = {name: {"path": str(path), "crop": crop} for name, path in folders.items()}
    config["experiments"] = {"mine": {"sources": list(folders)}}
    config["open_set"] = {"experiment": "mine"}
    config["attribution"]["input"] = network_input
    if epochs:
        config["attribution"]["epochs"] = epochs
    if count:
        config["split"] = {"n_train": count * 2 // 3, "n_test": count // 6, "n_val": count - count * 2 // 3 - count // 6}
    return config


def run(config: dict, where: Path, targets: list[str], cores: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    path = where / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    command = ["snakemake", *targets, "--cores", str(cores), "--configfile", str(path), "--quiet", "rules"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"snakemake failed: {' '.join(command)}")


def accuracy(path: Path) -> float:
    return round(json.loads(path.read_text())["accuracy"], 1)


def measured(config: dict, cores: int, row: dict) -> dict:
    """The variant's run, and its row: the network's and the baselines' accuracies."""
    results = Path(config["pathvars"]["results"])
    metrics = results / "attribution/deadleaves/mine/full/metrics.json"
    baselines = [results / f"baselines/deadleaves/mine/{method}.json" for method in BASELINES]
    run(config, results, [str(metrics), *map(str, baselines)], cores)
    row = {**row, "ours": accuracy(metrics), **{method: accuracy(path) for method, path in zip(BASELINES, baselines)}}
    print(json.dumps(row), flush=True)
    return row


def source_folders(images: Path, sources: dict, count: int, size: int) -> dict:
    from ganprint.data.traces import write_trace_folders

    if not all((images / name).is_dir() for name in sources):
        write_trace_folders(images, sources, count, size)
    return {name: images / name for name in sources}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="folder of the images, the results and the tables")
    parser.add_argument("--count", type=int, default=None, help="images per source (default: what the recipe's split takes)")
    parser.add_argument("--epochs", type=int, default=None, help="attribution epochs (default: the recipe's)")
    parser.add_argument("--size", type=int, default=128, help="side of the traced images")
    parser.add_argument("--formats", action="store_true", help="the file-format shortcut instead of the traces")
    parser.add_argument("--qualities", type=int, nargs="+", default=[75, 30], help="re-encoding JPEG qualities (--formats)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    from ganprint.data.traces import format_sources, trace_sources

    recipe = readme_recipe()
    count = args.count or sum(recipe["split"][key] for key in ("n_train", "n_test", "n_val"))
    output = Path(args.output).resolve()
    rows = []
    if args.formats:
        folders = source_folders(output / "format_images", format_sources(), count, args.size)
        for quality in [None, *args.qualities]:
            config = variant_config(recipe, folders, "native", "residual", output / f"formats_reencode_{quality}",
                                    args.count, args.epochs, quality)
            rows.append(measured(config, args.cores, {"reencode_quality": quality or "none"}))
        name = "formats.csv"
    else:
        folders = source_folders(output / "images", trace_sources(), count, args.size)
        for crop in CROPS:
            for network_input in INPUTS:
                config = variant_config(recipe, folders, crop, network_input, output / crop, args.count, args.epochs)
                rows.append(measured(config, args.cores, {
                    "input": "resized to image_size" if crop == "centre" else "native patches",
                    "network_input": network_input}))
        name = "native_traces.csv"
    table = pd.DataFrame(rows)
    table.to_csv(output / name, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
