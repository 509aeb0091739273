#!/bin/sh
# Issue 4's benchmark: end-to-end `train` throughput (data loading, logging, EMA, the training loop)
# at SIZE x SIZE, width 64, batch 64, critic norm layer, next to the bare step figure of
# facewgan-bench for the same configuration, plus the cost of one checkpoint (precise BatchNorm
# statistics for both generators, sample grid, safetensors write) and the peak RSS of the run.
# Prints one JSON line.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BIN=${BIN:-.build/release}
SIZE=${SIZE:-64}
STEPS=${STEPS:-6}
BACKEND=${BACKEND:-onednn}
PRECISION=${PRECISION:-fp32}
FACES=${FACES:-../shared/data/faces}
[ -d "$FACES" ] || FACES=data/faces
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$BIN/preprocess" "$FACES" --size "$SIZE" --out "$WORK/shards" --quiet > /dev/null
half=$((STEPS / 2))
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$WORK/rss" "$BIN/train" --data "$WORK/shards" --out "$WORK/run" --steps "$STEPS" \
  --log-every "$half" --checkpoint-every 1000000 --sample-every 1000000 --threads "$THREADS" \
  --backend "$BACKEND" --precision "$PRECISION" --quiet
end=$(date +%s.%N)
# The last metrics line covers steps half+1..STEPS (warm-up excluded); the run's wall time beyond the
# logged elapsed time is start-up plus the final checkpoint and sample grid.
last=$(tail -n 1 "$WORK/run/metrics.jsonl")
step=$("$BIN/facewgan-bench" --size "$SIZE" --critic-norm layer --iterations 2 --threads "$THREADS" \
  --backend "$BACKEND" --precision "$PRECISION")
python3 - "$last" "$step" "$start" "$end" "$(cat "$WORK/rss")" <<'PY'
import json, sys
last, step = json.loads(sys.argv[1]), json.loads(sys.argv[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
print(json.dumps({
    "benchmark": "train", "size": step["size"], "width": 64, "batch": 64, "critic_norm": "layer",
    "backend": step["backend"], "precision": step["precision"], "threads": step["threads"], "train_images_per_s": round(last["images_per_s"], 2),
    "bare_step_images_per_s": step["images_per_s"],
    "loop_overhead_fraction": round(1 - last["images_per_s"] / step["images_per_s"], 4),
    "startup_and_final_checkpoint_s": round(wall - last["elapsed_s"], 2),
    "peak_rss_mib": round(int(sys.argv[5]) / 1024, 1)}))
PY
