#!/usr/bin/env bash
# Every program that loads a secret key refuses a key file that its group or others may read
# (or write), as ssh does: exit status 1, and stderr names the file and its mode. The same file
# with mode 0600 gets past the key (the program then fails later, for want of services, with
# another message), so this test fails if the rule is loosened or a program stops checking.
# usage: key_mode.sh HUBCTL HUBD HUB_PUBLISH MAPPING
set -u
hubctl=$1 hubd=$2 publish=$3 mapping=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$hubctl" key generate --owner HUB --key-id HUB/1 --out "$dir/hub.key" >/dev/null ||
        { echo "hubctl key generate failed" >&2; exit 1; }
"$hubctl" key generate --owner MIC --key-id MIC/1 --out "$dir/mic.key" >/dev/null ||
        { echo "hubctl key generate failed" >&2; exit 1; }
# hub-publish reads no rows: its source is absent, so it stops right after loading the key.

# name, key file, command...; no services: the programs must stop at the key or after it.
run() {
        local name=$1 key=$2 mode=$3
        shift 3
        chmod "$mode" "$key"
        HUB_PG_DSN= HUB_KAFKA_BROKERS= timeout 60 "$@" >"$dir/out" 2>"$dir/err"
        local rc=$?
        if [ "$mode" = 600 ]; then
                if grep -q 'accessible by group or others' "$dir/err"; then
                        fail "$name refused a key file of mode 0600: $(cat "$dir/err")"
                fi
                return
        fi
        [ "$rc" -eq 1 ] || fail "$name with a key file of mode $mode: exit $rc, want 1"
        grep -qF "$key: secret key file is accessible by group or others (mode 0$mode)" \
                "$dir/err" || fail "$name with mode $mode: stderr does not name the file and mode: $(cat "$dir/err")"
}

for mode in 640 604 644 620 600; do
        run hubd "$dir/hub.key" "$mode" "$hubd" --hub-key "$dir/hub.key" \
                --dsn "host=/nonexistent dbname=none" --brokers 127.0.0.1:1
        run "hubctl log sign" "$dir/hub.key" "$mode" "$hubctl" log sign --hub-key "$dir/hub.key" \
                --dsn "host=/nonexistent dbname=none"
        run hub-publish "$dir/mic.key" "$mode" "$publish" --mapping "$mapping" \
                --key "$dir/mic.key" --brokers 127.0.0.1:1 "$dir/absent.jsonl"
done
chmod 600 "$dir/hub.key" "$dir/mic.key"
[ "$fails" -eq 0 ] || exit 1
echo "ok: hubd, hubctl log sign and hub-publish refuse group/other-accessible secret keys"
