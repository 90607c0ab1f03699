#!/usr/bin/env bash
# Installs every Debian 12 package swarmsim builds, tests and renders with, then
# configures and builds the project. Idempotent: packages already present are
# skipped by apt, and an existing build directory is reused.
#
#   scripts/setup.sh            install packages + configure + build (Release)
#   scripts/setup.sh --deps     install packages only
#
# Environment: BUILD_DIR (default: build), BUILD_TYPE (default: Release),
#              SWARMSIM_CMAKE_ARGS (extra -D options passed to cmake).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$here/build}"
build_type="${BUILD_TYPE:-Release}"

packages=(
  build-essential cmake ninja-build pkg-config
  libsimgrid-dev            # network and host simulation (SimGrid 3.32)
  libboost-graph-dev        # graphs: routing baselines, model graphs
  libgudhi-dev              # persistent homology (header-only)
  nlohmann-json3-dev        # scenario files, metrics, traces
  libcli11-dev              # command line
  libgtest-dev libgmock-dev # unit tests
  libbenchmark-dev          # benchmarks in tests/bench
  libopenblas-dev           # CPU GEMM for the reference backend
  libmetis-dev              # graph partitioning baseline
  libimgui-dev libglfw3-dev libgl-dev libstb-dev   # GUI
  xvfb xauth libgl1-mesa-dri mesa-utils          # headless GUI screenshots in tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
    as_root=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} Debian packages already installed"
fi

[ "${1:-}" = "--deps" ] && exit 0

# nvcc lives outside PATH on CUDA installs; let CMake's check_language(CUDA) find it.
if [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  export PATH="$PATH:/usr/local/cuda/bin"
fi

cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${SWARMSIM_CMAKE_ARGS:-}
cmake --build "$build_dir" --parallel "$(nproc)"
