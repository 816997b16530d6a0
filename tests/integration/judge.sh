#!/usr/bin/env bash
# Analysts' judgements end to end, through the real broker, to a subscriber's tables:
#  1. an analyst's key is registered; two records make two entities (a tax code, a domain);
#  2. `judge same` merges them: the subscriber gets the redirect, no identifier left under it;
#  3. `judge split` moves the domain's record out to a new entity: the subscriber gets it with
#     split_from and the domain, and the old entity without that record or the domain;
#  4. `judge undo` of the split merges it back (redirect); `judge undo` of the same gives the
#     absorbed entity its record back (published again, split_from the survivor);
#  5. `judge not-same` on the pair: a later record carrying both identifiers does not merge
#     them (the pair stays a candidate), and `judge same` on it is refused; once the not-same
#     is undone, `judge same` merges them;
#  6. a judgement signed by an unregistered key, a wrong key or a revoked key is refused with
#     exit 1 and a clear message, and nothing is stored;
#  7. `hubctl log verify` passes, then fails on a judgement row changed in PostgreSQL;
#     `hubctl provenance` shows the judgements with who made them.
# usage: judge.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_databases judge sub
hubctl=$build/hub/ctl/hubctl
# hubd ships the outbox the judgements filled; the subscriber applies it.
publish() {
        "$build/hub/hubd/hubd" --hub-key "$HUB_MAIN_STATE/keys/hub.key" --exit-when-idle 3 \
                --log-level warn >"$tmp/hubd" 2>&1 || { cat "$tmp/hubd"; fail "hubd exited $?"; }
        "$build/connectors/hub-subscribe" --tier shared --hub-key "$HUB_MAIN_STATE/keys/hub.key.pub" \
                --dsn "$HUB_SUBSCRIBER_DSN" --exit-when-idle 3 --log-level warn >"$tmp/sub" 2>&1 ||
                { cat "$tmp/sub"; fail "hub-subscribe exited $?"; }
}
# judge ARGS...: run hubctl judge as analyst LAN, expect success, print its output.
judge() {
        "$hubctl" judge "$@" --key "$tmp/lan.key" --hub-key "$HUB_MAIN_STATE/keys/hub.key" \
                >"$tmp/judge" 2>&1
        local rc=$?
        [ $rc = 0 ] || { cat "$tmp/judge"; fail "hubctl judge $1 exited $rc"; }
        cat "$tmp/judge"
}
# A valid tax code of this run (10 digits, check digit by the tax office's weights), so that
# the records other tests left on the broker never share an identifier with these.
tax_code() { # PREFIX N
        local n=$2 w=(31 29 23 19 17 13 7 5 3) s d r
        while :; do
                d=$(printf '%s%07d' "$1" "$n")
                s=0
                for i in 0 1 2 3 4 5 6 7 8; do s=$((s + ${d:i:1} * w[i])); done
                r=$((10 - s % 11))
                [ $((s % 11)) -ne 0 ] && [ $r -lt 10 ] && { echo "$d$r"; return; }
                n=$((n + 1))
        done
}
tag=$$
t1=$(tax_code 03 $((tag % 9000000)))
t2=$(tax_code 01 $((tag % 9000000)))
dom=hn$tag-vidu.vn

cat >"$tmp/one.jsonl" <<JSON
{"record_id": "J$tag-1", "source_agency": "QLTT", "reported_at": "2025-04-01", "subject_type": "organization", "name": "Công ty TNHH Phán Quyết", "tax_code": "$t1"}
{"record_id": "J$tag-2", "source_agency": "HQ", "reported_at": "2025-04-02", "subject_type": "organization", "name": "PHAN QUYET TRADING", "domains": ["$dom"]}
{"record_id": "J$tag-4", "source_agency": "QLTT", "reported_at": "2025-04-04", "subject_type": "organization", "name": "Công ty TNHH Hai Tầng", "tax_code": "$t2"}
{"record_id": "J$tag-5", "source_agency": "CA", "reported_at": "2025-04-05", "subject_type": "organization", "name": "Công ty TNHH Hai Tầng", "tax_code": "$t2"}
JSON
"$root/deploy/main-job.sh" "$build" "$tmp/one.jsonl" >"$tmp/run1" 2>&1 ||
        { cat "$tmp/run1"; fail "main job exited $? on the first rows"; }
a=$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-1'")
b=$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-2'")
ag2=$(q "SELECT agency FROM records WHERE record_id = 'J$tag-2'")
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || fail "the two records are not two entities"
old=$(( a < b ? a : b )) new=$(( a < b ? b : a ))
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id IN ('E$a', 'E$b')
        AND merged_into IS NULL")" = 2 ] || fail "the subscriber does not hold both entities"

# The analyst and her key.
"$hubctl" key generate --owner LAN --key-id LAN/1 --out "$tmp/lan.key" >/dev/null 2>&1 ||
        fail "hubctl key generate"
"$hubctl" analyst add LAN --public-key-file "$tmp/lan.key.pub" --name "Nguyễn Thị Lan" \
        >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "hubctl analyst add"; }
"$hubctl" judge --help | grep -q "not-same" || fail "hubctl judge --help"

# ---- same: E$new merged into E$old ----
judge same "E$a" "$dom" --reason "same company: the domain's registrant is its director"
js=$(q "SELECT id FROM judgements WHERE kind = 'same'")
[ "$(q "SELECT merged_into FROM entities WHERE id = $new")" = "$old" ] ||
        fail "judge same did not merge E$new into E$old"
[ "$(q "SELECT count(*) FROM merges WHERE survivor = $old AND absorbed = $new
        AND rule = 'judgement' AND evidence @> '{\"judgement\": $js, \"analyst\": \"LAN\"}'")" = 1 ] ||
        { q "SELECT * FROM merges"; fail "the merge does not name the judgement as evidence"; }
publish
[ "$(qs "SELECT merged_into FROM hub_entities WHERE entity_id = 'E$new'")" = "E$old" ] ||
        fail "the subscriber has no redirect E$new -> E$old"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers WHERE entity_id = 'E$new'")" = 0 ] ||
        fail "the subscriber keeps identifiers under the merged entity"
for v in "$t1" "$dom"; do
        [ "$(qs "SELECT entity_id FROM hub_entity_identifiers WHERE value = '$v'")" = "E$old" ] ||
                fail "the subscriber does not find $v under E$old after the merge"
done
echo "ok: judge same -> E$new redirected to E$old at the subscriber"

# ---- split: the domain's record out to a new entity ----
judge split "E$old" --records "$ag2/J$tag-2" --reason "the website belongs to another seller"
jsp=$(q "SELECT id FROM judgements WHERE kind = 'split'")
n=$(q "SELECT new_entity FROM judgements WHERE id = $jsp")
[ -n "$n" ] && [ "$(q "SELECT split_from FROM entities WHERE id = $n")" = "$old" ] ||
        fail "the split made no entity with split_from E$old"
[ "$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-2'")" = "$n" ] ||
        fail "the record did not move to E$n"
[ "$(q "SELECT entity_id FROM identifiers WHERE value = '$dom'")" = "$n" ] ||
        fail "the domain did not move to E$n"
[ "$(q "SELECT entity_id FROM identifiers WHERE value = '$t1'")" = "$old" ] ||
        fail "the tax code left E$old"
publish
[ "$(qs "SELECT split_from FROM hub_entities WHERE entity_id = 'E$n' AND merged_into IS NULL")" = "E$old" ] ||
        { qs "SELECT * FROM hub_entities WHERE entity_id = 'E$n'"; fail "the subscriber has no E$n with split_from E$old"; }
[ "$(qs "SELECT entity_id FROM hub_entity_identifiers WHERE value = '$dom'")" = "E$n" ] ||
        fail "the subscriber does not find the domain under E$n only"
[ "$(qs "SELECT entity_id FROM hub_entity_identifiers WHERE value = '$t1'")" = "E$old" ] ||
        fail "the subscriber does not find the tax code under E$old"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$old'
        AND sources @> '[{\"record_id\": \"J$tag-2\"}]'")" = 0 ] ||
        fail "the subscriber's E$old still lists the moved record"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$n'
        AND sources @> '[{\"record_id\": \"J$tag-2\"}]'")" = 1 ] ||
        fail "the subscriber's E$n does not list the moved record"
echo "ok: judge split -> E$n split_from E$old at the subscriber, the domain with it"

# ---- undo the split: E$n merged back into E$old ----
judge undo "$jsp" --reason "checked again: one seller after all"
[ "$(q "SELECT merged_into FROM entities WHERE id = $n")" = "$old" ] ||
        fail "undoing the split did not merge E$n back into E$old"
[ -n "$(q "SELECT revoked_at FROM judgements WHERE id = $jsp")" ] || fail "the split is not marked undone"
publish
[ "$(qs "SELECT merged_into FROM hub_entities WHERE entity_id = 'E$n'")" = "E$old" ] ||
        fail "the subscriber has no redirect E$n -> E$old after the undo"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers i JOIN hub_entities e USING (entity_id)
        WHERE e.merged_into IS NOT NULL")" = 0 ] || fail "orphan identifier rows at the subscriber"
[ "$(qs "SELECT entity_id FROM hub_entity_identifiers WHERE value = '$dom'")" = "E$old" ] ||
        fail "the domain is not back under E$old at the subscriber"

# ---- undo the same: E$new comes back with its record ----
judge undo "$js" --reason "the merge was a mistake"
[ -z "$(q "SELECT merged_into FROM entities WHERE id = $new")" ] ||
        fail "undoing the same did not restore E$new"
[ "$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-2'")" = "$b" ] ||
        fail "the record is not back under E$b"
[ -n "$(q "SELECT undone_at FROM merges WHERE survivor = $old AND absorbed = $new")" ] ||
        fail "the merge is not marked undone"
publish
[ "$(qs "SELECT coalesce(merged_into, '-') || ' ' || split_from FROM hub_entities
        WHERE entity_id = 'E$new'")" = "- E$old" ] ||
        { qs "SELECT * FROM hub_entities WHERE entity_id = 'E$new'"; fail "the subscriber's E$new is not restored (split_from E$old)"; }
for v in "$t1:E$a" "$dom:E$b"; do
        [ "$(qs "SELECT string_agg(entity_id, ',') FROM hub_entity_identifiers
                WHERE value = '${v%%:*}'")" = "${v#*:}" ] || fail "the subscriber does not find ${v%%:*} under ${v#*:} only"
done
echo "ok: judge undo -> split undone (redirect), merge undone (E$new restored with its record)"

# ---- not-same: a record carrying both identifiers does not merge them ----
judge not-same "E$a" "E$b" --reason "two companies: different directors"
jn=$(q "SELECT id FROM judgements WHERE kind = 'not-same'")
cp "$tmp/one.jsonl" "$tmp/two.jsonl"
echo "{\"record_id\": \"J$tag-3\", \"source_agency\": \"BTTTT\", \"reported_at\": \"2025-04-03\", \"subject_type\": \"account\", \"urls\": [\"https://www.$dom/\"], \"registrant_tax_code\": \"$t1\"}" >>"$tmp/two.jsonl"
"$root/deploy/main-job.sh" "$build" "$tmp/two.jsonl" >"$tmp/run2" 2>&1 ||
        { cat "$tmp/run2"; fail "main job exited $? on the bridging record"; }
[ -n "$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-3'")" ] || fail "the bridging record is not stored"
[ "$(q "SELECT count(*) FROM entities WHERE id IN ($a, $b) AND merged_into IS NULL")" = 2 ] ||
        fail "a record carrying both identifiers merged a pair judged not-same"
# The pair stays a candidate: the one the names made, closed by the judgement ('judged'), or
# one the refused merge records (merge_refused) when the names had made none.
[ "$(q "SELECT count(*) FROM candidates WHERE entity_a = $old AND entity_b = $new
        AND (status = 'judged' OR breakdown ? 'merge_refused')")" = 1 ] ||
        { q "SELECT * FROM candidates"; fail "the pair is not a candidate"; }
[ "$(q "SELECT count(*) FROM merges WHERE undone_at IS NULL AND
        ((survivor = $old AND absorbed = $new) OR record_id = 'J$tag-3')")" = 0 ] ||
        fail "a merge was recorded for the pair judged not-same"
if "$hubctl" judge same "E$a" "E$b" --reason "x" --key "$tmp/lan.key" \
        --hub-key "$HUB_MAIN_STATE/keys/hub.key" >"$tmp/out" 2>&1; then
        fail "judge same was accepted over a not-same judgement"
fi
grep -q "judgement $jn says .* not the same: undo it first" "$tmp/out" || { cat "$tmp/out"; fail "no clear refusal"; }
if "$hubctl" judge not-same "E$a" "$t1" --reason "x" --key "$tmp/lan.key" \
        --hub-key "$HUB_MAIN_STATE/keys/hub.key" >"$tmp/out" 2>&1; then
        fail "not-same was accepted on one entity"
fi
grep -q "use split\|judge split" "$tmp/out" || { cat "$tmp/out"; fail "not-same on one entity does not point to split"; }
"$hubctl" judge list "E$a" >"$tmp/list" 2>&1 || { cat "$tmp/list"; fail "hubctl judge list"; }
grep -q "^$jn not-same E$a E$b" "$tmp/list" && grep -q "by LAN (key LAN/1) .*undone at" "$tmp/list" ||
        { cat "$tmp/list"; fail "hubctl judge list does not show the judgements"; }
echo "ok: judge not-same -> a record with both identifiers gives a candidate, not a merge"

# ---- undo the not-same: the pair may merge again ----
judge undo "$jn" --reason "new evidence: one director after all"
judge same "E$a" "E$b" --reason "same director and address"
js2=$(q "SELECT max(id) FROM judgements WHERE kind = 'same'")
[ "$(q "SELECT merged_into FROM entities WHERE id = $new")" = "$old" ] ||
        fail "the pair did not merge once the not-same was undone"
echo "ok: judge undo of not-same -> the pair merges again"

# ---- a split that leaves nothing visible in the subscriber's tier ----
# E$c holds a SHARED record and a RESTRICTED one; the SHARED one moves out: the shared tier
# gets E$c withdrawn (nothing of it is visible there any more) and the new entity with the tax
# code, so no copy with the tax code is left behind.
c=$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-4'")
ag4=$(q "SELECT agency FROM records WHERE record_id = 'J$tag-4'")
[ "$(q "SELECT entity_id FROM records WHERE record_id = 'J$tag-5'")" = "$c" ] ||
        fail "the two records with one tax code are not one entity"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$c'")" = 1 ] ||
        fail "the subscriber does not hold E$c"
judge split "E$c" --records "$ag4/J$tag-4" --reason "the market inspectors' shop is another one"
n2=$(q "SELECT new_entity FROM judgements WHERE kind = 'split' ORDER BY id DESC LIMIT 1")
publish
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$c'")" = 0 ] ||
        fail "the shared subscriber keeps E$c, which has nothing left in its tier"
[ "$(qs "SELECT string_agg(entity_id || ' ' || coalesce(split_from, '-'), ',')
        FROM hub_entity_identifiers JOIN hub_entities USING (entity_id) WHERE value = '$t2'")" = "E$n2 E$c" ] ||
        { qs "SELECT * FROM hub_entity_identifiers WHERE value = '$t2'"; fail "the tax code is not under E$n2 (split_from E$c) only"; }
echo "ok: judge split of the tier's only record -> E$c withdrawn from the tier, E$n2 holds the tax code"

# ---- keys: unregistered, wrong, revoked ----
count=$(q "SELECT count(*) FROM judgements")
refused() { # EXPECTED_MESSAGE KEYFILE
        "$hubctl" judge undo "$js2" --reason "x" --key "$2" \
                --hub-key "$HUB_MAIN_STATE/keys/hub.key" >"$tmp/out" 2>&1
        local rc=$?
        [ $rc = 1 ] || { cat "$tmp/out"; fail "a judgement with $2 exited $rc, not 1"; }
        grep -q "$1" "$tmp/out" || { cat "$tmp/out"; fail "no \"$1\" in the refusal"; }
        [ "$(q "SELECT count(*) FROM judgements")" = "$count" ] || fail "a refused judgement was stored"
}
"$hubctl" key generate --owner MINH --key-id MINH/1 --out "$tmp/minh.key" >/dev/null 2>&1
refused "analyst MINH has no registered key MINH/1" "$tmp/minh.key"
mkdir "$tmp/other"
"$hubctl" key generate --owner LAN --key-id LAN/1 --out "$tmp/other/lan.key" >/dev/null 2>&1
refused "signature does not verify" "$tmp/other/lan.key"
"$hubctl" analyst revoke LAN LAN/1 --reason "laptop lost" >/dev/null || fail "hubctl analyst revoke"
refused "key LAN/1 of analyst LAN revoked at" "$tmp/lan.key"
echo "ok: unregistered, wrong and revoked keys refused (exit 1), nothing stored"

# ---- the log: judgements are leaves; provenance shows them ----
"$hubctl" log verify --hub-key "$HUB_MAIN_STATE/keys/hub.key.pub" >"$tmp/verify" 2>&1 ||
        { cat "$tmp/verify"; fail "hubctl log verify fails before any tampering"; }
[ "$(q "SELECT count(*) FROM log_leaves WHERE kind = 3")" = \
  "$(( $(q "SELECT count(*) FROM judgements") + 2 ))" ] ||
        fail "not every judgement and analyst key event is a leaf of the log"
"$hubctl" provenance "E$a" >"$tmp/prov" 2>&1
grep -q "not-same E$a E$b by LAN (key LAN/1)" "$tmp/prov" || { cat "$tmp/prov"; fail "provenance does not show the judgement and who made it"; }
q "UPDATE judgements SET reason = 'nothing to see' WHERE id = $jn"
if "$hubctl" log verify --hub-key "$HUB_MAIN_STATE/keys/hub.key.pub" >"$tmp/verify" 2>&1; then
        cat "$tmp/verify"; fail "hubctl log verify passed over a changed judgement"
fi
grep -q "FAILED judgement .*judgements $jn: " "$tmp/verify" || { cat "$tmp/verify"; fail "the changed judgement is not named"; }
grep "FAILED" "$tmp/verify"
echo "ok: judgements logged; a changed judgement row detected by hubctl log verify"
