#!/usr/bin/env bash
# Runs the Google Benchmark programs of tests/bench/ and prints the simulator's throughput as a
# ratio against bare SimGrid measured in the same run. Extra arguments go to the benchmark
# program (e.g. --benchmark_filter=Route).
#   scripts/bench.sh [benchmark options]     results also saved to build/bench.json
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
[ -d "$build" ] || "$here/scripts/setup.sh" >&2
cmake --build "$build" --target swarmsim_bench >/dev/null
"$build/tests/bench/swarmsim_bench" --benchmark_out="$build/bench.json" --benchmark_out_format=json "$@"
# Ratios against the baseline, from the JSON report (awk only: no Python on a bare Debian).
# With --benchmark_repetitions, the medians are used.
awk '
  /"name":/ { gsub(/[",]/, "", $2); name = $2 }
  /"real_time":/ { gsub(/,/, "", $2); if (name !~ /_(mean|median|stddev|cv)$/) real[name] = $2 }
  /"GB\/s":/ { gsub(/,/, "", $2); gbs[name] = $2 }
  /"GFLOP\/s":/ { gsub(/,/, "", $2); gflops[name] = $2 }
  /"peak_bw":/ { gsub(/,/, "", $2); peak_bw[name] = $2 }
  /"peak_flops":/ { gsub(/,/, "", $2); peak_flops[name] = $2 }
  /"hops_per_s":/ {
    gsub(/,/, "", $2)
    if (name ~ /_median$/) { sub(/_median$/, "", name); rate[name] = $2; median[name] = 1 }
    else if (name !~ /_(mean|stddev|cv)$/ && !(name in median)) rate[name] = $2
  }
  END {
    pairs["BM_SwarmHops/100/500/iterations:2/manual_time"] = "BM_BareSimGridHops/100/80/iterations:2/manual_time"
    pairs["BM_SwarmHops/1000/2000/iterations:2/manual_time"] = "BM_BareSimGridHops/1000/720/iterations:2/manual_time"
    pairs["BM_SwarmHopsFlow/100/500/iterations:2/manual_time"] = "BM_BareSimGridHops/100/80/iterations:2/manual_time"
    pairs["BM_SwarmHopsFlow/1000/2000/iterations:2/manual_time"] = "BM_BareSimGridHops/1000/720/iterations:2/manual_time"
    for (s in pairs) if ((s in rate) && (pairs[s] in rate))
      printf "%-50s %10.0f hops/s = %.2f x bare SimGrid (%0.f hops/s)\n", s, rate[s], rate[s] / rate[pairs[s]], rate[pairs[s]]
    p = "BM_PipelineRunFlow/20000/iterations:2/manual_time"; b = "BM_PipelineRun/20000/iterations:2/manual_time"
    if ((p in rate) && (b in rate))
      printf "%-50s %10.0f messages/s = %.1f x the SimGrid engine (%0.f messages/s)\n", p, rate[p], rate[p] / rate[b], rate[b]
    p = "BM_TreeRunFlow/20000/iterations:2/manual_time"; b = "BM_TreeRun/20000/iterations:2/manual_time"
    if ((p in rate) && (b in rate))
      printf "%-50s %10.0f messages/s = %.1f x the SimGrid engine (%0.f messages/s)\n", p, rate[p], rate[p] / rate[b], rate[b]
    p = "BM_CodedRunFlow/20000/iterations:2/manual_time"; b = "BM_CodedRun/20000/iterations:2/manual_time"
    if ((p in rate) && (b in rate))
      printf "%-50s %10.0f messages/s = %.1f x the SimGrid engine (%0.f messages/s)\n", p, rate[p], rate[p] / rate[b], rate[b]
    b = "BM_SessionsAtOnceFlow/500/iterations:1/manual_time"
    for (n in rate) if (n ~ /^BM_SessionsAtOnceFlow\// && n != b && (b in rate))
      printf "%-50s %10.0f hops/s = %.2f x the rate with 500 sessions at once (%0.f hops/s)\n", n, rate[n], rate[n] / rate[b], rate[b]
    c = "BM_CodedEnsemble/coin"; a = "BM_CodedEnsemble/average"
    if ((c in real) && (a in real) && real[a] > 0)
      printf "%-50s %10.3f ms = %.2f x building it without the Fishers (%.3f ms)\n", c, real[c], real[c] / real[a], real[a]
    # CPU kernels against the peaks of this machine, measured in the same run (STREAM triad, FMA chains);
    # above 100%: the data fit in the last-level cache.
    for (n in peak_bw) if (peak_bw[n] > 0)
      printf "%-50s %8.2f GB/s = %3.0f%% of STREAM (%.1f GB/s)\n", n, gbs[n] / 1e9, 100 * gbs[n] / 1e9 / peak_bw[n], peak_bw[n]
    for (n in peak_flops) if (peak_flops[n] > 0)
      printf "%-50s %8.2f GFLOP/s = %3.0f%% of the FMA peak (%.0f GFLOP/s)\n", n, gflops[n] / 1e9, 100 * gflops[n] / 1e9 / peak_flops[n], peak_flops[n]
    for (n in real) if (n ~ /^BM_LossProxyStep\//) {
      f = n; sub(/^BM_LossProxyStep\//, "BM_LossProxyForward/", f)
      if ((f in real) && real[f] > 0)
        printf "%-50s %10.3f ms = %.1f x one forward pass with its loss (%.3f ms)\n", n, real[n], real[n] / real[f], real[f]
    }
    for (n in real) if (n ~ /^BM_EventQueueHold\//) {
      h = n; sub(/^BM_EventQueueHold\//, "BM_BinaryHeapHold/", h)
      if ((h in real) && real[h] > 0)
        printf "%-50s %10.1f ns = %.2f x the pop and push of a binary heap (%.1f ns)\n", n, real[n], real[n] / real[h], real[h]
    }
    for (n in real) if (n ~ /^BM_Eq18RouteGeo(Kept)?\//) {
      e = n; sub(/^BM_Eq18RouteGeo(Kept)?\//, "BM_Eq18RouteGeoNoRegions/", e)
      if ((e in real) && real[e] > 0)
        printf "%-50s %10.1f us = %.2f x bounding every candidate (%.1f us)\n", n, real[n], real[n] / real[e], real[e]
    }
    for (n in real) if (n ~ /^BM_PlanPipeline\/[0-9]+\/0\/0$/) {
      e = n; sub(/\/0$/, "/1", e)
      if ((e in real) && real[e] > 0)
        printf "%-50s %10.1f ms = %.3f x the same servers with no two alike (%.1f ms)\n", n, real[n], real[n] / real[e], real[e]
    }
    for (n in real) if (n ~ /^BM_PlanPipeline\/[0-9]+\/1\/[01]$/) {
      e = n; sub(/\/1\//, "/0/", e)
      if ((e in real) && real[e] > 0)
        printf "%-50s %10.1f ms = %.2f x planning without an objective (%.1f ms)\n", n, real[n], real[n] / real[e], real[e]
    }
    for (n in real) if (n ~ /^BM_FarthestPair\//) {
      e = n; sub(/^BM_FarthestPair\//, "BM_FarthestPairExhaustive/", e)
      if ((e in real) && real[n] > 0)
        printf "%-50s %10.3f ms = %.1f x faster than trying every pair (%.3f ms)\n", n, real[n], real[e] / real[n], real[e]
    }
  }' "$build/bench.json"
