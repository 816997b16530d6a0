#!/usr/bin/env bash
# The hub's Merkle log end to end (issue 5), on the shared dev data through the main job:
#  - provenance of the entity with the most agencies: every contributing agency's record is
#    VERIFIED (signature from the stored bytes, audit path, log leaf, inclusion in a signed head),
#    asserted on the text and on the JSON;
#  - hubctl log verify passes, then fails naming the row after each tamper done directly in
#    PostgreSQL (a record payload, a statement, a key event, an agency key, a tree head) and
#    passes again once it is undone;
#  - an evidence bundle per agency verifies with hubctl verify and with the Python verifier
#    written from schemas/README.md; every single-byte change of one fails both, naming a check;
#  - hubctl log monitor accepts the heads hubd published to hub.log, and exits 1 on an unsigned
#    head and on a signed but inconsistent one.
# usage: log.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
it_need_dev_data
python3 -c 'import cryptography' 2>/dev/null || skip_or_fail "python3 cryptography missing"
it_databases log
hubctl=$build/hub/ctl/hubctl
keys=$tmp/state/keys
pyv=$root/tests/tools/verify_evidence.py

# Where hub.log ends now: the heads before this run belong to other runs on this broker.
"$hubctl" init >/dev/null 2>&1 || true
high() { python3 - "$HUB_KAFKA_BROKERS" <<'PY'
import subprocess, sys
# the highest end offset over hub.log's partitions (all heads share one partition)
out = subprocess.run(['kcat', '-b', sys.argv[1], '-L', '-t', 'hub.log', '-J'], capture_output=True, text=True).stdout
import json
parts = [p['partition'] for p in json.loads(out)['topics'][0]['partitions']] if out else []
best = 0
for p in parts:
    r = subprocess.run(['kcat', '-b', sys.argv[1], '-Q', '-t', 'hub.log:%d:-1' % p], capture_output=True, text=True).stdout.split()
    if r: best = max(best, int(r[-1]))
print(best)
PY
}
start=$(high)

"$root/deploy/main-job.sh" "$build" "$dev" >"$tmp/run1" 2>&1 ||
        { cat "$tmp/run1"; fail "main job exited $? on the dev data"; }
[ "$(q "SELECT count(*) FROM log_leaves WHERE kind = 1")" = 44 ] || { tail -n 30 "$tmp/run1"; fail "not 44 record leaves"; }
[ "$(q "SELECT count(*) FROM key_events")" = 5 ] || fail "not 5 key events"
size=$(q "SELECT size FROM log_state")
[ "$(q "SELECT max(log_size) FROM tree_heads")" = "$size" ] ||
        fail "the last tree head does not cover the log ($size leaves)"
hubkey=$keys/hub.key.pub

# ---- provenance ----
entity=$(q "SELECT coalesce(e.merged_into, e.id) FROM records r JOIN entities e ON e.id = r.entity_id
             GROUP BY 1 ORDER BY count(DISTINCT r.agency) DESC, count(*) DESC, 1 LIMIT 1")
"$hubctl" provenance --hub-key "$hubkey" "E$entity" >"$tmp/prov.txt" 2>&1 ||
        { cat "$tmp/prov.txt"; fail "provenance of E$entity exited $?"; }
"$hubctl" provenance --hub-key "$hubkey" --json "E$entity" >"$tmp/prov.json" ||
        fail "provenance --json exited $?"
q "SELECT DISTINCT agency FROM statements WHERE entity_id IN (SELECT id FROM entities WHERE
     id = $entity OR merged_into = $entity) ORDER BY 1" >"$tmp/agencies"
[ "$(wc -l <"$tmp/agencies")" -ge 3 ] || fail "E$entity has fewer than 3 agencies"
while read -r a; do
        grep -q "^  $a/.*: VERIFIED$" "$tmp/prov.txt" || { cat "$tmp/prov.txt"; fail "no verified record of $a in the text"; }
done <"$tmp/agencies"
grep -q "signature verified" "$tmp/prov.txt" || fail "the text does not show the head's signature verified"
grep -q "^verified: every source record" "$tmp/prov.txt" || fail "the text does not end verified"
python3 - "$tmp/prov.json" "$tmp/agencies" <<'PY' || fail "provenance JSON"
import json, sys
d = json.load(open(sys.argv[1]))
want = set(open(sys.argv[2]).read().split())
assert d['verified'] is True, 'not verified'
assert d['tree_head']['signature'] == 'verified'
recs = d['records']
assert recs and all(r['verified'] and r['signature'] == 'verified' and r['audit_path_verified']
                    and r['inclusion']['verified'] and r['record_in_batch'] == 'verified'
                    and r['inclusion']['tree_size'] == d['tree_head']['log_size'] for r in recs)
assert {r['agency'] for r in recs} == want, ({r['agency'] for r in recs}, want)
for r in recs:
    assert r['topic'] == 'agency.%s.reports' % r['agency'] and r['key_id'].startswith(r['agency'])
vals = {(v['prop'], v['value']) for v in d['values']}
assert vals and all(s['agency'] in want for v in d['values'] for s in v['statements'])
print('provenance JSON: %d records of %d agencies verified' % (len(recs), len(want)))
PY
# An identifier finds the same entity.
# (A value the entity holds itself, in its 10-digit form: a branch code also names its head
# office, which the resolution rules may keep as an entity of its own.)
tax=$(q "SELECT value FROM identifiers WHERE type = 'TAX_CODE' AND entity_id = $entity
           AND length(value) = 10 ORDER BY value LIMIT 1")
if [ -n "$tax" ]; then
        "$hubctl" provenance --hub-key "$hubkey" --json "$tax" >"$tmp/prov-id" 2>&1
        grep -q "\"entity_id\": \"E$entity\"" "$tmp/prov-id" || {
                head -c 400 "$tmp/prov-id"
                fail "provenance by identifier $tax did not find E$entity"
        }
fi

# ---- log verify and tampering ----
"$hubctl" log verify --hub-key "$hubkey" >"$tmp/v0" 2>&1 || { cat "$tmp/v0"; fail "log verify of an untouched log"; }
grep -q "^ok: $size leaves (44 records, 5 key events" "$tmp/v0" || { cat "$tmp/v0"; fail "log verify summary"; }

# tamper NAME SQL UNDO_SQL EXPECTED_LINE_REGEX
tamper() {
        q "$2" >/dev/null || fail "$1: could not tamper"
        "$hubctl" log verify --hub-key "$hubkey" >"$tmp/v" 2>&1
        local rc=$?
        q "$3" >/dev/null || fail "$1: could not undo"
        [ $rc = 1 ] || { cat "$tmp/v"; fail "$1: log verify exited $rc, not 1"; }
        grep -Eq "$4" "$tmp/v" || { cat "$tmp/v"; fail "$1: log verify did not say /$4/"; }
        echo "tamper $1: detected: $(grep -E "$4" "$tmp/v" | head -1)"
}
rec=$(q "SELECT agency || '/' || record_id FROM records ORDER BY agency, record_id LIMIT 1")
ra=${rec%%/*} ri=${rec#*/}
where="agency = '$ra' AND record_id = '$ri'"
rwhere="r.agency = '$ra' AND r.record_id = '$ri'"
tamper "record payload" \
        "UPDATE records SET payload = set_byte(payload, 5, get_byte(payload, 5) # 1) WHERE $where" \
        "UPDATE records SET payload = set_byte(payload, 5, get_byte(payload, 5) # 1) WHERE $where" \
        "^FAILED record +$rec: "
tamper "record payload and its hash" \
        "UPDATE records SET payload = payload || '\\x00'::bytea, payload_sha256 = sha256(payload || '\\x00'::bytea) WHERE $where" \
        "UPDATE records SET payload = substring(payload from 1 for length(payload) - 1), payload_sha256 = sha256(substring(payload from 1 for length(payload) - 1)) WHERE $where" \
        "^FAILED record +$rec: payload differs from record"
sid=$(q "SELECT min(id) FROM statements WHERE $where")
orig=$(q "SELECT value FROM statements WHERE id = $sid")
tamper "statement" "UPDATE statements SET value = 'forged' WHERE id = $sid" \
        "UPDATE statements SET value = \$q\$$orig\$q\$ WHERE id = $sid" \
        "^FAILED statements +$rec: "
kev=$(q "SELECT min(id) FROM key_events")
tamper "key event" \
        "UPDATE key_events SET valid_from = valid_from - 1 WHERE id = $kev" \
        "UPDATE key_events SET valid_from = valid_from + 1 WHERE id = $kev" \
        "^FAILED key-event +key_events $kev: "
tamper "agency key" \
        "UPDATE agency_keys SET revoked_at = '2021-01-01' WHERE agency = 'MOF-HQ'" \
        "UPDATE agency_keys SET revoked_at = NULL WHERE agency = 'MOF-HQ'" \
        "^FAILED agency-key +agency_keys MOF-HQ MOF-HQ/1: revoked_at differs"
th=$(q "SELECT max(id) FROM tree_heads")
tamper "tree head root" \
        "UPDATE tree_heads SET root_hash = set_byte(root_hash, 0, get_byte(root_hash, 0) # 1) WHERE id = $th" \
        "UPDATE tree_heads SET root_hash = set_byte(root_hash, 0, get_byte(root_hash, 0) # 1) WHERE id = $th" \
        "^FAILED tree-head +tree_heads $th: tree head signature does not verify"
tamper "tree head time" \
        "UPDATE tree_heads SET timestamp_ms = timestamp_ms + 1 WHERE id = $th" \
        "UPDATE tree_heads SET timestamp_ms = timestamp_ms - 1 WHERE id = $th" \
        "^FAILED tree-head +tree_heads $th: "
tamper "log leaf" \
        "UPDATE log_leaves SET data = data || '\\x00'::bytea WHERE idx = 7" \
        "UPDATE log_leaves SET data = substring(data from 1 for length(data) - 1) WHERE idx = 7" \
        "^FAILED leaf +log_leaves 7: stored hash is not the hash of its data"
"$hubctl" log verify --hub-key "$hubkey" >/dev/null 2>&1 || fail "log verify after every undo"

# ---- evidence bundles ----
for a in $(q "SELECT DISTINCT agency FROM records ORDER BY 1"); do
        r=$(q "SELECT record_id FROM records WHERE agency = '$a' ORDER BY record_id LIMIT 1")
        file=$(tr 'A-Z' 'a-z' <<<"$a")
        "$hubctl" evidence "$a/$r" --out "$tmp/$a.ev" >/dev/null || fail "evidence of $a/$r"
        "$hubctl" verify "$tmp/$a.ev" --hub-key "$hubkey" --agency-key "$keys/$file.key.pub" \
                >"$tmp/ok" || { cat "$tmp/ok"; fail "hubctl verify of $a/$r"; }
        grep -q "^ok: record $a/$r" "$tmp/ok" || fail "hubctl verify output for $a/$r"
        python3 "$pyv" --bundle "$tmp/$a.ev" --hub-key "$hubkey" --agency-key "$keys/$file.key.pub" \
                >/dev/null || fail "python verifier on $a/$r"
done
ev=$tmp/MOF-HQ.ev
python3 "$pyv" --bundle "$ev" --hub-key "$hubkey" --flip-all | grep -q "single-byte changes refused" ||
        fail "the python verifier accepted a changed bundle"
n=$(stat -c %s "$ev")
python3 - "$ev" "$tmp" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
for i in range(len(b)):
    x = bytearray(b); x[i] ^= 1
    open('%s/flip-%d.ev' % (sys.argv[2], i), 'wb').write(x)
PY
bad=0
for ((i = 0; i < n; i++)); do
        if "$hubctl" verify "$tmp/flip-$i.ev" --hub-key "$hubkey" 2>"$tmp/err" >/dev/null; then
                fail "hubctl verify accepted the bundle with byte $i changed"
        fi
        grep -Eq "check (bundle|tree-head-signature|key-event-inclusion|key-events|key-validity|agency-signature|record-identity|record-inclusion) failed" "$tmp/err" ||
                { cat "$tmp/err"; fail "byte $i: no check named"; }
        bad=$((bad + 1))
done
echo "evidence: $bad single-byte changes refused by hubctl verify and by the python verifier"
# A bundle of a record whose stored payload was changed does not verify.
q "UPDATE records SET payload = set_byte(payload, 5, get_byte(payload, 5) # 1) WHERE $where" >/dev/null
"$hubctl" evidence "$rec" --out "$tmp/forged.ev" >/dev/null || fail "evidence of a changed record"
"$hubctl" verify "$tmp/forged.ev" --hub-key "$hubkey" 2>"$tmp/err" && fail "a forged record's bundle verified"
grep -q "check agency-signature failed" "$tmp/err" || { cat "$tmp/err"; fail "forged bundle: wrong check"; }
"$hubctl" provenance --hub-key "$hubkey" "E$(q "SELECT coalesce(e.merged_into, e.id) FROM records r JOIN entities e ON e.id = r.entity_id WHERE $rwhere")" \
        >"$tmp/p2" 2>&1 && fail "provenance verified a changed record"
grep -q "^  $rec: NOT VERIFIED" "$tmp/p2" || { cat "$tmp/p2"; fail "provenance did not flag $rec"; }
q "UPDATE records SET payload = set_byte(payload, 5, get_byte(payload, 5) # 1) WHERE $where" >/dev/null

# ---- monitor ----
"$hubctl" log monitor --hub-key "$hubkey" --from-offset "$start" >"$tmp/m" 2>&1 ||
        { cat "$tmp/m"; fail "log monitor on this run's heads"; }
grep -q "consistent with the previous head" "$tmp/m" || { cat "$tmp/m"; fail "monitor saw no consistent pair"; }
# A signed head that contradicts the last one (same size, another root), then an unsigned one,
# published to hub.log as hubd would.
python3 - "$HUB_PG_DSN" "$keys/hub.key" "$tmp" <<'PY' || fail "could not forge heads"
import hashlib, struct, subprocess, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
dsn, keyfile, tmp = sys.argv[1:4]
row = subprocess.run(['psql', dsn, '-Atqc', "SELECT log_size, encode(root_hash, 'hex'), "
                      "timestamp_ms, key_id FROM tree_heads ORDER BY id DESC LIMIT 1"],
                     capture_output=True, text=True, check=True).stdout.strip().split('|')
size, root, ts, kid = int(row[0]), bytes.fromhex(row[1]), int(row[2]), row[3].encode()
sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(open(keyfile).read().split()[3]))
def varint(v):
    z, out = (v << 1) ^ (v >> 63), b''
    while True:
        c = z & 0x7f; z >>= 7
        out += bytes([c | (0x80 if z else 0)])
        if not z: return out
def head(size, root, ts):
    d = hashlib.sha256(b'vn.hub.tree-head.v1\x00' + struct.pack('>Q', size) + root +
                       struct.pack('>q', ts) + struct.pack('>I', len(kid)) + kid).digest()
    return varint(size) + root + varint(ts) + varint(len(kid)) + kid + sk.sign(d)
other = bytes([root[0] ^ 1]) + root[1:]
open(tmp + '/inconsistent.head', 'wb').write(head(size, other, ts + 1))
unsigned = bytearray(head(size, root, ts + 2)); unsigned[-1] ^= 1
open(tmp + '/unsigned.head', 'wb').write(bytes(unsigned))
PY
before=$(high)
# The last head hubd published: hubd writes hub.log in Kafka transactions, so the topic ends with
# a commit marker (an offset no reader sees), not with that head.
last=$(kcat -b "$HUB_KAFKA_BROKERS" -C -t hub.log -o "$start" -e -q -f '%o\n' | sort -n | tail -n 1)
[ -n "$last" ] || fail "no head of this run read back from hub.log"
kcat -b "$HUB_KAFKA_BROKERS" -P -t hub.log -k tree-head "$tmp/inconsistent.head" || fail "kcat produce"
"$hubctl" log monitor --hub-key "$hubkey" --from-offset "$last" >"$tmp/m" 2>&1 &&
        { cat "$tmp/m"; fail "monitor accepted an inconsistent head"; }
grep -q "is not consistent with the head of" "$tmp/m" || { cat "$tmp/m"; fail "monitor: no inconsistency alarm"; }
kcat -b "$HUB_KAFKA_BROKERS" -P -t hub.log -k tree-head "$tmp/unsigned.head" || fail "kcat produce"
"$hubctl" log monitor --hub-key "$hubkey" --from-offset $((before + 1)) >"$tmp/m" 2>&1 &&
        { cat "$tmp/m"; fail "monitor accepted an unsigned head"; }
grep -q "unsigned head" "$tmp/m" || { cat "$tmp/m"; fail "monitor: no 'unsigned head'"; }
echo "monitor: good heads accepted, an inconsistent and an unsigned head refused"
echo "ok: log, provenance, evidence, tamper and monitor checks passed"
