#!/usr/bin/env bash
# The README's main job against the real broker: every sample record comes back verified, and a
# file with bad lines is refused line by line, with reasons, and a failing exit code.
# usage: demo.sh HUB_DEMO_BINARY SAMPLE.jsonl
set -uo pipefail
demo=$1 sample=$2
if [ -z "${HUB_KAFKA_BROKERS:-}" ]; then
        echo "HUB_KAFKA_BROKERS is not set: start deploy/local/start.sh first"
        [ "${HUB_REQUIRE_SERVICES:-}" = 1 ] && exit 1
        exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }

n=$(grep -c . "$sample")
"$demo" --batch-size 3 "$sample" >"$tmp/out" 2>"$tmp/err" || fail "exit code $? on the sample"
grep -q "^ok: $n of $n records published, received and verified$" "$tmp/out" ||
        fail "summary does not say all $n records were verified"
grep -q "a copy with one bit flipped is refused: " "$tmp/out" || fail "no tamper check shown"
grep -q "proved alone by its audit path" "$tmp/out" || fail "no audit path shown"

# Bad input: a line that is not JSON, an unknown enum symbol, an unknown field. Each is reported
# with its line number and reason code; the good lines still go through; the exit code is 1.
{
        head -n 2 "$sample"
        echo '{not json'
        head -n 1 "$sample" | sed 's/"subject_kind": "[A-Z_]*"/"subject_kind": "ALIEN"/'
        head -n 1 "$sample" | sed 's/^{/{"surprise": 1, /'
} >"$tmp/bad.jsonl"
"$demo" "$tmp/bad.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] || fail "exit code $rc on bad input, want 1"
grep -q "bad.jsonl:3: rejected: MALFORMED" "$tmp/err" || fail "line 3 (not JSON) not reported"
grep -q 'bad.jsonl:4: rejected: MALFORMED: field subject_kind: "ALIEN" is not a symbol' \
        "$tmp/err" || fail "line 4 (unknown symbol) not reported"
grep -q "bad.jsonl:5: rejected: MALFORMED: field surprise: unknown field" "$tmp/err" ||
        fail "line 5 (unknown field) not reported"
grep -q "^5 reports read from .*, 3 rejected$" "$tmp/out" || fail "counts not reported"
grep -q "^FAILED: 2 of 2 records" "$tmp/out" || fail "the good lines did not go through"
echo "ok"
