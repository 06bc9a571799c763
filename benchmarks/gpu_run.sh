#!/usr/bin/env bash
# Every benchmark and the GPU-relevant tests in one prepared run, for a lent GPU machine.
#
# The device machine has JAX (with CUDA), Flax, Optax, PyTorch and pytest installed but not
# jinit; jinit is pure Python, so it runs from the repository root through PYTHONPATH.
# From a session with a GPU lent (see /work/.library/device/README.md):
#
#   run(command="bash benchmarks/gpu_run.sh", timeout_s=540)
#
# The results are named after the device (gpu-nvidia-h200..., key_impls_gpu-..., ...) and come
# back as one archive, $OUT/gpu_results.tgz (the device returns at most 8 files), plus the log.
# Unpack it at the repository root and commit benchmarks/results/ with the device named.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
# JAX and PyTorch share the GPU in one process: no preallocation of 75 % of its memory by JAX.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
out=${OUT:-/tmp/jinit-gpu}
mkdir -p "$out"
log="$out/gpu_run.log"
results=benchmarks/results

step() { echo "::: $*" | tee -a "$log"; "$@" 2>&1 | tee -a "$log"; }

step python3 -c "import jax, flax, optax, torch; print(jax.__version__, jax.devices(), torch.__version__, torch.cuda.is_available())"
step python3 benchmarks/bench_init.py --out "$results"
step python3 benchmarks/bench_init.py --key-impl rbg --out "$results"
step python3 benchmarks/key_impls.py --out "$results"
step python3 benchmarks/model_init.py --out "$results"
# correctness of the fast paths on the GPU: flat draws, grouped/sharded init, orthogonal
step python3 -m pytest -q -p no:cacheprovider -x tests/test_sampling.py tests/test_grouped.py \
  tests/test_orthogonal_fast.py tests/test_parity_jax.py tests/test_contract.py

tar czf "$out/gpu_results.tgz" "$results"/*gpu* 2>>"$log"
echo "::: wrote $out/gpu_results.tgz" | tee -a "$log"
