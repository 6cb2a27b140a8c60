"""How much Table 3 and the sanity check move with the GANs' seeds: the config's Table 3 and
sanity check (same-seed twins, twins up to numeric noise, different seeds), then the same with other seed sets (every other setting the config's), each
in its own results folder; prints and writes each method's figures per seed set and their
range.

    python benchmarks/seed_spread.py --cores 2            # the demo: seeds 1-3, 4-6, 7-9, 10-12
    python benchmarks/seed_spread.py --configfile C --sets 1,2,3 4,5,6 --cores 8

The first set is the config's own Table 3, so it reuses (or builds) its results. Each further
set of seeds a, b, c trains ProGANs a, b, c and a's twins, as the config's own set does,
under <results>/seed_spread/seeds_a_b_c. Writes <results>/seed_spread.csv.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
GAN_SOURCE = re.compile(r"^(?P<arch>\w+?)_(?P<subset>all|diff\d+)_s(?P<seed>\d+)$")
TWIN_SUFFIX = re.compile(r"^(.*?)(_(?:run|noisy)\d+)?$")
# The sanity check's rows by experiment, as the spread names them
SANITY_ROWS = {"sanity_same_seed": "sanity: same seed", "sanity_noise": "sanity: numeric noise",
               "sanity_diff_seed": "sanity: different seeds"}


def load_config(paths: list[str]) -> dict:
    config = {}
    for path in paths:
        config.update(yaml.safe_load(Path(path).read_text()) or {})
    return config


def reseeded(sources: list[str], seeds: dict[int, int]) -> list[str]:
    """The experiment's sources with every GAN seed s replaced by seeds[s] (twins keep their
    `_run<k>` or `_noisy<k>`)."""
    def swap(source: str) -> str:
        name, run = TWIN_SUFFIX.match(source).groups()
        match = GAN_SOURCE.match(name)
        if match is None:
            return source
        return f"{match['arch']}_{match['subset']}_s{seeds[int(match['seed'])]}{run or ''}"

    return [swap(source) for source in sources]


def overlay(config: dict, seed_set: tuple[int, ...], results: str) -> dict:
    """The config's Table 3 and sanity-check experiments with the GAN seeds of `seed_set`."""
    table3 = config["experiments"]["table3"]["sources"]
    own_seeds = [int(GAN_SOURCE.match(s)["seed"]) for s in table3 if GAN_SOURCE.match(s)]
    if len(own_seeds) != len(seed_set):
        raise SystemExit(f"seed sets need {len(own_seeds)} seeds, as the config's Table 3 has; got {seed_set}")
    seeds = dict(zip(own_seeds, seed_set))
    experiments = {name: {"sources": reseeded(config["experiments"][name]["sources"], seeds)}
                   for name in ("table3", *SANITY_ROWS) if name in config["experiments"]}
    return {"pathvars": {"results": results}, "experiments": experiments}


def run_set(configfiles: list[str], extra: dict | None, results: str, cores: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(extra or {}, handle)
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), f"{results}/table3.csv",
               f"{results}/sanity_check.csv", "--configfile", *configfiles, handle.name]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def figures(results: str, label: str) -> pd.DataFrame:
    table3 = pd.read_csv(REPO / results / "table3.csv")
    sanity = pd.read_csv(REPO / results / "sanity_check.csv")
    rows = [table3.assign(table="table3"), sanity.assign(table=sanity["experiment"].map(SANITY_ROWS))]
    return pd.concat(rows)[["table", "method", "accuracy"]].assign(seeds=label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", nargs="+", default=["config.yaml"])
    parser.add_argument("--sets", nargs="+", default=["1,2,3", "4,5,6", "7,8,9", "10,11,12"],
                        help="seed sets, comma-separated; the first is the config's own")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    config = load_config([REPO / path for path in args.configfile])
    base = config.get("pathvars", {}).get("results", "results")
    seed_sets = [tuple(int(seed) for seed in text.split(",")) for text in args.sets]

    collected = []
    for index, seed_set in enumerate(seed_sets):
        label = "-".join(map(str, seed_set))
        results = base if index == 0 else f"{base}/seed_spread/seeds_{label.replace('-', '_')}"
        run_set(args.configfile, None if index == 0 else overlay(config, seed_set, results), results, args.cores)
        collected.append(figures(results, label))

    wide = pd.concat(collected).pivot_table(index=["table", "method"], columns="seeds", values="accuracy",
                                           sort=False)[["-".join(map(str, s)) for s in seed_sets]]
    wide["min"], wide["max"] = wide.min(axis=1), wide.max(axis=1)
    wide.round(2).to_csv(REPO / base / "seed_spread.csv")
    print(wide.round(2).to_string())


if __name__ == "__main__":
    main()
