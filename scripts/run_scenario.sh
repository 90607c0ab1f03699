#!/usr/bin/env bash
# Sets everything up on Debian 12 and runs the main job: a shipped scenario (by default the
# 1 Gbit/s Llama-3-8B swarm of seed 002's Table 2), printing its metrics and writing
# runs/<scenario>/{metrics.json,trace.json,events.jsonl}.
#
#   scripts/run_scenario.sh [SCENARIO.json] [swarmsim run options...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
"$here/scripts/setup.sh" >&2
scenario="${1:-$here/scenarios/table2/llama3-8b-1gbps-rtt5ms.json}"
[ $# -gt 0 ] && shift
cd "$here"
exec "$build/swarmsim" run "$scenario" "$@"
