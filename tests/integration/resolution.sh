#!/usr/bin/env bash
# Entity resolution on the shared dev data (44 records, 11 true entities), end to end through
# the real broker and PostgreSQL with the main job (deploy/main-job.sh):
#  - the hub's clusters (records grouped by their surviving entity) equal `_truth_entity`
#    exactly; pairwise precision and recall are printed and must both be 1.0;
#  - the decoy E3b stays apart from E3 (a candidate, not a merge); P5 and E9 are separate
#    entities linked to E5 as related parties; E6 and E3 share a phone: a link;
#  - every merge is recorded with its evidence, and the subscriber holds a redirect for every
#    merged entity it had seen and no identifier row under a merged entity.
# usage: resolution.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_need_dev_data
it_databases resolution sub

"$root/deploy/main-job.sh" "$build" "$dev" >"$tmp/run" 2>&1 ||
        { cat "$tmp/run"; fail "main job exited $? on the dev data"; }

# record_id|entity (the survivor: merges re-point records, so entity_id is the survivor)
q "SELECT r.record_id, hub_canonical(r.entity_id) FROM records r ORDER BY 1" >"$tmp/clusters"
q "SELECT 'E' || id, kind, (SELECT string_agg(DISTINCT value, ' | ') FROM statements s
     WHERE s.entity_id = e.id AND s.prop LIKE 'name:%') FROM entities e
     WHERE merged_into IS NULL ORDER BY id" >"$tmp/entities"

python3 - "$dev" "$tmp/clusters" <<'PY' || { cat "$tmp/entities"; fail "clusters differ from _truth_entity"; }
import itertools, json, sys
truth = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    truth[r["record_id"]] = r["_truth_entity"]
got = dict(l.strip().split("|") for l in open(sys.argv[2]) if l.strip())
assert set(got) == set(truth), "stored records differ from the dev data"
ids = sorted(truth)
tp = fp = fn = 0
for a, b in itertools.combinations(ids, 2):
    same_hub, same_truth = got[a] == got[b], truth[a] == truth[b]
    tp += same_hub and same_truth
    fp += same_hub and not same_truth
    fn += same_truth and not same_hub
precision = tp / (tp + fp) if tp + fp else 1.0
recall = tp / (tp + fn) if tp + fn else 1.0
print(f"pairwise precision {precision:.4f} recall {recall:.4f} "
      f"(true pairs {tp + fn}, hub pairs {tp + fp}, agreeing {tp})")
clusters = {}
for rid in ids:
    clusters.setdefault(got[rid], []).append(rid)
truth_of = lambda e: sorted({truth[r] for r in clusters[e]})
print(f"{len(clusters)} hub entities for {len(set(truth.values()))} true entities")
bad = False
for e, rids in sorted(clusters.items(), key=lambda kv: int(kv[0])):
    t = truth_of(e)
    whole = sorted(r for r in ids if truth[r] in t)
    ok = len(t) == 1 and whole == sorted(rids)
    bad |= not ok
    print(f"  E{e} {'ok ' if ok else 'BAD'} truth {','.join(t)}: {' '.join(rids)}")
sys.exit(1 if bad or precision < 1.0 or recall < 1.0 else 0)
PY

entity_of() { q "SELECT hub_canonical(entity_id) FROM records WHERE record_id = '$1'"; }
e1=$(entity_of QLTT-2025-0001) e3=$(entity_of HQ-2025-0103) e3b=$(entity_of HQ-2025-0106)
e5=$(entity_of QLTT-2025-0005) p5=$(entity_of HQ-2025-0108) e9=$(entity_of HQ-2025-0109)
e6=$(entity_of BTTTT-2025-0301) e4=$(entity_of QLTT-2025-0004)
link() { q "SELECT count(*) FROM links WHERE entity_a = least($1, $2) AND entity_b = greatest($1, $2)
            AND kind = '$3'"; }
[ "$(link "$p5" "$e5" related-party)" = 1 ] || fail "P5 is not linked to E5 as a related party"
[ "$(link "$e9" "$e5" related-party)" = 1 ] || fail "E9 is not linked to E5 as a related party"
[ "$(link "$e6" "$e3" shared-phone)" = 1 ] || fail "E6 and E3 (a shared phone) are not linked"
[ "$(link "$e6" "$e3" bank-equals-phone)" = 1 ] ||
        fail "E3's bank account equal to E6's phone is not a link"
[ "$(q "SELECT count(*) FROM candidates WHERE entity_a = least($e3, $e3b)
        AND entity_b = greatest($e3, $e3b) AND status = 'open'")" = 1 ] ||
        fail "the decoy E3b is not a candidate of E3"
echo "links: $(q "SELECT string_agg(kind || ' E' || entity_a || '-E' || entity_b, ', '
        ORDER BY entity_a, entity_b, kind) FROM links")"
echo "candidates: $(q "SELECT string_agg('E' || entity_a || '-E' || entity_b || ' ' ||
        round(score::numeric, 2), ', ' ORDER BY entity_a, entity_b) FROM candidates
        WHERE status = 'open'")"
# The transposed personal id of CA-2025-0406 is kept as flagged evidence, never a merge key.
[ "$(q "SELECT count(*) FROM identifiers WHERE value = '079078006824'")" = 0 ] ||
        fail "the transposed personal id 079078006824 is a merge key"
[ "$(q "SELECT count(*) FROM statements WHERE value = '079078006824' AND valid
        AND flag = 'SUSPECT_TRANSPOSITION' AND entity_id = $e4")" -ge 1 ] ||
        fail "the transposed personal id is not flagged on E4"
# Flagging is resolution's opinion, kept outside what the log committed: whichever record came
# first, the log still verifies.
"$build/hub/ctl/hubctl" log verify --hub-key "$HUB_MAIN_STATE/keys/hub.key.pub" >"$tmp/verify" 2>&1 ||
        { cat "$tmp/verify"; fail "log verify after resolution"; }
# Every merge has its evidence; merged entities hold nothing.
[ "$(q "SELECT count(*) FROM merges WHERE evidence->>'record_id' IS NULL")" = 0 ] ||
        fail "a merge without its evidence"
[ "$(q "SELECT count(*) FROM entities e WHERE merged_into IS NOT NULL AND (
        EXISTS (SELECT 1 FROM identifiers i WHERE i.entity_id = e.id) OR
        EXISTS (SELECT 1 FROM statements s WHERE s.entity_id = e.id) OR
        EXISTS (SELECT 1 FROM records r WHERE r.entity_id = e.id))")" = 0 ] ||
        fail "a merged entity still holds identifiers, statements or records"
echo "merges: $(q "SELECT count(*) FROM merges"), by rule: $(q "SELECT string_agg(rule || '=' || n,
        ' ') FROM (SELECT rule, count(*) n FROM merges GROUP BY rule ORDER BY rule) m")"
# The subscriber: a redirect for every merged entity it had, no identifiers under one.
[ "$(qs "SELECT count(*) FROM hub_entity_identifiers i JOIN hub_entities e USING (entity_id)
        WHERE e.merged_into IS NOT NULL")" = 0 ] || fail "subscriber: identifiers under a redirect"
q "SELECT DISTINCT ON (entity_id) 'E' || entity_id, version FROM outbox
     WHERE topic = 'hub.entities.shared' ORDER BY entity_id, version DESC" | sort >"$tmp/published"
qs "SELECT entity_id, version FROM hub_entities" | sort >"$tmp/materialised"
diff "$tmp/published" "$tmp/materialised" >"$tmp/diff" ||
        { cat "$tmp/diff"; fail "subscriber's tables differ from the published entities"; }
echo "ok: clusters equal _truth_entity"
