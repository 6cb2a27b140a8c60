"""Where a workflow run spent its time: the Snakemake `benchmark:` files summed per rule.

Prints one JSON line per rule (jobs, total and largest wall seconds, CPU seconds, peak
memory), largest total first, then the sum over all rules. Jobs run in parallel, so the sum
exceeds the run's wall time; the per-rule shares show what to cut first.

    python benchmarks/workflow_time.py                 # results/benchmarks of this folder
    python benchmarks/workflow_time.py path/to/results/benchmarks
"""

import argparse
import json
from pathlib import Path

import pandas as pd


def rule_times(folder: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        measured = pd.read_csv(path, sep="\t")
        rows.append({"rule": path.relative_to(folder).parts[0], "s": measured["s"].sum(),
                     "cpu_time": measured["cpu_time"].sum(), "max_rss": measured["max_rss"].max()})
    if not rows:
        raise SystemExit(f"no benchmark files under {folder}")
    jobs = pd.DataFrame(rows)
    summary = jobs.groupby("rule").agg(jobs=("s", "size"), wall_s=("s", "sum"), largest_s=("s", "max"),
                                       cpu_s=("cpu_time", "sum"), peak_rss_mb=("max_rss", "max"))
    return summary.sort_values("wall_s", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="results/benchmarks", type=Path)
    summary = rule_times(parser.parse_args().folder)
    total = summary["wall_s"].sum()
    for rule, row in summary.iterrows():
        print(json.dumps({"rule": rule, "jobs": int(row.jobs), "wall_s": round(row.wall_s, 1),
                          "largest_s": round(row.largest_s, 1), "cpu_s": round(row.cpu_s, 1),
                          "peak_rss_mb": round(row.peak_rss_mb, 1), "share": round(row.wall_s / total, 3)}))
    print(json.dumps({"rule": "all", "jobs": int(summary["jobs"].sum()), "wall_s": round(total, 1)}))


if __name__ == "__main__":
    main()
