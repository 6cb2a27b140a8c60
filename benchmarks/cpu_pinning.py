"""What pinning the CPU kernels (ganprint.cpu_kernels) changes on this machine: the golden
computation (tests/golden.py: a tiny GAN, its samples, a classifier, Eigenface, PRNU) under
each level, whether its hashes are the committed ones, and its time against `native`.

    python benchmarks/cpu_pinning.py [--repeats 3]

On an AVX-512 machine, `native` should give other hashes and `avx2` the committed ones.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from ganprint import cpu_kernels  # noqa: E402


def processor() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    widest = "AVX-512" if "avx512f" in info else "AVX2" if "avx2" in info else "below AVX2"
    return f"{model} ({widest})"


def clean_environment(level: str) -> dict:
    """This environment less every variable of every level, with GANPRINT_CPU_ISA=level."""
    pinned = {name for known in cpu_kernels.LEVELS for name in cpu_kernels.variables(known)}
    environment = {name: value for name, value in os.environ.items()
                   if name not in pinned and not name.startswith("GANPRINT_")}
    return {**environment, cpu_kernels.ENVIRONMENT_VARIABLE: level}


def golden_run(level: str) -> tuple[dict, float]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, str(REPO / "tests/golden.py")], env=clean_environment(level),
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--levels", nargs="+", default=["avx2", "native", "sse42"])
    args = parser.parse_args()
    print(f"processor: {processor()}, {platform.machine()}", flush=True)
    seconds = {}
    for level in args.levels:
        runs = [golden_run(level) for _ in range(args.repeats)]
        report, seconds[level] = runs[0][0], min(duration for _, duration in runs)
        same = {name: value == report["hashes"][name] for run, _ in runs for name, value in run["hashes"].items()}
        print(json.dumps({"level": level, "matches_committed": report["match"], "repeatable": all(same.values()),
                          "seconds": round(seconds[level], 2), "hashes": report["hashes"]}), flush=True)
    if "native" in seconds:
        for level, duration in seconds.items():
            print(f"{level}: {duration:.2f} s, {duration / seconds['native']:.2f}x native", flush=True)


if __name__ == "__main__":
    main()
