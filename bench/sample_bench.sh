#!/usr/bin/env bash
# sample's throughput at 64x64: images/s for decode + PNG writing (one atomic file per image, as
# `sample --out DIR` does), at $THREADS threads (default 2). Prints one JSON line on stdout.
#
#   bench/sample_bench.sh [CHECKPOINT]
#
# Without CHECKPOINT it times a 64x64, width-64, z-dim-128 generator with random weights and
# BatchNorm statistics measured on 2,048 latents (the same compute as a trained one), written by the
# test fixture SampleBenchmarkFixture (which needs the test build). Once `train` writes checkpoints,
# pass one instead. Environment: SWIFT, THREADS, COUNT (images, default 1024), SCRATCH (build
# directory, default .build, with the flags of `make test` so that no rebuild is needed after it).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
THREADS=${THREADS:-2}
COUNT=${COUNT:-1024}
SCRATCH=${SCRATCH:-.build}
BIN=$SCRATCH/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$SWIFT" build -c release -Xswiftc -enable-testing --build-tests --scratch-path "$SCRATCH" >&2
checkpoint=${1:-}
if [ -z "$checkpoint" ]; then
  checkpoint=$work/bench.safetensors
  FACEWGAN_BENCH_CHECKPOINT=$checkpoint "$SWIFT" test -c release -Xswiftc -enable-testing --skip-build \
    --scratch-path "$SCRATCH" --filter SampleBenchmarkFixture >&2
fi

# Warm-up: page cache, OpenBLAS's start-up.
"$BIN/sample" --checkpoint "$checkpoint" --count 64 --out "$work/warm" --threads "$THREADS" -q

# The tool's closing line: "sample: N images (SxS, step K, EMA) to PATH in T s, R images/s"; its time
# starts after the checkpoint is loaded, so R is the steady decode + write rate.
run() {
  local start end line
  start=$(date +%s.%N)
  line=$("$BIN/sample" --checkpoint "$checkpoint" --count "$COUNT" --seed 1 --threads "$THREADS" "$@" 2>&1 >/dev/null | tail -1)
  end=$(date +%s.%N)
  echo "$line" | sed -E 's/.*\(([0-9]+)x.* in ([0-9.]+) s, ([0-9.]+) images\/s.*/\1 \2 \3/' | tr '\n' ' '
  echo "$start $end" | awk '{ printf "%.3f\n", $2 - $1 }'
}
read -r size out_seconds out_rate out_wall < <(run --out "$work/out")
read -r _ grid_seconds grid_rate _ < <(run --grid "$work/grid.png" --columns 32)
printf '{"bench": "sample", "size": %s, "threads": %s, "count": %s, "batch": 64, "images_per_s": %s, "seconds": %s, "process_seconds": %s, "grid_images_per_s": %s, "checkpoint": "%s"}\n' \
  "$size" "$THREADS" "$COUNT" "$out_rate" "$out_seconds" "$out_wall" "$grid_rate" "${1:-random-weights fixture}"
