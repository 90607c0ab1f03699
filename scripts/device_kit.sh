#!/usr/bin/env bash
# Run here, on Debian 12, before asking for a device machine: downloads (with apt, from Debian)
# the packages that the GPU-only build needs and the device machine's image lacks, into .kit/debs
# (ignored by git). The device run carries them: run(command="scripts/device_check.sh",
# carry=[".kit"]). About 13 MB. See docs/cost-model.md, "Measuring on a lent GPU".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
debs="$here/.kit/debs"
mkdir -p "$debs"
cd "$debs"
packages=(
  libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev libopenblas0 libgfortran5  # CPU twins' GEMM
  nlohmann-json3-dev libcli11-dev                                                        # profiles, swarmsim-profile
  libgtest-dev libbenchmark-dev libbenchmark1debian                                      # tests, benchmarks
)
if ! apt-get download "${packages[@]}" 2>/dev/null; then
  apt-get update -qq
  apt-get download "${packages[@]}"
fi
ls -1 "$debs"
