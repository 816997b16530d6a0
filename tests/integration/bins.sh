#!/usr/bin/env bash
# The bank BIN list as reference data in the database: `hubctl bins add|remove|list` changes
# bank_bins, a running hubd reloads it on SIGHUP, and ingest then accepts a bank account at an
# added BIN (a valid identifier that resolves) and refuses one at a removed BIN (kept as an
# invalid statement with reason UNKNOWN_BANK, never an identifier).
# usage: bins.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_databases bins sub
hubd_pid=
hubctl=$build/hub/ctl/hubctl
it_before_cleanup() {
        [ -n "$hubd_pid" ] && kill "$hubd_pid" 2>/dev/null && wait "$hubd_pid" 2>/dev/null
}
# Wait for a condition (a command) while hubd works, giving up after about two minutes.
wait_for() {
        for _ in $(seq 600); do
                "$@" && return 0
                sleep 0.2
        done
        return 1
}
# The bank account statement of a record: valid|reason|value.
acct() { q "SELECT CASE WHEN valid THEN 't' ELSE 'f' END || '|' || coalesce(reason, '') || '|' || value FROM statements
        WHERE record_id = '$1' AND prop = 'identifier:BANK_ACCOUNT'"; }

t=B$$
row() { # row ID BIN ACCOUNT
        echo "{\"record_id\": \"$t-$1\", \"source_agency\": \"HQ\", \"reported_at\": \"2025-05-0$1\", \"subject_type\": \"individual\", \"name\": \"Người Bán $1\", \"bank_accounts\": [{\"account_no\": \"$3\", \"bank_bin\": \"$2\", \"holder\": \"NGUOI BAN $1\"}]}"
}
{ row 1 970436 1001001001; row 2 970999 1002002002; } >"$tmp/one.jsonl"
"$root/deploy/main-job.sh" "$build" "$tmp/one.jsonl" >"$tmp/run1" 2>&1 ||
        { cat "$tmp/run1"; fail "main job exited non-zero"; }
[ "$(acct "$t-1")" = "t||970436:1001001001" ] || fail "a VCB account is not valid before the change"
[ "$(acct "$t-2" | cut -d'|' -f1-2)" = "f|UNKNOWN_BANK" ] ||
        fail "an account at the unlisted BIN 970999 is not UNKNOWN_BANK"
[ "$(q "SELECT count(*) FROM bank_bins")" = 16 ] || fail "bank_bins is not seeded with the 16 banks"

# hubd keeps running while the operator changes the list.
"$build/hub/hubd/hubd" --hub-key "$tmp/state/keys/hub.key" --log-level info 2>"$tmp/hubd.log" &
hubd_pid=$!
loaded() { [ "$(grep -c 'msg="bank BIN list loaded" banks=16' "$tmp/hubd.log")" -ge "$1" ]; }
wait_for loaded 1 || { cat "$tmp/hubd.log"; fail "hubd did not load the BIN list at start"; }

"$hubctl" bins add 12345 X >"$tmp/bad" 2>&1
[ $? = 2 ] && grep -q 'invalid BIN "12345": 6 digits expected' "$tmp/bad" ||
        { cat "$tmp/bad"; fail "a bad BIN is not refused with a usage error"; }
"$hubctl" bins add 970999 TESTBANK --alias "Test Bank" >"$tmp/add" 2>&1 ||
        { cat "$tmp/add"; fail "hubctl bins add"; }
"$hubctl" bins remove VCB >"$tmp/remove" 2>&1 || { cat "$tmp/remove"; fail "hubctl bins remove"; }
"$hubctl" bins remove VCB >"$tmp/remove2" 2>&1 && fail "removing an absent bank succeeds"
grep -q 'no bank with BIN or code VCB' "$tmp/remove2" || { cat "$tmp/remove2"; fail "absent bank message"; }
"$hubctl" bins list >"$tmp/list" 2>&1 || { cat "$tmp/list"; fail "hubctl bins list"; }
grep -q '^970999  TESTBANK       Test Bank$' "$tmp/list" && ! grep -q '^970436' "$tmp/list" &&
        grep -q '(16 banks)' "$tmp/list" || { cat "$tmp/list"; fail "hubctl bins list does not show the change"; }

kill -HUP "$hubd_pid"
wait_for loaded 2 || { cat "$tmp/hubd.log"; fail "hubd did not reload the BIN list on SIGHUP"; }
{ row 3 970999 1003003003; row 4 970436 1004004004; } >"$tmp/two.jsonl"
"$build/connectors/hub-publish" --mapping "$root/connectors/examples/mof-hq.ini" \
        --key "$tmp/state/keys/mof-hq.key" --state "$tmp/state/two.watermark" "$tmp/two.jsonl" \
        >"$tmp/publish" 2>&1 || { cat "$tmp/publish"; fail "hub-publish"; }
stored() { [ "$(q "SELECT count(*) FROM records WHERE record_id IN ('$t-3', '$t-4')")" = 2 ]; }
wait_for stored || { cat "$tmp/hubd.log"; fail "hubd did not store the new records"; }

[ "$(acct "$t-3")" = "t||970999:1003003003" ] || fail "an account at the added BIN is not valid"
[ "$(q "SELECT count(*) FROM identifiers i JOIN records r ON r.entity_id = i.entity_id
        WHERE r.record_id = '$t-3' AND i.type = 'BANK_ACCOUNT' AND i.value = '970999:1003003003'")" = 1 ] ||
        fail "the account at the added BIN does not resolve to its entity"
[ "$(acct "$t-4" | cut -d'|' -f1-2)" = "f|UNKNOWN_BANK" ] ||
        fail "an account at the removed BIN is not refused UNKNOWN_BANK"
[ "$(q "SELECT count(*) FROM identifiers WHERE value LIKE '%1004004004'")" = 0 ] ||
        fail "the account at the removed BIN became an identifier"
kill -TERM "$hubd_pid"
wait "$hubd_pid"
st=$?
hubd_pid=
[ "$st" = 0 ] || { cat "$tmp/hubd.log"; fail "hubd exited $st after SIGTERM"; }
echo "ok: BIN added and removed with hubctl bins; hubd reloads on SIGHUP; ingest follows the list"
