#!/usr/bin/env bash
# sample's throughput at 64x64: images/s for decode + PNG writing (one atomic file per image, as
# `sample --out DIR` does), at $THREADS threads (default 2). Prints one JSON line on stdout.
#
#   bench/sample_bench.sh [CHECKPOINT]
#
# Without CHECKPOINT it times the default 64x64 generator (width 64, z-dim 128) after one training
# step on data/faces (the same compute as a trained one). Environment: THREADS, COUNT (images,
# default 1024), BIN (default .build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
COUNT=${COUNT:-1024}
BIN=${BIN:-.build/release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

checkpoint=${1:-}
if [ -z "$checkpoint" ]; then
  "$BIN/preprocess" data/faces --size 64 --out "$work/shards" -q >/dev/null
  "$BIN/train" --data "$work/shards" --out "$work/run" --steps 1 --batch 16 --threads "$THREADS" -q
  checkpoint=$work/run/checkpoint.safetensors
fi

# Warm-up: page cache, OpenBLAS's start-up.
"$BIN/sample" --checkpoint "$checkpoint" --count 64 --out "$work/warm" --threads "$THREADS" -q

# The tool's closing line: "sample: N images (SxS, step K, EMA) to PATH in T s, R images/s"; its time
# starts after the checkpoint is loaded, so R is the steady decode + write rate.
run() {
  local start end line
  start=$(date +%s.%N)
  line=$("$BIN/sample" --checkpoint "$checkpoint" --count "$COUNT" --seed 1 --threads "$THREADS" \
    --backend "${BACKEND:-auto}" --precision "${PRECISION:-fp32}" "$@" 2>&1 >/dev/null | tail -1)
  end=$(date +%s.%N)
  echo "$line" | sed -E 's/.*\(([0-9]+)x.* in ([0-9.]+) s, ([0-9.]+) images\/s.*/\1 \2 \3/' | tr '\n' ' '
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}
read -r size out_seconds out_rate out_wall < <(run --out "$work/out")
read -r _ grid_seconds grid_rate _ < <(run --grid "$work/grid.png" --columns 32)
printf '{"bench": "sample", "size": %s, "backend": "%s", "precision": "%s", "threads": %s, "count": %s, "batch": 64, "images_per_s": %s, "seconds": %s, "process_seconds": %s, "grid_images_per_s": %s, "checkpoint": "%s"}\n' \
  "$size" "${BACKEND:-auto}" "${PRECISION:-fp32}" "$THREADS" "$COUNT" "$out_rate" "$out_seconds" "$out_wall" "$grid_rate" "${1:-one training step on data/faces}"
