#!/usr/bin/env bash
# Fuzz every harness of a -Dfuzz=true build for SECONDS each, one after the other, starting from
# a copy of its committed corpus and regressions (the committed folders never grow), and print
# one line per harness: runs, time, exec/s, result. Exits 1 if any harness crashed, leaked,
# timed out or ran out of memory; the input that did it is kept and its path printed.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]
# Environment: FUZZ_KEEP=DIR keeps the grown corpora there (to review and commit new seeds);
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-jobs=2).
set -uo pipefail

usage() {
        echo "usage: $0 BUILD_DIR SECONDS [HARNESS...]" >&2
        exit 2
}
[ $# -ge 2 ] || usage
build=$1
secs=$2
shift 2
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bindir=$build/tests/fuzz
[ -d "$bindir" ] || {
        echo "$0: $bindir not found: set up the build with -Dfuzz=true" >&2
        exit 2
}

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
        for d in "$here"/corpus/*/; do
                harnesses+=("$(basename "$d")")
        done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hub-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
export HUB_SOURCE_ROOT=$root
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
printf '%-16s %12s %7s %9s  %s\n' harness runs time exec/s result
for h in "${harnesses[@]}"; do
        bin=$bindir/fuzz_$h
        if [ ! -x "$bin" ]; then
                printf '%-16s %12s %7s %9s  %s\n' "$h" - - - "missing: $bin"
                failed=1
                continue
        fi
        mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
        cp -r "$here/corpus/$h/." "$work/$h/corpus/"
        log=$work/$h/log
        t0=$(date +%s)
        # -timeout: one input may take 10 s (a hang is a finding); -rss_limit_mb: 2 GiB.
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$work/$h/artifacts/" ${FUZZ_ARGS:-} \
                "$work/$h/corpus" "$here/regressions/$h" >"$log" 2>&1
        rc=$?
        t=$(($(date +%s) - t0))
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        result=ok
        if [ $rc -ne 0 ]; then
                failed=1
                if grep -q 'ERROR: LeakSanitizer' "$log"; then
                        result=leak
                elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
                        result=timeout
                elif grep -q -e 'out-of-memory' -e 'ERROR: libFuzzer: .*rss' "$log"; then
                        result=oom
                else
                        result="crash (exit $rc)"
                fi
                keep=$build/fuzz-findings/$h
                mkdir -p "$keep"
                cp "$work/$h/artifacts/"* "$keep/" 2>/dev/null
                cp "$log" "$keep/log"
                result="$result: inputs and log in $keep"
                grep -m1 -E 'ERROR: |SUMMARY: |invariant broken' "$log" | sed 's/^/    /' >&2
        fi
        if [ -n "${FUZZ_KEEP:-}" ]; then
                mkdir -p "$FUZZ_KEEP/$h"
                cp -r "$work/$h/corpus/." "$FUZZ_KEEP/$h/"
        fi
        printf '%-16s %12s %6ss %9s  %s\n' "$h" "${runs:-?}" "$t" "${eps:-?}" "$result"
done
exit $failed
