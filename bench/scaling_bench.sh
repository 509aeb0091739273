#!/bin/sh
# Issue 13's scaling line: `train` as one process with THREADS threads against THREADS MPI ranks of
# one thread each on this machine, same global batch (SIZE x SIZE, width 64, batch 64, critic norm
# layer): seconds per generator iteration of each, the seconds per iteration spent summing gradients
# across ranks, and the bytes summed per iteration. Then the compute seconds per iteration of one rank
# with THREADS threads (a whole node of this kind) at per-rank batches 64 .. 1: the inputs of the
# model in docs/scaling.md (bench/scaling_model.py turns this line into its table). Prints one JSON line.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BIN=${BIN:-.build/release}
SIZE=${SIZE:-64}
STEPS=${STEPS:-4}
BACKEND=${BACKEND:-onednn}
FACES=${FACES:-../shared/data/faces}
[ -d "$FACES" ] || FACES=data/faces
if ! command -v mpirun > /dev/null; then
  echo '{"benchmark": "scaling", "skipped": "mpirun is not installed (make deps installs openmpi-bin)"}'
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$BIN/preprocess" "$FACES" --size "$SIZE" --out "$WORK/shards" --quiet > /dev/null
half=$((STEPS / 2))
"$BIN/train" --data "$WORK/shards" --out "$WORK/one" --steps "$STEPS" --log-every "$half" \
  --checkpoint-every 1000000 --sample-every 1000000 --backend "$BACKEND" --threads "$THREADS" --quiet
mpirun --oversubscribe --bind-to none -np "$THREADS" "$BIN/train" --data "$WORK/shards" --out "$WORK/ranks" \
  --steps "$STEPS" --log-every "$half" --checkpoint-every 1000000 --sample-every 1000000 --backend "$BACKEND" \
  --threads 1 --quiet
computes=""
for batch in 64 32 16 8 4 2 1; do
  line=$("$BIN/facewgan-bench" --size "$SIZE" --critic-norm layer --batch "$batch" --iterations 2 --threads "$THREADS" --backend "$BACKEND")
  computes="$computes$line
"
done
python3 - "$WORK" "$THREADS" "$SIZE" "$computes" <<'PY'
import json, struct, sys
work, ranks, size, computes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def last(path):
    return json.loads(open(path).read().strip().split("\n")[-1])
def parameter_counts(path):
    data = open(path, "rb").read()
    header = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])
    counts = {"generator": 0, "critic": 0}
    for name, entry in header.items():
        for network in counts:
            if name.startswith(network + ".") and not name.endswith(("running_mean", "running_var")):
                start, end = entry["data_offsets"]
                counts[network] += (end - start) // 4
    return counts
one, parallel = last(work + "/one/metrics.jsonl"), last(work + "/ranks/metrics.jsonl")
counts = parameter_counts(work + "/one/checkpoint.safetensors")
images = 64 * 5  # one generator iteration: 5 critic steps of the global batch
critic_steps = 5
print(json.dumps({
    "benchmark": "scaling", "size": size, "width": 64, "batch": 64, "critic_norm": "layer",
    "one_process_threads": ranks, "ranks": ranks, "threads_per_rank": 1,
    "one_process_iteration_s": round(images / one["images_per_s"], 4),
    "ranks_iteration_s": round(images / parallel["images_per_s"], 4),
    "ranks_over_one_process": round(one["images_per_s"] / parallel["images_per_s"], 4),
    "allreduce_s_per_iteration": round(parallel["allreduce_s"], 5),
    "allreduce_bytes_per_iteration": 4 * (critic_steps * counts["critic"] + counts["generator"]),
    "critic_gradient_bytes": 4 * counts["critic"], "generator_gradient_bytes": 4 * counts["generator"],
    "rank_compute_iteration_s": {str(line["batch"]): line["generator_iteration_s"]
                                 for line in map(json.loads, computes.strip().split("\n"))},
}))
PY
