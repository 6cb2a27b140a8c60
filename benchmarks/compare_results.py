"""Compare a run's tables with the demo's measured ones (docs/demo_results/, the tables the
README and docs/demo.md quote): every CSV there, at its path under the results folder
(Figure 7's correlations are attribution/deadleaves/table3/visnet/correlations.csv), every
numeric column exactly as written.

    python benchmarks/compare_results.py [--results results] [--expected docs/demo_results]

Tables that a benchmark makes rather than the demo (seed_spread.csv and seed_spread_diffusion.csv, by seed_spread.py) are
compared when the run has them and otherwise named as not made, which is no failure.
Exits non-zero, naming each table and cell that differs, or each demo table missing.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# tables made by a benchmark, not by the demo's workflow: the command that makes each
MADE_BY_BENCHMARKS = {
    "seed_spread.csv": "python benchmarks/seed_spread.py --cores 2",
    "seed_spread_diffusion.csv": "python benchmarks/seed_spread.py --tables beyond_diffusion diffusion_seeds"
                                 " --sets 1,2,3 4,5,6 7,8,9 --output results/seed_spread_diffusion.csv --cores 2",
}


def differences(expected: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    if list(expected.columns) != list(found.columns) or len(expected) != len(found):
        return [f"columns or rows differ: {list(expected.columns)} x {len(expected)} "
                f"against {list(found.columns)} x {len(found)}"]
    numeric = expected.select_dtypes("number").columns
    cells = []
    for column in numeric:
        for row in range(len(expected)):
            a, b = expected[column].iloc[row], found[column].iloc[row]
            if not (pd.isna(a) and pd.isna(b)) and a != b:
                cells.append(f"row {row} ({expected.iloc[row, :2].tolist()}), {column}: {a} against {b}")
    return cells


def compare(expected_folder: Path, results: Path) -> tuple[int, int]:
    """Prints a line per table; returns (tables compared, tables that differ or are missing)."""
    tables = sorted(expected_folder.rglob("*.csv"))
    failures = compared = 0
    for table in tables:
        name = table.relative_to(expected_folder).as_posix()
        found = results / name
        if not found.exists():
            if name in MADE_BY_BENCHMARKS:
                print(f"{name}: not made in {results} ({MADE_BY_BENCHMARKS[name]} makes it); not compared")
                continue
            print(f"{name}: missing from {results}")
            failures += 1
            compared += 1
            continue
        cells = differences(pd.read_csv(table), pd.read_csv(found))
        print(f"{name}: " + ("equal" if not cells else f"{len(cells)} differences\n  " + "\n  ".join(cells)))
        failures += bool(cells)
        compared += 1
    return compared, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--expected", type=Path, default=REPO / "docs/demo_results")
    args = parser.parse_args()
    if not any(args.expected.rglob("*.csv")):
        print(f"no tables in {args.expected}", file=sys.stderr)
        return 2
    compared, failures = compare(args.expected, args.results)
    print(f"{compared - failures} of {compared} tables equal the demo's measured ones")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
