#!/bin/sh
# evaluate's speed and memory: COUNT (default 10,000) random 64x64 images as real shards against as
# many as a .npy of fakes, at THREADS threads (default 2). Prints evaluate's JSON line (its `seconds`
# is the wall time, shard checksums included) and one JSON line with the peak RSS from /usr/bin/time.
# The inputs are made once under WORK with the Python standard library (no NumPy needed).
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BIN=${BIN:-.build/release}
COUNT=${COUNT:-10000}
WORK=${WORK:-/tmp/facewgan-bench-evaluate}
mkdir -p "$WORK"
if [ ! -f "$WORK/real-$COUNT/index.json" ] || [ ! -f "$WORK/fake-$COUNT.npy" ]; then
  python3 - "$WORK" "$COUNT" <<'PY'
import hashlib, json, os, random, sys
work, count = sys.argv[1], int(sys.argv[2])
def npy(seed):
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 64, 64, 3), }" % count
    header = b"\x93NUMPY\x01\x00" + (len(text) + 1 + (-(10 + len(text) + 1)) % 64).to_bytes(2, "little")
    header += text.encode() + b" " * ((-(10 + len(text) + 1)) % 64) + b"\n"
    return header + random.Random(seed).randbytes(count * 64 * 64 * 3)
shards = os.path.join(work, "real-%d" % count)
os.makedirs(shards, exist_ok=True)
data = npy(1)
with open(os.path.join(shards, "shard-00000.npy"), "wb") as handle:
    handle.write(data)
with open(os.path.join(shards, "manifest.tsv"), "w") as handle:
    handle.write("shard\tindex\tpath\tx\ty\tw\th\n")
with open(os.path.join(shards, "index.json"), "w") as handle:
    json.dump({"format": "facewgan-shards", "version": 1, "image_size": 64, "channels": 3, "count": count,
               "shards": [{"file": "shard-00000.npy", "count": count, "sha256": hashlib.sha256(data).hexdigest()}]}, handle)
with open(os.path.join(work, "fake-%d.npy" % count), "wb") as handle:
    handle.write(npy(2))
PY
fi
/usr/bin/time -f '{"bench": "evaluate", "count": '"$COUNT"', "threads": '"$THREADS"', "max_rss_kb": %M, "wall_s": %e}' \
  "$BIN/evaluate" --real "$WORK/real-$COUNT" --fake "$WORK/fake-$COUNT.npy" --threads "$THREADS" --quiet
