#!/usr/bin/env bash
# Corrections and retractions end to end, through the real broker, to a subscriber's tables
# (deploy/main-job.sh; rules in hub/store/README.md, "Corrections and retractions"):
#  1. a record that supersedes its agency's earlier record changes the displayed name at the
#     subscriber; the old record stays in provenance, marked superseded;
#  2. the retraction of an entity's only record withdraws it: a tombstone at the subscriber,
#     its identifier no longer resolves (hub and subscriber);
#  3. the retraction of one of two records keeps the entity with the other's values; the
#     identifier only the retracted record carried stops resolving;
#  4. a retraction that names another agency's record is rejected NOT_OWN_RECORD, and the
#     record stays active;
#  5. a retraction that arrives before its target is kept pending and applied when the target
#     comes;
#  6. the log holds a retraction or correction leaf for each, `hubctl log verify` passes,
#     `hubctl provenance` shows the retracted record as such;
#  7. sending everything again changes nothing (exactly once).
# usage: correct.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_databases correct sub
run() { # run NAME FILE [env...]
        local name=$1 file=$2
        shift 2
        env "$@" "$root/deploy/main-job.sh" "$build" "$file" >"$tmp/$name" 2>&1 ||
                { cat "$tmp/$name"; fail "main job exited non-zero ($name)"; }
}

# Record ids are unique per run, so the broker's earlier messages (other tests) never collide.
t=C$$
cat >"$tmp/one.jsonl" <<JSON
{"record_id": "$t-1", "source_agency": "HQ", "reported_at": "2025-04-01", "subject_type": "organization", "name": "Công ty Sửa Sai", "tax_code": "0100109106"}
{"record_id": "$t-2", "source_agency": "HQ", "reported_at": "2025-04-02", "subject_type": "organization", "name": "Công ty Rút Lại", "tax_code": "0100233488"}
{"record_id": "$t-3", "source_agency": "HQ", "reported_at": "2025-04-03", "subject_type": "organization", "name": "HAI NGUON TRADING", "tax_code": "0314409058", "domains": ["hainguon-vidu.vn"]}
{"record_id": "$t-4", "source_agency": "QLTT", "reported_at": "2025-04-01", "subject_type": "organization", "name": "Công ty TNHH Hai Nguồn", "tax_code": "0314409058"}
{"record_id": "$t-7", "source_agency": "HQ", "reported_at": "2025-04-07", "subject_type": "organization", "name": "Công ty Đến Muộn", "retracts": "$t-8"}
JSON
run run1 "$tmp/one.jsonl"
e1=$(q "SELECT entity_id FROM records WHERE record_id = '$t-1'")
e2=$(q "SELECT entity_id FROM records WHERE record_id = '$t-2'")
e3=$(q "SELECT entity_id FROM records WHERE record_id = '$t-3'")
[ -n "$e1" ] && [ -n "$e2" ] && [ -n "$e3" ] || fail "the first records were not stored"
[ "$(q "SELECT entity_id FROM records WHERE record_id = '$t-4'")" = "$e3" ] ||
        fail "the two records of one tax code are not one entity"
[ "$(q "SELECT c.status, r.entity_id IS NULL FROM corrections c JOIN records r USING (agency, record_id)
        WHERE record_id = '$t-7'")" = "pending|t" ] ||
        fail "a retraction whose target has not arrived is not kept pending (or made an entity)"
[ "$(qs "SELECT names->0->>'value' FROM hub_entities WHERE entity_id = 'E$e1'")" = "Công ty Sửa Sai" ] ||
        fail "the subscriber does not hold E$e1"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers WHERE entity_id = 'E$e3'
        AND value IN ('0314409058', 'hainguon-vidu.vn')")" = 2 ] ||
        fail "the subscriber does not hold both identifiers of E$e3"

cp "$tmp/one.jsonl" "$tmp/two.jsonl"
cat >>"$tmp/two.jsonl" <<JSON
{"record_id": "$t-5", "source_agency": "HQ", "reported_at": "2025-04-05", "subject_type": "organization", "name": "Công ty Đã Sửa Tên", "tax_code": "0100109106", "supersedes": "$t-1"}
{"record_id": "$t-6", "source_agency": "HQ", "reported_at": "2025-04-06", "subject_type": "organization", "name": "Công ty Rút Lại", "retracts": "$t-2"}
{"record_id": "$t-8", "source_agency": "HQ", "reported_at": "2025-04-08", "subject_type": "organization", "name": "Công ty Đến Muộn", "tax_code": "0100112437"}
{"record_id": "$t-9", "source_agency": "HQ", "reported_at": "2025-04-09", "subject_type": "organization", "name": "HAI NGUON TRADING", "retracts": "$t-3"}
{"record_id": "$t-10", "source_agency": "QLTT", "reported_at": "2025-04-10", "subject_type": "organization", "name": "Công ty Đã Sửa Tên", "retracts": "MOF-HQ/$t-5"}
JSON
run run2 "$tmp/two.jsonl"

# 1. The correction: the new name is displayed, the old record is superseded.
[ "$(q "SELECT status FROM records WHERE record_id = '$t-1'")" = superseded ] ||
        fail "$t-1 is not superseded"
[ "$(q "SELECT entity_id FROM records WHERE record_id = '$t-5'")" = "$e1" ] ||
        fail "the correction is not under E$e1"
[ "$(qs "SELECT names FROM hub_entities WHERE entity_id = 'E$e1'")" = \
  '[{"kind": "LEGAL", "value": "Công ty Đã Sửa Tên"}]' ] || {
        qs "SELECT * FROM hub_entities WHERE entity_id = 'E$e1'"
        fail "the subscriber does not show the corrected name alone"
}

# 2. The only record retracted: withdrawn, a tombstone, its tax code resolves no more.
[ "$(q "SELECT withdrawn FROM entities WHERE id = $e2")" = t ] || fail "E$e2 is not withdrawn"
[ "$(q "SELECT count(*) FROM identifiers WHERE value = '0100233488'")" = 0 ] ||
        fail "the retracted record's tax code still resolves"
[ "$(qs "SELECT count(*) FROM hub_entity_tombstones WHERE entity_id = 'E$e2'")" = 1 ] ||
        fail "the subscriber has no tombstone for E$e2"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$e2'")" = 0 ] ||
        fail "the subscriber still holds the withdrawn E$e2"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers WHERE value = '0100233488'")" = 0 ] ||
        fail "the subscriber still finds the retracted tax code"

# 3. One of two records retracted: the other's name and tax code remain, the domain goes.
[ "$(q "SELECT withdrawn FROM entities WHERE id = $e3")" = f ] || fail "E$e3 was withdrawn"
[ "$(q "SELECT type FROM identifiers WHERE entity_id = $e3 ORDER BY 1")" = TAX_CODE ] ||
        fail "E$e3 should keep its tax code and lose the retracted record's domain"
[ "$(qs "SELECT names->0->>'value' || '|' || jsonb_array_length(names) FROM hub_entities
        WHERE entity_id = 'E$e3'")" = "Công ty TNHH Hai Nguồn|1" ] ||
        fail "the subscriber does not show E$e3 with the remaining record's name alone"
[ "$(qs "SELECT string_agg(value, ',' ORDER BY value) FROM hub_entity_identifiers
        WHERE entity_id = 'E$e3'")" = 0314409058 ] ||
        fail "the subscriber's identifiers of E$e3 are not the remaining record's"

# 4. Another agency's record: rejected with its reason, the record stays active.
[ "$(q "SELECT reason FROM rejects WHERE record_id = '$t-10'")" = NOT_OWN_RECORD ] ||
        fail "the retraction of another agency's record is not rejected NOT_OWN_RECORD"
[ "$(q "SELECT count(*) FROM outbox WHERE topic = 'hub.rejects' AND sent_at IS NOT NULL
        AND convert_from(payload, 'UTF8')::jsonb @> '{\"reason\": \"NOT_OWN_RECORD\", \"record_id\": \"$t-10\"}'")" = 1 ] ||
        fail "the rejection was not published to hub.rejects"
[ "$(q "SELECT status FROM records WHERE record_id = '$t-5'")" = active ] ||
        fail "another agency's retraction changed $t-5"
[ "$(q "SELECT count(*) FROM records WHERE record_id = '$t-10'")" = 0 ] ||
        fail "the refused retraction was stored"

# 5. The early retraction applied when its target came.
e8=$(q "SELECT entity_id FROM records WHERE record_id = '$t-8'")
[ "$(q "SELECT status FROM records WHERE record_id = '$t-8'")" = retracted ] ||
        fail "the late target $t-8 is not retracted"
[ "$(q "SELECT c.status || '|' || r.entity_id FROM corrections c JOIN records r
        USING (agency, record_id) WHERE record_id = '$t-7'")" = "applied|$e8" ] ||
        fail "the pending retraction was not applied and filed under E$e8"
[ "$(q "SELECT withdrawn FROM entities WHERE id = $e8")" = t ] || fail "E$e8 is not withdrawn"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id = 'E$e8'")" = 0 ] ||
        fail "the subscriber holds the retracted E$e8"

# 6. The log: one leaf per applied change, verified; provenance names the retraction.
[ "$(q "SELECT kind, count(*) FROM log_leaves WHERE kind IN (4, 5) GROUP BY kind ORDER BY kind
        " | tr '\n' ' ')" = "4|3 5|1 " ] || fail "not one retraction or correction leaf each"
[ "$(q "SELECT count(*) FROM corrections c JOIN log_leaves l ON l.idx = c.leaf_index
        AND l.ref = c.agency || '/' || c.record_id AND l.kind = CASE c.action WHEN 'retract'
        THEN 4 ELSE 5 END WHERE c.status = 'applied'")" = 4 ] ||
        fail "the corrections do not name their leaves"
"$build/hub/ctl/hubctl" log sign --hub-key "$tmp/state/keys/hub.key" >/dev/null 2>&1
"$build/hub/ctl/hubctl" log verify --hub-key "$tmp/state/keys/hub.key.pub" >"$tmp/verify" 2>&1 ||
        { cat "$tmp/verify"; fail "hubctl log verify"; }
# A retracted record made active again behind the log's back is found.
q "UPDATE records SET status = 'active' WHERE record_id = '$t-3'" >/dev/null
"$build/hub/ctl/hubctl" log verify --hub-key "$tmp/state/keys/hub.key.pub" >"$tmp/verify2" 2>&1 &&
        fail "hubctl log verify passes with a retraction undone"
grep -q "FAILED retraction .*$t-3 is active" "$tmp/verify2" ||
        { cat "$tmp/verify2"; fail "hubctl log verify does not name the undone retraction"; }
q "UPDATE records SET status = 'retracted' WHERE record_id = '$t-3'" >/dev/null
"$build/hub/ctl/hubctl" provenance --hub-key "$tmp/state/keys/hub.key.pub" "E$e3" \
        >"$tmp/prov" 2>&1
grep -q "from MOF-HQ/$t-3 (as \"hainguon-vidu.vn\", SHARED, retracted)" "$tmp/prov" &&
        grep -q "RETRACTED by MOF-HQ/$t-9 at .* (retraction leaf [0-9]*)" "$tmp/prov" ||
        { cat "$tmp/prov"; fail "hubctl provenance does not show $t-3 as retracted"; }
"$build/hub/ctl/hubctl" provenance "E$e1" >"$tmp/prov1" 2>&1
grep -q "SUPERSEDED by MOF-HQ/$t-5" "$tmp/prov1" ||
        { cat "$tmp/prov1"; fail "hubctl provenance does not show $t-1 as superseded"; }

# 7. Everything sent again: nothing changes.
snap() {
        q "SELECT id, version, withdrawn FROM entities ORDER BY id"
        q "SELECT agency, record_id, status, entity_id FROM records ORDER BY 1, 2"
        q "SELECT agency, record_id, action, status, leaf_index FROM corrections ORDER BY 1, 2, 3"
        q "SELECT count(*) FROM outbox WHERE topic LIKE 'hub.entities.%'"
        q "SELECT count(*) FROM log_leaves WHERE kind <> 1"
        qs "SELECT entity_id, version FROM hub_entities ORDER BY 1"
}
offsets() { q "SELECT sum(next_offset) FROM consumer_offsets WHERE topic = 'agency.MOF-HQ.reports'"; }
snap >"$tmp/before"
read_before=$(offsets)
run run3 "$tmp/two.jsonl" HUB_MAIN_RESEND=1
snap >"$tmp/after"
[ "$(offsets)" -gt "$read_before" ] || fail "the second sending did not reach the hub"
diff "$tmp/before" "$tmp/after" || fail "sending everything again changed the hub or the subscriber"
echo "ok: correction displayed; retractions withdraw (tombstone) or keep the other record's values;"
echo "    NOT_OWN_RECORD rejected; early retraction applied on arrival; leaves logged; exactly once"
