#!/usr/bin/env bash
# A merge end to end, through the real broker, to a subscriber's tables (deploy/main-job.sh):
#  1. two records of two agencies create two entities (a tax code, a domain);
#  2. a third agency's record carries both identifiers: the newer entity is merged into the
#     older one, the merge is recorded with its evidence (both values, the record), both are
#     republished, and the subscriber keeps a redirect row for the merged one with no
#     identifier rows under it (no orphans); a look-up of either identifier finds the survivor;
#  3. a phone on three entities, with noisy_threshold 2, is marked noisy and listed by
#     `hubctl identifiers noisy`.
# usage: merge.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_databases merge sub
export HUB_NOISY_THRESHOLD=2

# Rows in the agencies' export shape (connectors/examples/*.ini); record ids are unique per run
# so the broker's earlier messages (other tests) never collide with them.
tag=$$
cat >"$tmp/one.jsonl" <<JSON
{"record_id": "M$tag-1", "source_agency": "QLTT", "reported_at": "2025-03-01", "subject_type": "organization", "name": "Công ty TNHH Hợp Nhất", "tax_code": "0312687878"}
{"record_id": "M$tag-2", "source_agency": "HQ", "reported_at": "2025-03-02", "subject_type": "organization", "name": "HOP NHAT TRADING", "domains": ["hopnhat-vidu.vn"]}
{"record_id": "M$tag-4", "source_agency": "THUE", "reported_at": "2025-03-04", "subject_type": "organization", "name": "Công ty An", "tax_code": "0100233488", "phones": ["0987 654 321"]}
{"record_id": "M$tag-5", "source_agency": "THUE", "reported_at": "2025-03-05", "subject_type": "organization", "name": "Công ty Bình", "tax_code": "0314409058", "phones": ["0987654321"]}
{"record_id": "M$tag-6", "source_agency": "THUE", "reported_at": "2025-03-06", "subject_type": "organization", "name": "Công ty Cường", "tax_code": "0100112437", "phones": ["+84 987 654 321"]}
JSON
"$root/deploy/main-job.sh" "$build" "$tmp/one.jsonl" >"$tmp/run1" 2>&1 ||
        { cat "$tmp/run1"; fail "main job exited $? on the first rows"; }
a=$(q "SELECT entity_id FROM records WHERE record_id = 'M$tag-1'")
b=$(q "SELECT entity_id FROM records WHERE record_id = 'M$tag-2'")
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || fail "the first two records are not two entities"
[ "$(qs "SELECT count(*) FROM hub_entities WHERE entity_id IN ('E$a', 'E$b')
        AND merged_into IS NULL")" = 2 ] || fail "the subscriber does not hold both entities"

# The bridging record: the tax code of one, the domain of the other.
cp "$tmp/one.jsonl" "$tmp/two.jsonl"
echo "{\"record_id\": \"M$tag-3\", \"source_agency\": \"BTTTT\", \"reported_at\": \"2025-03-03\", \"subject_type\": \"account\", \"urls\": [\"https://www.hopnhat-vidu.vn/\"], \"registrant_tax_code\": \"0312687878\"}" >>"$tmp/two.jsonl"
"$root/deploy/main-job.sh" "$build" "$tmp/two.jsonl" >"$tmp/run2" 2>&1 ||
        { cat "$tmp/run2"; fail "main job exited $? on the bridging record"; }
old=$(( a < b ? a : b )) new=$(( a < b ? b : a ))
[ "$(q "SELECT merged_into FROM entities WHERE id = $new")" = "$old" ] ||
        fail "E$new is not merged into the older E$old"
# The bridging record is stored under the older entity; the evidence names what the newer one
# held (which of the two is older depends on the order the agencies' topics were read in).
held='{"type": "DOMAIN", "value": "hopnhat-vidu.vn"}'
[ "$new" = "$a" ] && held='{"type": "TAX_CODE", "value": "0312687878"}'
[ "$(q "SELECT count(*) FROM merges WHERE survivor = $old AND absorbed = $new
        AND record_id = 'M$tag-3' AND rule = 'strong-identifier'
        AND evidence @> '{\"identifiers\": [$held],
                          \"record_identifiers\": [{\"type\": \"TAX_CODE\", \"value\": \"0312687878\"},
                                                  {\"type\": \"DOMAIN\", \"value\": \"hopnhat-vidu.vn\"}]}'
        ")" = 1 ] || { q "SELECT * FROM merges"; fail "the merge and its evidence are not recorded"; }
[ "$(q "SELECT count(DISTINCT entity_id) FROM records WHERE record_id LIKE 'M$tag-_'
        AND record_id <> 'M$tag-4' AND record_id <> 'M$tag-5' AND record_id <> 'M$tag-6'")" = 1 ] ||
        fail "the three records are not one entity"
[ "$(q "SELECT count(*) FROM identifiers WHERE entity_id = $new")" = 0 ] ||
        fail "identifiers left under the merged entity"
# The subscriber: the redirect, no orphan identifiers, both identifiers under the survivor.
[ "$(qs "SELECT merged_into FROM hub_entities WHERE entity_id = 'E$new'")" = "E$old" ] ||
        fail "the subscriber has no redirect E$new -> E$old"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers WHERE entity_id = 'E$new'")" = 0 ] ||
        fail "the subscriber keeps identifiers under the merged entity"
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers i JOIN hub_entities e USING (entity_id)
        WHERE e.merged_into IS NOT NULL")" = 0 ] || fail "orphan identifier rows at the subscriber"
for v in 0312687878 hopnhat-vidu.vn; do
        [ "$(qs "SELECT entity_id FROM hub_entity_identifiers WHERE value = '$v'")" = "E$old" ] ||
                fail "the subscriber does not find $v under the survivor E$old"
done
"$build/hub/ctl/hubctl" query hopnhat-vidu.vn >"$tmp/query" 2>&1 || { cat "$tmp/query"; fail "hubctl query"; }
grep -q "E$old" "$tmp/query" || { cat "$tmp/query"; fail "hubctl query does not find E$old"; }

# The courier's phone: three companies, no merge, noisy at threshold 2, listed.
[ "$(q "SELECT count(DISTINCT entity_id) FROM records WHERE record_id IN
        ('M$tag-4', 'M$tag-5', 'M$tag-6')")" = 3 ] || fail "companies sharing a phone merged"
"$build/hub/ctl/hubctl" identifiers noisy >"$tmp/noisy" 2>&1 || { cat "$tmp/noisy"; fail "hubctl identifiers noisy"; }
grep -q "PHONE .*+84987654321" "$tmp/noisy" || { cat "$tmp/noisy"; fail "the shared phone is not listed as noisy"; }
cat "$tmp/noisy"
echo "ok: E$new merged into E$old with its evidence; subscriber redirect, no orphans; noisy phone listed"
