#!/usr/bin/env bash
# The fit-speed issue's GPU checks, in one run on a machine with a CUDA device:
# the GPU-marked tests, the GPU example, and the training page on the GPU
# (results/training-gpu.md and its charts). It runs from the checkout with the
# machine's own python3, torch and Lightning (entembed read from the working
# tree, not installed), and copies its log and pages to $OUT when that is set
# (the device tool's folder of files to bring back).
#
#   bash benchmarks/gpu_check.sh [bench_training.py options]
#
# Arguments go to bench_training.py; without them, 2 rounds instead of 3 keep
# the whole run near 10 minutes (each contender starts a fresh process).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
out=${OUT:-}
[ $# -gt 0 ] || set -- --repeat 2

checks() {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    "$PYTHON" -c "import torch, lightning; print('torch', torch.__version__, \
'lightning', lightning.__version__, 'CUDA', torch.cuda.is_available())"
    "$PYTHON" -m pytest -m gpu -p no:cacheprovider -q \
        tests/test_training.py tests/test_embedder.py
    "$PYTHON" examples/gpu.py
    (cd benchmarks && "$PYTHON" bench_training.py --accelerator gpu "$@")
}

if [ -n "$out" ]; then
    checks "$@" 2>&1 | tee "$out/gpu_check.log"
    cp benchmarks/results/training-gpu* "$out"/
else
    checks "$@"
fi
