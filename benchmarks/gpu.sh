#!/bin/bash
# Everything a GPU machine has to measure, in one command, from an installed checkout:
#  1. workflow/configs/gpu.yaml (GANs trained 100x longer than the demo's): Tables 1 and 3,
#     the sanity check, the training-length curve and its figure, Table 7's noise and JPEG
#     rows; several jobs share the device (--resources gpu=$GPU_JOBS);
#  2. the GPU tests and the throughput, precision and device-hour benchmarks (--quick), the
#     device-hours projected for gpu.yaml and for CelebA among them.
# Each part writes its output to its own file under the folder given (default gpu-checks/)
# and one line to summary.txt as it ends; the config's tables are copied there too. A run
# stopped at a time limit keeps what it measured.
#   bash benchmarks/gpu.sh [folder] [--quick]
#   GPU_JOBS=8 CORES=16 CONFIG_LIMIT=480 bash benchmarks/gpu.sh gpu-checks --quick
set -u
export PYTHONUNBUFFERED=1
out=${1:-gpu-checks}
quick=${2:-}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/device.csv" 2>&1

targets=(results/gpu/table1.csv results/gpu/table3.csv results/gpu/sanity_check.csv
         results/gpu/training_length.csv results/gpu/figures/training_length_deadleaves.png
         results/gpu/table7.csv)

run() {  # name, command...: its output and exit status, whatever the others do
    local name=$1
    shift
    local started=$SECONDS
    "$@" > "$out/$name.txt" 2>&1
    echo "$name: exit $? after $((SECONDS - started)) s" | tee -a "$out/summary.txt"
}

run gpu_config timeout "${CONFIG_LIMIT:-600}" snakemake "${targets[@]}" --cores "${CORES:-16}" \
    --resources gpu="${GPU_JOBS:-8}" --keep-going --configfile workflow/configs/gpu.yaml
mkdir -p "$out/gpu_results"
cp results/gpu/*.csv results/gpu/figures/*.png "$out/gpu_results/" 2>/dev/null
run gpu_job_times python benchmarks/workflow_time.py results/gpu/benchmarks
run gpu_tests python -m pytest -q -p no:cacheprovider tests/test_gpu.py
run training_throughput python benchmarks/training_throughput.py $quick
run baseline_throughput python benchmarks/baseline_throughput.py $quick
run sampling_precision python benchmarks/sampling_precision.py
run lpips_search python benchmarks/lpips_search.py $quick
run paper_scale_gpu python benchmarks/paper_scale.py --configfile workflow/configs/gpu.yaml $quick
run paper_scale_celeba python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml $quick
