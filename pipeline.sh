#!/usr/bin/env bash
# pipeline.sh: face photos -> shards -> trained generator -> sample grid -> interpolation walk.
#
#   ./pipeline.sh [options] [IMAGES] [OUT]        (defaults: data/faces and out/)
#
# Stages, each skipped when its outputs are already complete (so a re-run after an interruption
# does not redo finished work):
#   build        swift build -c release, if a tool is missing from $FACEWGAN_BIN
#   preprocess   IMAGES -> OUT/shards/          complete when OUT/shards/index.json exists
#   train        OUT/shards -> OUT/run/         complete when OUT/run/pipeline-train.done records
#                                               the same settings (written after train succeeds)
#   grid         OUT/run -> OUT/grid.png        complete when the file exists
#   walk         OUT/run -> OUT/walk/latents.txt, OUT/walk/frames/000000.png..., OUT/walk/strip.png
#
# Every setting is an environment variable and a flag (the flag wins). The defaults are the
# `make demo` settings, chosen to finish in about 10 minutes on 2 cores with the sample set:
# 32x32 images, width 16, 2000 steps of batch 64, EMA decay 0.995. Measured on 2 cores (Xeon, tools
# already built): the whole pipeline with 2000 steps took 263 s (about 2,400 images/s through the
# critic). For real photos use more, e.g.
#   SIZE=64 WIDTH=64 STEPS=20000 EMA_DECAY=0.999 PREPROCESS_ARGS="--crop-size 108" \
#       ./pipeline.sh img_align_celeba out/celeba   (CelebA's aligned crops: a 108-pixel centre square)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

SIZE="${SIZE:-32}"                    # image side: 32, 64 or 128
STEPS="${STEPS:-2000}"                # generator steps
BATCH="${BATCH:-64}"                  # batch size
WIDTH="${WIDTH:-16}"                  # network width (channels of the critic's first layer)
Z_DIM="${Z_DIM:-128}"                 # latent dimension
THREADS="${THREADS:-}"                # threads for every tool (empty: all cores)
SEED="${SEED:-1}"                     # seed for training, the grid and the walk
LR="${LR:-}"                          # Adam learning rate (empty: train's default, 1e-4)
# Decay of the generator's moving average, which sample and interpolate use. train's default, 0.999,
# averages over ~1000 steps and still holds 22% of the random initial weights after 1500 steps;
# 0.995 (~200 steps) suits short runs. Use 0.999 for runs of 10,000 steps and more.
EMA_DECAY="${EMA_DECAY:-0.995}"
LOG_EVERY="${LOG_EVERY:-10}"          # a metrics line every N steps
CHECKPOINT_EVERY="${CHECKPOINT_EVERY:-250}"
SAMPLE_EVERY="${SAMPLE_EVERY:-250}"   # a sample grid in OUT/run/samples every N steps
GRID_COUNT="${GRID_COUNT:-64}"        # faces in OUT/grid.png
GRID_COLUMNS="${GRID_COLUMNS:-8}"
TRUNCATION="${TRUNCATION:-}"          # e.g. 0.7 for cleaner, less varied faces (empty: none)
KEYFRAMES="${KEYFRAMES:-4}"           # keyframes of the walk
WALK_STEPS="${WALK_STEPS:-8}"         # latents per segment of the walk
RESUME="${RESUME:-0}"                 # 1: like --resume
# Extra arguments passed to one tool as they are (word-split), e.g. PREPROCESS_ARGS="--crop-size 108".
PREPROCESS_ARGS="${PREPROCESS_ARGS:-}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
SAMPLE_ARGS="${SAMPLE_ARGS:-}"
# Where the tools are; the default is where `swift build -c release` puts them (built if missing).
FACEWGAN_BIN="${FACEWGAN_BIN:-}"

usage() {
    cat <<EOF
usage: ./pipeline.sh [options] [IMAGES] [OUT]

Runs preprocess -> train -> a sample grid -> an interpolation walk (frames and a strip).
IMAGES: a folder of face photos (default: data/faces, the bundled synthetic sample set).
OUT: output directory (default: out). Finished stages are skipped on a re-run.

Options (each also an environment variable; defaults are the \`make demo\` settings):
  --size N             SIZE             image side, 32, 64 or 128 (default 32)
  --steps N            STEPS            generator steps (default 2000)
  --batch N            BATCH            batch size (default 64)
  --width N            WIDTH            network width (default 16)
  --z-dim N            Z_DIM            latent dimension (default 128)
  --lr X               LR               Adam learning rate (default: train's, 1e-4)
  --ema-decay X        EMA_DECAY        generator moving average (default 0.995; 0.999 for long runs)
  --threads N          THREADS          threads for every tool (default: all cores)
  --seed N             SEED             seed of training, grid and walk (default 1)
  --log-every N        LOG_EVERY        metrics line every N steps (default 10)
  --checkpoint-every N CHECKPOINT_EVERY (default 250)
  --sample-every N     SAMPLE_EVERY     training sample grids (default 250)
  --grid-count N       GRID_COUNT       faces in OUT/grid.png (default 64)
  --grid-columns N     GRID_COLUMNS     (default 8)
  --truncation PSI     TRUNCATION       truncation of grid and walk latents (default: none)
  --keyframes K        KEYFRAMES        keyframes of the walk (default 4)
  --walk-steps N       WALK_STEPS       latents per walk segment (default 8)
  --resume             RESUME=1         continue an interrupted (or extended) training stage
  -h, --help
Also: PREPROCESS_ARGS, TRAIN_ARGS, SAMPLE_ARGS (extra arguments for one tool), FACEWGAN_BIN (the
directory holding the tools; default .build/release, built with swift build -c release if missing).

Outputs: OUT/shards/ OUT/run/ (checkpoint, metrics.jsonl, samples/, report.html) OUT/grid.png
         OUT/walk/latents.txt OUT/walk/frames/ OUT/walk/strip.png
EOF
}

positional=()
while [ $# -gt 0 ]; do
    case "$1" in
        --size) SIZE="$2"; shift 2 ;;
        --steps) STEPS="$2"; shift 2 ;;
        --batch) BATCH="$2"; shift 2 ;;
        --width) WIDTH="$2"; shift 2 ;;
        --z-dim) Z_DIM="$2"; shift 2 ;;
        --lr) LR="$2"; shift 2 ;;
        --ema-decay) EMA_DECAY="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --log-every) LOG_EVERY="$2"; shift 2 ;;
        --checkpoint-every) CHECKPOINT_EVERY="$2"; shift 2 ;;
        --sample-every) SAMPLE_EVERY="$2"; shift 2 ;;
        --grid-count) GRID_COUNT="$2"; shift 2 ;;
        --grid-columns) GRID_COLUMNS="$2"; shift 2 ;;
        --truncation) TRUNCATION="$2"; shift 2 ;;
        --keyframes) KEYFRAMES="$2"; shift 2 ;;
        --walk-steps) WALK_STEPS="$2"; shift 2 ;;
        --resume) RESUME=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; positional+=("$@"); break ;;
        -*) echo "pipeline.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) positional+=("$1"); shift ;;
    esac
done
if [ ${#positional[@]} -gt 2 ]; then
    echo "pipeline.sh: expected at most IMAGES and OUT, got ${#positional[@]} arguments (see --help)" >&2
    exit 2
fi
IMAGES="${positional[0]:-$here/data/faces}"
OUT="${positional[1]:-out}"

for name in SIZE STEPS BATCH WIDTH Z_DIM SEED LOG_EVERY CHECKPOINT_EVERY SAMPLE_EVERY GRID_COUNT GRID_COLUMNS \
            KEYFRAMES WALK_STEPS; do
    case "${!name}" in
        ''|*[!0-9]*) echo "pipeline.sh: $name must be a whole number, not '${!name}'" >&2; exit 2 ;;
    esac
done
case "$THREADS" in *[!0-9]*) echo "pipeline.sh: THREADS must be a whole number, not '$THREADS'" >&2; exit 2 ;; esac

stage="setup"
trap 'status=$?; if [ $status -ne 0 ]; then echo "pipeline.sh: stage \"$stage\" failed (exit status $status); fix the cause and run the same command again: finished stages are skipped" >&2; fi' EXIT
say() { echo "==> $*" >&2; }

threads=()
[ -n "$THREADS" ] && threads=(--threads "$THREADS")
truncation=()
[ -n "$TRUNCATION" ] && truncation=(--truncation "$TRUNCATION")

# ---- build ----------------------------------------------------------------------------------------
stage="build"
tools=(preprocess train sample interpolate)
missing() { for tool in "${tools[@]}"; do [ -x "$BIN/$tool" ] || return 0; done; return 1; }
if [ -n "$FACEWGAN_BIN" ]; then
    BIN="$FACEWGAN_BIN"
    if missing; then
        for tool in "${tools[@]}"; do [ -x "$BIN/$tool" ] || echo "pipeline.sh: $BIN/$tool is missing" >&2; done
        echo "pipeline.sh: FACEWGAN_BIN=$BIN does not hold every tool (unset it to build into .build/release)" >&2
        exit 1
    fi
else
    BIN="$here/.build/release"
    if missing; then
        say "build: swift build -c release (once; a few minutes)"
        (cd "$here" && swift build -c release)
        missing && { echo "pipeline.sh: the build did not produce ${tools[*]} in $BIN" >&2; exit 1; }
    fi
fi

[ -e "$IMAGES" ] || { stage="preprocess"; echo "pipeline.sh: no images at '$IMAGES'" >&2; exit 1; }
mkdir -p "$OUT"
shards="$OUT/shards" run="$OUT/run" grid="$OUT/grid.png" walk="$OUT/walk"
start=$SECONDS

# ---- preprocess -----------------------------------------------------------------------------------
stage="preprocess"
if [ -f "$shards/index.json" ]; then
    if ! grep -Eq "\"image_size\" *: *$SIZE[,} ]" "$shards/index.json"; then
        echo "pipeline.sh: $shards holds images of another size than SIZE=$SIZE; remove it or use another OUT" >&2
        exit 1
    fi
    say "preprocess: $shards is complete, skipped"
else
    say "preprocess: $IMAGES -> $shards (${SIZE}x$SIZE)"
    # --force: a directory without index.json is what an interrupted preprocess leaves.
    # shellcheck disable=SC2086
    "$BIN/preprocess" "$IMAGES" --size "$SIZE" --out "$shards" --force "${threads[@]}" $PREPROCESS_ARGS > "$OUT/preprocess.json"
fi

# ---- train ----------------------------------------------------------------------------------------
stage="train"
stamp="$run/pipeline-train.done"
settings="steps=$STEPS batch=$BATCH width=$WIDTH z_dim=$Z_DIM seed=$SEED lr=$LR ema_decay=$EMA_DECAY args=$TRAIN_ARGS"
last_step() { [ -s "$run/metrics.jsonl" ] && tail -n 1 "$run/metrics.jsonl" | sed -n 's/^{"step": *\([0-9]*\).*/\1/p' || true; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$settings" ] && [ -f "$run/checkpoint.safetensors" ]; then
    say "train: $run is complete at step $STEPS, skipped"
else
    train=(--data "$shards" --out "$run" --steps "$STEPS" --batch "$BATCH" --width "$WIDTH" --z-dim "$Z_DIM"
           --seed "$SEED" --ema-decay "$EMA_DECAY" --log-every "$LOG_EVERY" --checkpoint-every "$CHECKPOINT_EVERY" --sample-every "$SAMPLE_EVERY")
    [ -n "$LR" ] && train+=(--lr "$LR")
    if [ -f "$run/checkpoint.safetensors" ]; then
        if [ "$RESUME" != 1 ]; then
            echo "pipeline.sh: $run holds an unfinished run (last logged step: $(last_step || true)); add --resume to continue it to step $STEPS, or remove $run to start over" >&2
            exit 1
        fi
        train+=(--resume)
        say "train: resuming $run (last logged step $(last_step)) up to step $STEPS"
    else
        say "train: $STEPS steps, width $WIDTH, batch $BATCH -> $run"
    fi
    rm -f "$stamp"
    # shellcheck disable=SC2086
    "$BIN/train" "${train[@]}" "${threads[@]}" $TRAIN_ARGS
    echo "$settings" > "$stamp"
    # A new generator makes the grid and the walk stale.
    rm -rf "$grid" "$walk"
fi

# ---- grid -----------------------------------------------------------------------------------------
stage="grid"
if [ -f "$grid" ]; then
    say "grid: $grid exists, skipped"
else
    say "grid: $GRID_COUNT faces -> $grid"
    # shellcheck disable=SC2086
    "$BIN/sample" --checkpoint "$run" --count "$GRID_COUNT" --seed "$SEED" "${truncation[@]}" \
        --grid "$grid" --columns "$GRID_COLUMNS" "${threads[@]}" $SAMPLE_ARGS
fi

# ---- walk -----------------------------------------------------------------------------------------
stage="walk"
mkdir -p "$walk"
if [ -f "$walk/latents.txt" ]; then
    say "walk: $walk/latents.txt exists, skipped"
else
    say "walk: $KEYFRAMES keyframes, $WALK_STEPS latents per segment, looped -> $walk/latents.txt"
    "$BIN/interpolate" --checkpoint "$run" --keyframes "$KEYFRAMES" --seed "$SEED" --steps "$WALK_STEPS" \
        --method slerp --loop > "$walk/latents.tmp"
    mv "$walk/latents.tmp" "$walk/latents.txt"
fi
frames=$((KEYFRAMES * WALK_STEPS))
if [ -d "$walk/frames" ]; then
    say "walk: $walk/frames exists, skipped"
else
    say "walk: $frames frames -> $walk/frames"
    # Frames go to a scratch directory renamed into place, so frames/ exists only when complete.
    rm -rf "$walk/frames.partial"
    # shellcheck disable=SC2086
    "$BIN/sample" --checkpoint "$run" --latents "$walk/latents.txt" "${truncation[@]}" --out "$walk/frames.partial" \
        "${threads[@]}" $SAMPLE_ARGS
    mv "$walk/frames.partial" "$walk/frames"
fi
if [ -f "$walk/strip.png" ]; then
    say "walk: $walk/strip.png exists, skipped"
else
    say "walk: strip of $frames frames -> $walk/strip.png"
    # shellcheck disable=SC2086
    "$BIN/sample" --checkpoint "$run" --latents "$walk/latents.txt" "${truncation[@]}" --grid "$walk/strip.png" \
        --columns "$frames" --padding 1 "${threads[@]}" $SAMPLE_ARGS
fi

stage="done"
cat <<EOF

pipeline.sh: done in $((SECONDS - start)) s
  shards        $shards/ (index.json, manifest.tsv)
  checkpoint    $run/checkpoint.safetensors
  training      $run/metrics.jsonl, $run/samples/$([ -f "$run/report.html" ] && echo ", $run/report.html (open it in a browser)")
  sample grid   $grid
  walk          $walk/latents.txt, $walk/frames/ ($frames frames), $walk/strip.png
Make a GIF:     convert -delay 8 -loop 0 $walk/frames/*.png $OUT/walk.gif
EOF
