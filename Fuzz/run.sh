#!/bin/sh
# `make fuzz`: builds the targets (Fuzz/build.sh), writes each one's seed corpus (FuzzSeeds, through the
# target itself) into .build/fuzz/corpus/<target>, and runs each target for FUZZ_SECONDS (default 300),
# one after the other. Inputs that crash, hang (10 s) or exhaust memory are kept in
# Tests/Fixtures/fuzz-regressions/<target>/, which FuzzRegressionTests replays in `make test`; commit
# them with the fix. Prints one line per target (executions, coverage, features, corpus size) and exits
# 1 if any target found something.
set -u
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
TARGETS=${FUZZ_TARGETS:-"safetensors npy latents shard-index jpeg png preprocess-records"}
OUT=.build/fuzz
FUZZ_TARGETS="$TARGETS" sh Fuzz/build.sh 2>&1 | grep -v "Cannot export local symbol" >&2
[ -x "$OUT/fuzz" ] || exit 1
status=0
for target in $TARGETS; do
    corpus="$OUT/corpus/$target"
    kept="Tests/Fixtures/fuzz-regressions/$target"
    mkdir -p "$corpus" "$kept"
    FACEWGAN_FUZZ_SEEDS="$corpus" "$OUT/fuzz-$target" || { echo "fuzz: $target: writing its seeds failed" >&2; exit 1; }
    log="$OUT/$target.log"
    "$OUT/fuzz-$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$kept/" "$corpus" >"$log" 2>&1
    result=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n 1 | sed 's/^#[0-9]*[[:space:]]*//')
    echo "fuzz: $target: ${executions:-?} executions in ${FUZZ_SECONDS} s; ${last:-no coverage line}"
    if [ "$result" -ne 0 ]; then
        status=1
        echo "fuzz: $target FAILED (status $result), input kept in $kept/ (log: $log):" >&2
        grep -E "^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written" "$log" | head -n 5 >&2
    fi
    rmdir "$kept" 2>/dev/null || true
done
rmdir Tests/Fixtures/fuzz-regressions Tests/Fixtures 2>/dev/null || true
exit $status
