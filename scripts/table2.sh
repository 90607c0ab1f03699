#!/usr/bin/env bash
# Reproduces the shape of seed 002's Table 2: Llama-3-8B and Mixtral-8x7B on 6 nodes (3 x L4,
# 3 x GTX 1650), two networks, batch 1/32/64, sequence length 64/1024. Each cell prints the
# simulated figure and, in parentheses, the seed's.
#   steps/s  = generation steps per second of the session (decode steps over decode time)
#   tokens/s = batch x steps/s (the seed's table reports generated tokens per second)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
[ -x "$build/swarmsim" ] || "$here/scripts/setup.sh" >&2
swarmsim="$build/swarmsim"

# Seed 002, Table 2: steps/s at seq 64 and 1024, then tokens/s at seq 64 and 1024.
declare -A seed=(
  [llama3-8b-1gbps-rtt5ms/1]="1.20 1.10 8 6.5"     [llama3-8b-1gbps-rtt5ms/32]="1.15 1.08 28 26.4"
  [llama3-8b-1gbps-rtt5ms/64]="1.10 1.05 56 52.5"  [llama3-8b-100mbps-rtt10ms/1]="0.85 0.80 6 5"
  [llama3-8b-100mbps-rtt10ms/32]="0.80 0.75 22 20" [llama3-8b-100mbps-rtt10ms/64]="0.75 0.70 44 40"
  [mixtral-8x7b-1gbps-rtt5ms/1]="1.30 1.25 6 5.4"  [mixtral-8x7b-1gbps-rtt5ms/32]="1.25 1.20 24 22.8"
  [mixtral-8x7b-1gbps-rtt5ms/64]="1.20 1.15 49 45.5" [mixtral-8x7b-100mbps-rtt10ms/1]="0.90 0.85 5 4.5"
  [mixtral-8x7b-100mbps-rtt10ms/32]="0.85 0.80 20 18.5" [mixtral-8x7b-100mbps-rtt10ms/64]="0.80 0.75 40 37"
)

printf '%-13s %-7s %-10s %5s | %-25s | %-25s\n' "Model" "RTT" "Bandwidth" "Batch" "steps/s  seq 64 | seq 1024" "tokens/s seq 64 | seq 1024"
printf '%s\n' "$(printf '%.0s-' {1..96})"
for cfg in llama3-8b-1gbps-rtt5ms llama3-8b-100mbps-rtt10ms mixtral-8x7b-1gbps-rtt5ms mixtral-8x7b-100mbps-rtt10ms; do
  case $cfg in
    llama*) model="Llama-3 8B" ;;
    *) model="Mixtral 8x7B" ;;
  esac
  case $cfg in
    *1gbps*) rtt="<5 ms"; bw="1 Gbit/s" ;;
    *) rtt="<10 ms"; bw="100 Mbit/s" ;;
  esac
  for batch in 1 32 64; do
    read -r s64 s1024 t64 t1024 <<<"${seed[$cfg/$batch]}"
    cells=()
    for seq in 64 1024; do
      steps=$("$swarmsim" run "$here/scenarios/table2/$cfg.json" --no-outputs --progress never \
        --set workload.batch_size=$batch --set workload.prompt_tokens=$seq --metric throughput.generation_steps_per_s)
      cells+=("$steps")
    done
    printf '%-13s %-7s %-10s %5d | %s | %s\n' "$model" "$rtt" "$bw" "$batch" \
      "$(awk -v a="${cells[0]}" -v b="${cells[1]}" -v sa="$s64" -v sb="$s1024" 'BEGIN{printf "%5.2f (%4.2f) | %5.2f (%4.2f)", a, sa, b, sb}')" \
      "$(awk -v a="${cells[0]}" -v b="${cells[1]}" -v n="$batch" -v ta="$t64" -v tb="$t1024" 'BEGIN{printf "%6.1f (%4s) | %6.1f (%4s)", a*n, ta, b*n, tb}')"
  done
done
echo
echo "Simulated (seed 002's measurement). Network model: SimGrid LV08 (the scenarios' default); shard work priced by the roofline model;"
echo "overheads calibrated on the Llama rows (swarmsim calibrate traces/measured/seed002-table2.json), Mixtral rows held out."
