import os
import subprocess
import sys

SCRIPT = """
import numpy as np
from threadpoolctl import threadpool_info
from ganprint import runtime
runtime.configure(threads=1)
print(sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}))
"""


def test_a_stage_limits_numpys_blas_to_its_threads():
    """Run by hand, with more cores than --threads, a stage's float64 products must come out
    as in the workflow's jobs (where Snakemake sets the thread count of every library)."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment, check=True)
    assert result.stdout.strip() == "[1]", result.stdout + result.stderr
