"""Projected device-hours of each table of a config, from rates measured here.

Measures, on the device at hand (the GPU when present) and with the config's own settings
and image size: ProGAN training per resolution, SNGAN / CramerGAN / MMDGAN iterations,
generator sampling, the attribution network's training and inference, PRNU residuals and
the kNN search. Then, for each table the config can build, it lists the jobs Snakemake
plans for it from scratch (a dry run with --forceall) and charges each job its work over
the measured rate: a GAN's training run, the images each source samples, the attribution
networks' epochs (the component variants, visNet and the defense at the classifier's
rate), the PRNU chain's images, the kNN pairs. Jobs of other rules are counted and named,
not charged (figures, tables, attacks on the CPU, the LPIPS search and the artifact-free
evaluations, Eigenface, DCT, robustness).
A table's hours include every job it needs, shared ones too; "all" is the whole workflow,
each job once. Everything runs one job at a time on one device.

    python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml
    python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml --quick   # fewer steps
    python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml --rates benchmarks/rates/h100.json

With --rates, nothing is measured: the rates are read from the file (the JSON of the "rates"
line of a run on another device, with its "device").

Prints one JSON line per measured rate and per table, then a Markdown table.
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from ganprint import GanprintError, costs, runtime
from ganprint.config_checks import read_config


def report(**fields):
    print(json.dumps(fields), flush=True)


def measured_rates(config: dict, args) -> tuple[str, costs.Rates]:
    device = runtime.configure(args.threads, seed=0, deterministic=False)
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({args.threads} threads)"
    report(stage="device", device=device_name, torch=torch.__version__, config=args.configfile)
    started = time.perf_counter()
    rates = costs.Rates.measure(config, device, args.quick)
    report(stage="measured", seconds=round(time.perf_counter() - started, 1))
    return device_name, rates


def read_rates(path: str) -> tuple[str, costs.Rates]:
    """(device, rates) of a rates file: Rates' fields and the device they were measured on."""
    fields = json.loads(Path(path).read_text())
    try:
        device = fields.pop("device")
        return device, costs.Rates(**{key: value for key, value in fields.items() if not key.startswith("_")})
    except (KeyError, TypeError) as error:
        raise SystemExit(f"paper_scale.py: {path} is not a rates file ({error}): it needs 'device' and "
                         f"{[field.name for field in dataclasses.fields(costs.Rates)]}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", required=True, nargs="+", help="the config files to project, in Snakemake's order")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps and smaller sets")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (when no GPU)")
    parser.add_argument("--rates", help="project from the rates in this JSON file instead of measuring them")
    parser.add_argument("--tables", nargs="*", default=[*costs.TABLES, "all"],
                        help="tables to project, 'all' for the whole workflow (default: every table the config has, and all)")
    args = parser.parse_args()
    configfiles = [str(Path(path).resolve()) for path in args.configfile]
    try:
        config = read_config(configfiles)
    except GanprintError as error:
        raise SystemExit(f"paper_scale.py: {error}") from None

    if args.rates:
        device_name, rates = read_rates(args.rates)
        report(stage="device", device=device_name, rates_from=args.rates, config=args.configfile)
    else:
        device_name, rates = measured_rates(config, args)
    report(stage="rates", **dataclasses.asdict(rates))

    jobs = costs.plan(config, configfiles)
    rows = costs.projection(jobs, config, rates, args.tables)
    for row in rows:
        report(stage="projection", **row)
    print(costs.markdown(rows, device_name))


if __name__ == "__main__":
    main()
