#!/usr/bin/env bash
# Sets everything up on Debian 12 (packages, configure, build) and runs every test with ctest:
# unit tests, engine tests (one process each), golden outputs of every shipped scenario, CLI tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
"$here/scripts/setup.sh"
cd "$build"
ctest --output-on-failure --timeout 900 -j"$(nproc)"
