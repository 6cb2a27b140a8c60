"""How much Table 3, the sanity check and the diffusion tables move with the generators'
seeds: the config's Table 3, sanity check (same-seed twins, twins up to numeric noise,
different seeds), beyond_diffusion and diffusion_seeds tables, then the same with other seed
sets (every other setting the config's), each in its own results folder; prints and writes
each method's figures per seed set and their range.

    python benchmarks/seed_spread.py --cores 2            # the demo: seeds 1-3, 4-6, 7-9, 10-12
    python benchmarks/seed_spread.py --configfile C --sets 1,2,3 4,5,6 --cores 8
    python benchmarks/seed_spread.py --tables beyond_diffusion diffusion_seeds --sets 1,2,3 4,5,6 7,8,9

The first set is the config's own seeds, so it reuses (or builds) its results. A further set
of seeds a, b, c replaces every generator seed 1, 2, 3 of those tables' experiments by a, b, c
(ProGANs a, b, c and a's twins; diffusion models a and b and a's twin), under
<results>/seed_spread/seeds_a_b_c. Writes <results>/seed_spread.csv (or --output).
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
# The tables' rows by experiment, as the spread names them (a table of one experiment: its name)
TABLE_ROWS = {
    "table3": {"table3": "table3"},
    "sanity_check": {"sanity_same_seed": "sanity: same seed", "sanity_noise": "sanity: numeric noise",
                     "sanity_diff_seed": "sanity: different seeds"},
    "beyond_diffusion": {"beyond_diffusion": "beyond_diffusion"},
    "diffusion_seeds": {"diffusion_same_seed": "diffusion: same seed", "diffusion_diff_seed": "diffusion: different seeds"},
}


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


def spread_tables(config: dict, asked: list[str] | None) -> list[str]:
    """The tables asked for (all of TABLE_ROWS by default) that the config has experiments for."""
    tables = [t for t in asked or TABLE_ROWS if any(e in config["experiments"] for e in TABLE_ROWS[t])]
    if "table3" not in config["experiments"] or not tables:
        raise SystemExit("the seed spread needs the config's table3 (its seeds) and one of the tables "
                         f"{', '.join(asked or TABLE_ROWS)}")
    return tables


def overlay(config: dict, tables: list[str], seed_set: tuple[int, ...], results: str) -> dict:
    """The experiments of `tables` with the generator seeds of `seed_set` in place of Table 3's."""
    table3 = config["experiments"]["table3"]["sources"]
    own_seeds = [int(GAN_SOURCE.match(s)["seed"]) for s in table3 if GAN_SOURCE.match(s)]
    if len(own_seeds) != len(seed_set):
        raise SystemExit(f"seed sets need {len(own_seeds)} seeds, as the config's Table 3 has; got {seed_set}")
    seeds = dict(zip(own_seeds, seed_set))
    experiments = {name: {"sources": reseeded(config["experiments"][name]["sources"], seeds)}
                   for table in tables for name in TABLE_ROWS[table] if name in config["experiments"]}
    return {"pathvars": {"results": results}, "experiments": experiments}


def run_set(configfiles: list[str], extra: dict | None, tables: list[str], results: str, cores: int) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(extra or {}, handle)
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores),
               *[f"{results}/{table}.csv" for table in tables], "--configfile", *configfiles, handle.name]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def figures(results: str, tables: list[str], label: str) -> pd.DataFrame:
    frames = [pd.read_csv(REPO / results / f"{table}.csv") for table in tables]
    rows = [frame.assign(table=frame["experiment"].map(TABLE_ROWS[table])) for frame, table in zip(frames, tables)]
    return pd.concat(rows)[["table", "method", "accuracy"]].assign(seeds=label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", nargs="+", default=["config.yaml"])
    parser.add_argument("--sets", nargs="+", default=["1,2,3", "4,5,6", "7,8,9", "10,11,12"],
                        help="seed sets, comma-separated; the first is the config's own")
    parser.add_argument("--tables", nargs="+", choices=list(TABLE_ROWS),
                        help="the tables to spread (default: every one the config has)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--output", help="the CSV written (default: <results>/seed_spread.csv)")
    args = parser.parse_args()
    config = load_config([REPO / path for path in args.configfile])
    tables = spread_tables(config, args.tables)
    base = config.get("pathvars", {}).get("results", "results")
    seed_sets = [tuple(int(seed) for seed in text.split(",")) for text in args.sets]

    collected = []
    for index, seed_set in enumerate(seed_sets):
        label = "-".join(map(str, seed_set))
        results = base if index == 0 else f"{base}/seed_spread/seeds_{label.replace('-', '_')}"
        extra = None if index == 0 else overlay(config, tables, seed_set, results)
        run_set(args.configfile, extra, tables, results, args.cores)
        collected.append(figures(results, tables, label))

    wide = pd.concat(collected).pivot_table(index=["table", "method"], columns="seeds", values="accuracy",
                                           sort=False)[["-".join(map(str, s)) for s in seed_sets]]
    wide["min"], wide["max"] = wide.min(axis=1), wide.max(axis=1)
    wide.round(2).to_csv(REPO / (args.output or f"{base}/seed_spread.csv"))
    print(wide.round(2).to_string())


if __name__ == "__main__":
    main()
