#!/usr/bin/env bash
# Regenerates tests/golden/<scenario>.metrics.json for every shipped scenario (or those given).
# Review `git diff tests/golden` before committing: a golden file changes only for a reason.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
cmake --build "$build" --target swarmsim_golden >/dev/null
cd "$here"
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find scenarios -name '*.json' | sort)
for f in "${files[@]}"; do
  rel="${f#scenarios/}"
  "$build/tests/swarmsim_golden" update "$f" "tests/golden/${rel%.json}.metrics.json"
done
