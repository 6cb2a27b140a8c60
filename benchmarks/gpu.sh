#!/bin/bash
# Every GPU check in one go: the GPU tests, then the throughput, precision and device-hour
# benchmarks at paper scale, each one's output in its own file under the folder given
# (default: gpu-checks/). Run from the repository root on a machine with a CUDA device:
#   bash benchmarks/gpu.sh [folder] [--quick]
set -u
out=${1:-gpu-checks}
quick=${2:-}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/device.csv" 2>&1

run() {  # name, command...: its output and exit status, whatever the others do
    local name=$1
    shift
    local started=$SECONDS
    "$@" > "$out/$name.txt" 2>&1
    echo "$name: exit $? after $((SECONDS - started)) s" | tee -a "$out/summary.txt"
}

run gpu_tests python -m pytest -q tests/test_gpu.py
run training_throughput python benchmarks/training_throughput.py $quick
run baseline_throughput python benchmarks/baseline_throughput.py $quick
run sampling_precision python benchmarks/sampling_precision.py
run lpips_search python benchmarks/lpips_search.py $quick
run paper_scale_celeba python benchmarks/paper_scale.py --configfile workflow/configs/celeba.yaml $quick
