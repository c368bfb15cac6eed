#!/usr/bin/env bash
# The GPU checks of a session that is lent a machine with an NVIDIA GPU, as one script that fits a short lease:
# the per-example benchmark against JAX and 16 CPU cores first, alone on the machine (the fuzzer's processes beside it
# slowed its CPU peer 2x and JAX took the GPU's memory from them), then the CUDA test cases on the real GPU (`-k gpu`)
# with the CUDA fuzzer on the GPU (SRCDIFF_FUZZ_CUDA_PTX=1) in the background for the same time. CI has no GPU: these run
# only here, by hand. Logs go to $OUT (or ./gpu_check_out). Wheels the machine lacks or has in another version
# (gast, astunparse, the NumPy numba-cuda was tested with) travel in .whl/ (see benchmarks/README.md).
#   usage: bash scripts/gpu_check.sh [SEED0] [FUZZ_SECONDS] [FUZZ_PROCESSES]
set -u
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
SEED0=${1:-1070000}
SECS=${2:-240}
PROCS=${3:-5}
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 SRCDIFF_FUZZ_CUDA_PTX=1 SRCDIFF_CACHE_DIR=/tmp/srcdiff_cache
nvidia-smi -L
python3 -c "import numpy, numba, numba.cuda, gast; print('numpy', numpy.__version__, 'numba', numba.__version__,
      'numba-cuda', getattr(numba.cuda, '__version__', '?'), 'gpu', numba.cuda.is_available())"
git log --oneline -1 2>/dev/null
start=$(date +%s)
timeout 200 python3 benchmarks/cuda_per_example.py >"$OUT/bench.log" 2>&1
echo "benchmark: rc $? in $(($(date +%s) - start)) s"; tail -15 "$OUT/bench.log"
for i in $(seq 0 $((PROCS - 1))); do
    s=$((SEED0 + i * 1000))
    timeout $((SECS + 90)) python3 tests/fuzz_runner.py --cuda --device --seeds $s $((s + 400)) --seconds "$SECS" \
        --workdir /tmp/fzw$i --out /tmp/fz/$i >"$OUT/fuzz$i.log" 2>&1 &
done
start=$(date +%s)
SRCDIFF_TESTS=full timeout 300 python3 -m pytest -p no:cacheprovider -q -k gpu tests/test_cuda.py \
    tests/test_cuda_edges.py tests/test_cuda_hvp.py tests/test_cuda_logdomain.py >"$OUT/gpu_tests.log" 2>&1
echo "gpu tests: rc $? in $(($(date +%s) - start)) s"; tail -3 "$OUT/gpu_tests.log"
wait
for i in $(seq 0 $((PROCS - 1))); do tail -4 "$OUT/fuzz$i.log" | grep -v '^$'; done
[ -d /tmp/fz ] && tar czf "$OUT/fuzz_failing.tgz" -C /tmp fz
exit 0
