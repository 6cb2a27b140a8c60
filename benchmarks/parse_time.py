"""How long `snakemake -n` takes on a config, and how much of it is this workflow's.

Runs a dry run of the workflow and of a Snakefile with one empty rule (Snakemake's own
start), each in a fresh process, several times; prints one JSON line per run with the
wall time and, measured inside the process, Snakemake's import, the Snakefile's parse
(every include) and the building of the DAG; then the medians and the workflow's own share.

    python benchmarks/parse_time.py                       # config.yaml, 5 runs each
    python benchmarks/parse_time.py --configfile workflow/configs/celeba.yaml --runs 3
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: times Snakemake's import, the outermost include and the DAG.
TIMED_DRY_RUN = """
import sys, time, json
started = time.perf_counter()
from snakemake.cli import main
from snakemake import workflow
imported = time.perf_counter()
spent, depth = {"parse": 0.0, "dag": 0.0}, {"parse": 0, "dag": 0}

def timed(name, method):
    def wrapper(self, *args, **kwargs):
        depth[name] += 1
        begun = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            depth[name] -= 1
            if depth[name] == 0:
                spent[name] += time.perf_counter() - begun
    return wrapper

workflow.Workflow.include = timed("parse", workflow.Workflow.include)
workflow.Workflow._build_dag = timed("dag", workflow.Workflow._build_dag)
sys.argv = ["snakemake", "-n", "-q", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps({"import_s": imported - started, "parse_s": spent["parse"], "dag_s": spent["dag"]}))
"""


def dry_run(directory: Path, arguments: list[str]) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", TIMED_DRY_RUN, *arguments], cwd=directory, capture_output=True,
                            text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {directory}:\n{result.stderr[-2000:]}")
    return {"wall_s": wall, **json.loads(result.stdout.strip().splitlines()[-1])}


def report(**fields) -> None:
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value for key, value in fields.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", help="a config to plan instead of config.yaml")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    arguments = ["--configfile", str(Path(args.configfile).resolve())] if args.configfile else []
    medians = {}
    with tempfile.TemporaryDirectory() as empty:
        (Path(empty) / "Snakefile").write_text("rule all:\n    input: []\n")
        for name, directory, extra in (("workflow", REPO, arguments), ("empty_snakefile", Path(empty), [])):
            runs = [dry_run(directory, extra) for _ in range(args.runs)]
            for run in runs:
                report(snakefile=name, **run)
            medians[name] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    ours, floor = medians["workflow"], medians["empty_snakefile"]
    report(summary="median", workflow_wall_s=ours["wall_s"], empty_snakefile_wall_s=floor["wall_s"],
           workflow_parse_and_dag_s=ours["parse_s"] + ours["dag_s"],
           beyond_snakemake_s=ours["wall_s"] - floor["wall_s"])


if __name__ == "__main__":
    main()
