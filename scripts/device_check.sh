#!/usr/bin/env bash
# The GPU checks of issue 2 in one prepared pass, for the device machine (an image with CUDA,
# CMake and ninja, without SimGrid). From the repository root there, with .kit carried (made by
# scripts/device_kit.sh here):
#   run(command="scripts/device_check.sh", carry=[".kit"], timeout_s=540)
# It unpacks the kit, builds the GPU-only tree (SWARMSIM_GPU_ONLY) with CUDA for sm_90, runs gpu/'s
# tests (every CUDA kernel against its CPU twin, the CPU kernels against naive references),
# measures the GPU op profile with the real kernels, and benchmarks the kernels against cuBLAS and
# device copies. Six files land in $OUT (runs/device when unset): gpu.txt, build.log,
# gpu_tests.log, profile.json, cuda_bench.json, cuda_bench.txt.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$here/runs/device}"
mkdir -p "$out"
cd "$here"
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start)) s] $*"; }

root=/tmp/swarmsim-kit
mkdir -p "$root"
for deb in .kit/debs/*.deb; do dpkg -x "$deb" "$root" || { echo "cannot unpack $deb"; exit 1; }; done
lib="$root/usr/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$lib/openblas-pthread:$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUDACXX="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.memory --format=csv > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

stamp "configure and build"
if ! { cmake -S . -B build-gpu -G Ninja -DSWARMSIM_GPU_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
         -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_CUDA_ARCHITECTURES=90 &&
       cmake --build build-gpu -j "$(nproc)"; } > "$out/build.log" 2>&1; then
  tail -40 "$out/build.log"
  exit 1
fi

stamp "gpu tests"
build-gpu/tests/swarmsim_gpu_tests 2>&1 | tee "$out/gpu_tests.log" | grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|tests ran"
tests_rc=${PIPESTATUS[0]}

stamp "op profile (cuda)"
build-gpu/swarmsim-profile --backend cuda --budget 0.5 --out "$out/profile.json" 2>&1 | tail -25

stamp "kernel benchmarks"
build-gpu/tests/swarmsim_gpu_bench --benchmark_filter=Cuda --benchmark_min_time=0.2 \
  --benchmark_out="$out/cuda_bench.json" --benchmark_out_format=json > "$out/cuda_bench.txt" 2>&1
tail -40 "$out/cuda_bench.txt"
stamp "done (gpu tests exit $tests_rc)"
exit "$tests_rc"
