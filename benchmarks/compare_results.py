"""Compare a run's tables with the demo's measured ones (docs/demo_results/, the tables the
README and docs/demo.md quote): every CSV there against the same file under the results
folder, every numeric column exactly as written.

    python benchmarks/compare_results.py [--results results] [--expected docs/demo_results]

Exits non-zero, naming each table and cell that differs, or each table missing.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--expected", type=Path, default=REPO / "docs/demo_results")
    args = parser.parse_args()
    tables = sorted(args.expected.glob("*.csv"))
    if not tables:
        print(f"no tables in {args.expected}", file=sys.stderr)
        return 2
    failures = 0
    for table in tables:
        found = args.results / table.name
        if not found.exists():
            print(f"{table.name}: missing from {args.results}")
            failures += 1
            continue
        cells = differences(pd.read_csv(table), pd.read_csv(found))
        print(f"{table.name}: " + ("equal" if not cells else f"{len(cells)} differences\n  " + "\n  ".join(cells)))
        failures += bool(cells)
    print(f"{len(tables) - failures} of {len(tables)} tables equal the demo's measured ones")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
