#!/bin/sh
# Issue 3's benchmark: `preprocess` at THREADS threads against a Pillow script with a pool of as many
# processes (decode, centre crop, LANCZOS resize to 64x64, np.save), in the same sitting, on
#   1. FACES (default ../shared/data/faces: 10,000 CelebA aligned crops at 89x109), and
#   2. the same photos re-encoded at twice the size (178x218, as full-size CelebA), made once.
# Prints one JSON line per run (images/s, and peak RSS in KB for ours from /usr/bin/time).
# Pillow and numpy go into a venv under /tmp when python3 cannot import them.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BIN=${BIN:-.build/release}
FACES=${FACES:-../shared/data/faces}
WORK=${WORK:-/tmp/facewgan-bench-preprocess}
[ -d "$FACES" ] || { echo "preprocess_bench: no $FACES, nothing to measure" >&2; exit 0; }
mkdir -p "$WORK"

PYTHON=python3
if ! $PYTHON -c 'import PIL, numpy' 2>/dev/null; then
  if [ ! -x "$WORK/venv/bin/python" ]; then
    python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q pillow numpy
  fi
  PYTHON="$WORK/venv/bin/python"
fi
if [ ! -d "$WORK/faces2x" ]; then
  echo "preprocess_bench: re-encoding $FACES at twice the size into $WORK/faces2x" >&2
  $PYTHON bench/pillow_preprocess.py --enlarge "$FACES" "$WORK/faces2x" --factor 2
fi

for set in "$FACES" "$WORK/faces2x"; do
  name=$(basename "$set")
  # Warm the page cache so both tools read from memory.
  cat "$set"/*.jpg > /dev/null
  printf '{"set": "%s", ' "$name"
  $PYTHON bench/pillow_preprocess.py "$set" --size 64 --processes "$THREADS" --out "$WORK/pillow.npy" | sed 's/^{//'
  printf '{"set": "%s", "tool": "preprocess", ' "$name"
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN/preprocess" "$set" --size 64 --threads "$THREADS" --quiet --force \
    --out "$WORK/shards-$name" | sed 's/^{//; s/}$//' | tr -d '\n'
  printf ', "peak_rss_kb": %s}\n' "$(cat "$WORK/rss")"
done
