#!/usr/bin/env bash
# Access control with the broker's real security (DESIGN contract 7): every client goes through
# the SASL listener of the local broker as its own user, with the ACLs `hubctl kafka acl apply`
# derives from the agency registry. Each rule is checked by a denial a real client meets
# (exit status and message), so loosening an ACL fails this test:
#   - a wrong password is refused;
#   - an agency may not write another agency's topic, nor read one, nor read or write the hub's;
#   - the hub may not write an agency's topic;
#   - a subscriber may read only its tiers, and write nothing;
# then the allowed path end to end on the shared dev data: five agencies publish as themselves,
# hubd consumes and publishes as the hub, three subscribers materialise their tiers.
# Finally the tier rule: EVERY message on every hub.entities.<tier> topic signed by this hub is
# decoded, and each value and source in it must come from a statement of that tier or a lower one
# (derived from the statements and records in PostgreSQL, not from a list of values).
# usage: sasl.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 root=$2

# shellcheck source=lib.sh
source "$root/tests/integration/lib.sh"
it_need_services
[ -n "${HUB_KAFKA_SASL_BROKERS:-}" ] && [ -d "${HUB_KAFKA_USERS_DIR:-/nonexistent}" ] ||
        skip_or_fail "HUB_KAFKA_SASL_BROKERS/HUB_KAFKA_USERS_DIR not set: restart the services" \
                "${HUB_REQUIRE_SERVICES:-}"
it_need_dev_data

hubctl=$build/hub/ctl/hubctl
publish=$build/connectors/hub-publish
hubd=$build/hub/hubd/hubd
subscribe=$build/connectors/hub-subscribe
dump=$build/tests/tools/entity_dump
sasl=$HUB_KAFKA_SASL_BROKERS
users=$HUB_KAFKA_USERS_DIR

tmp=$(mktemp -d)
base_dsn=$HUB_PG_DSN
db=hub_t_sasl_$$
tiers=(public shared restricted)
cleanup() {
        for d in "$db" "${tiers[@]/#/${db}_sub_}"; do
                psql "$base_dsn" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
        done
        rm -rf "$tmp"
}
trap cleanup EXIT
for d in "$db" "${tiers[@]/#/${db}_sub_}"; do
        psql "$base_dsn" -qc "CREATE DATABASE $d" >/dev/null || exit 1
done
export HUB_PG_DSN="$base_dsn dbname=$db"
# Every client below goes through the SASL listener; the PLAINTEXT one is not used at all.
unset HUB_KAFKA_BROKERS
export HUB_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT
# Debian 12's librdkafka (2.0.2) cannot do SCRAM with Kafka 4 (see deploy/local/start.sh).
export HUB_KAFKA_SASL_MECHANISM=PLAIN
group=hubd-sasl-$$

fails=0
fail() {
        echo "FAIL: $*"
        fails=$((fails + 1))
}
q() { psql "$HUB_PG_DSN" -Atqc "$1"; }
# as USER CMD...: run a client as Kafka user USER (its password from the local users folder).
as() {
        local u=$1
        shift
        HUB_KAFKA_USER=$u HUB_KAFKA_PASSWORD_FILE=$users/$u "$@"
}
# kc USER ARGS...: kcat as USER through the SASL listener (the password on kcat's command line
# is acceptable in a test; our programs refuse it there).
kc() {
        local u=$1
        shift
        timeout 60 kcat -b "$sasl" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN \
                -X sasl.username="$u" -X sasl.password="$(cat "$users/$u")" "$@"
}
# expect_denied WHAT STATUS STDERR_FILE PATTERN: a denial is a non-zero exit with PATTERN in
# stderr.
expect_denied() {
        local what=$1 status=$2 errfile=$3 pattern=$4
        if [ "$status" -eq 0 ]; then
                fail "$what: allowed (exit 0), must be denied"
        elif ! grep -q -- "$pattern" "$errfile"; then
                fail "$what: exit $status without \"$pattern\":"
                tail -n 5 "$errfile"
        else
                echo "ok: $what: denied ($(grep -m1 -o -- "$pattern" "$errfile"))"
        fi
}

# ---- set-up, as the operators' account ----
agencies=(MOIT-QLTT:moit-qltt MOF-HQ:mof-hq MOF-THUE:mof-thue MIC:mic BCA:bca)
mkdir -p "$tmp/keys" && chmod 700 "$tmp/keys"
admin=(--brokers "$sasl" --kafka-user admin --kafka-password-file "$users/admin")
"$hubctl" init "${admin[@]}" >"$tmp/init" 2>&1 || { cat "$tmp/init"; exit 1; }
for a in "${agencies[@]}"; do
        IFS=: read -r code file <<<"$a"
        "$hubctl" agency add "$code" --name "$code" "${admin[@]}" >/dev/null &&
                "$hubctl" key generate --owner "$code" --key-id "$code/1" \
                        --out "$tmp/keys/$file.key" >/dev/null 2>&1 &&
                "$hubctl" key register --agency "$code" --public-key-file "$tmp/keys/$file.key.pub" \
                        --valid-from 2020-01-01 >/dev/null || exit 1
done
"$hubctl" key generate --owner HUB --key-id HUB/1 --out "$tmp/keys/hub.key" >/dev/null 2>&1 ||
        exit 1
subs=(sub-vecom=public sub-mof-thue=public,shared sub-bca=public,shared,restricted)
"$hubctl" kafka acl apply "${admin[@]}" --hub-group "$group" "${subs[@]/#/--subscriber=}" \
        >"$tmp/acl" 2>&1 || { cat "$tmp/acl"; exit 1; }
echo "ok: $(tail -n 1 "$tmp/acl")"
# hubd publishes transactionally: the hub needs WRITE and DESCRIBE on its transactional id. A
# librdkafka that cannot create that ACL says so (Debian 12's 2.0.2); Kafka's Admin client then
# grants it, with the broker's own classpath.
if grep -q "cannot create .*transactional-id" "$tmp/acl"; then
        libs=$(source "$root/deploy/local/lib.sh" && echo "$HUB_CACHE_DIR/kafka-$HUB_KAFKA_VERSION/libs")
        java -Xmx128m -cp "$libs/*" "$root/deploy/local/TransactionalIdAcl.java" "$sasl" admin \
                "$users/admin" hub hub-publisher >"$tmp/txn-acl" 2>&1 ||
                { cat "$tmp/txn-acl"; exit 1; }
        echo "ok: $(tail -n 1 "$tmp/txn-acl") (Kafka's Admin client)"
fi
# The plan itself: an agency's only topic right is WRITE on its own topic.
grep -q "^allow User:MOF-HQ WRITE topic agency.MOF-HQ.reports$" "$tmp/acl" ||
        fail "plan lacks MOF-HQ's write ACL"
[ "$(grep -c "^allow User:MOF-HQ .* topic" "$tmp/acl")" = 1 ] ||
        fail "MOF-HQ has more than one topic ACL"

pub() { # pub USER MAPPING KEY: publish the dev data through a mapping as USER
        as "$1" "$publish" --brokers "$sasl" --mapping "$root/connectors/examples/$2.ini" \
                --key "$tmp/keys/$3.key" --batch-size 5 "$dev"
}
offsets() { # offsets TOPIC: the sum of the partitions' end offsets, as the admin sees them
        kc admin -C -t "$1" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l
}

# ---- denials ----
printf 'not-the-password\n' >"$tmp/wrong" && chmod 600 "$tmp/wrong"
HUB_KAFKA_USER=MOF-HQ HUB_KAFKA_PASSWORD_FILE=$tmp/wrong "$publish" --brokers "$sasl" \
        --mapping "$root/connectors/examples/mof-hq.ini" --key "$tmp/keys/mof-hq.key" "$dev" \
        >/dev/null 2>"$tmp/err"
expect_denied "MOF-HQ with a wrong password" $? "$tmp/err" "refused the credentials of user MOF-HQ"

before=$(offsets agency.BCA.reports)
pub MOF-HQ bca bca >/dev/null 2>"$tmp/err"
expect_denied "agency MOF-HQ writes agency.BCA.reports" $? "$tmp/err" \
        "TOPIC_AUTHORIZATION_FAILED: Kafka user MOF-HQ may not write topic agency.BCA.reports"
[ "$(offsets agency.BCA.reports)" = "$before" ] || fail "a message reached agency.BCA.reports"

echo forged | kc MOF-HQ -P -t hub.entities.public >/dev/null 2>"$tmp/err"
expect_denied "agency MOF-HQ writes hub.entities.public (kcat)" $? "$tmp/err" \
        "Topic authorization failed\|TOPIC_AUTHORIZATION_FAILED"
echo forged | kc hub -P -t agency.MOF-HQ.reports >/dev/null 2>"$tmp/err"
expect_denied "the hub writes agency.MOF-HQ.reports (kcat)" $? "$tmp/err" \
        "Topic authorization failed\|TOPIC_AUTHORIZATION_FAILED"
echo forged | kc sub-bca -P -t hub.entities.restricted >/dev/null 2>"$tmp/err"
expect_denied "subscriber sub-bca writes hub.entities.restricted (kcat)" $? "$tmp/err" \
        "Topic authorization failed\|TOPIC_AUTHORIZATION_FAILED"
kc MOF-HQ -C -t agency.BCA.reports -o beginning -e -q >/dev/null 2>"$tmp/err"
expect_denied "agency MOF-HQ reads agency.BCA.reports (kcat)" $? "$tmp/err" \
        "Topic authorization failed\|TOPIC_AUTHORIZATION_FAILED"

subscriber() { # subscriber USER TIER: materialise TIER into the tier's database as USER
        as "$1" "$subscribe" --brokers "$sasl" --tier "$2" --hub-key "$tmp/keys/hub.key.pub" \
                --dsn "$base_dsn dbname=${db}_sub_$2" --once --log-level warn
}
HUB_KAFKA_USER=sub-bca HUB_KAFKA_PASSWORD_FILE=$tmp/wrong "$subscribe" --brokers "$sasl" \
        --tier public --hub-key "$tmp/keys/hub.key.pub" --dsn "$base_dsn dbname=${db}_sub_public" \
        --once >/dev/null 2>"$tmp/err"
expect_denied "sub-bca with a wrong password" $? "$tmp/err" "refused the credentials of user sub-bca"
# A password on the command line is refused before anything connects.
"$publish" --brokers "$sasl" --mapping "$root/connectors/examples/mof-hq.ini" \
        --key "$tmp/keys/mof-hq.key" -X sasl.password=x "$dev" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q "sasl.password may not be given on the command line" "$tmp/err" &&
        echo "ok: -X sasl.password refused" || fail "-X sasl.password was accepted"
for denied in MOF-HQ:public sub-vecom:shared sub-vecom:restricted sub-mof-thue:restricted; do
        IFS=: read -r u t <<<"$denied"
        subscriber "$u" "$t" >/dev/null 2>"$tmp/err"
        expect_denied "$u reads hub.entities.$t (hub-subscribe)" $? "$tmp/err" \
                "TOPIC_AUTHORIZATION_FAILED: Kafka user $u may not read topic hub.entities.$t"
done

# ---- the allowed path ----
for a in "${agencies[@]}"; do
        IFS=: read -r code file <<<"$a"
        pub "$code" "$file" "$file" >"$tmp/pub" 2>&1 ||
                { cat "$tmp/pub"; fail "agency $code could not publish its own topic"; }
done
for run in 1 2; do
        as hub "$hubd" --brokers "$sasl" --hub-key "$tmp/keys/hub.key" --group "$group" \
                --topics '^agency\.(MOIT-QLTT|MOF-HQ|MOF-THUE|MIC|BCA)\.reports$' \
                --exit-when-idle 3 --log-level warn >"$tmp/hubd" 2>&1 ||
                { tail -n 20 "$tmp/hubd"; fail "hubd as the hub exited $?"; }
done
n=$(q "SELECT count(*) FROM records")
[ "$n" = 44 ] && echo "ok: hubd (user hub) stored the 44 dev records" ||
        fail "hubd stored $n records, not 44"
[ "$(q "SELECT count(*) FROM outbox WHERE sent_at IS NULL")" = 0 ] ||
        fail "hubd (user hub) could not send its outbox"
for s in sub-vecom:public sub-mof-thue:shared sub-bca:restricted; do
        IFS=: read -r u t <<<"$s"
        subscriber "$u" "$t" >"$tmp/sub" 2>&1 || { cat "$tmp/sub"; fail "$u could not read $t"; }
        want=$(q "SELECT count(DISTINCT entity_id) FROM outbox WHERE topic = 'hub.entities.$t'")
        got=$(psql "$base_dsn dbname=${db}_sub_$t" -Atqc "SELECT count(*) FROM hub_entities")
        [ "$want" -gt 0 ] && [ "$got" = "$want" ] &&
                echo "ok: $u (tier $t) materialised $got entities" ||
                fail "$u (tier $t): $got entities materialised, $want published"
done

# ---- the tier rule, on every message of every tier topic ----
# All statements, also those invalidated later (a noisy identifier): an older version of an
# entity may carry them, and a statement's tier never changes. None is ever deleted.
q "SELECT entity_id, prop, value, tier FROM statements" >"$tmp/statements"
q "SELECT agency, record_id, tier FROM records" >"$tmp/records"
as admin "$dump" "$sasl" "$tmp/keys/hub.key.pub" "${tiers[@]/#/hub.entities.}" >"$tmp/dump" ||
        fail "entity_dump failed"
python3 "$root/tests/integration/tier_leaks.py" "$tmp/statements" "$tmp/records" "$tmp/dump" ||
        fail "the tier rule does not hold"
# The checker itself must see a leak: copy one RESTRICTED-only value into a PUBLIC message.
python3 "$root/tests/integration/tier_leaks.py" --plant-leak "$tmp/statements" "$tmp/records" \
        "$tmp/dump" >"$tmp/planted" 2>&1 &&
        fail "a planted leak went unnoticed: $(cat "$tmp/planted")" ||
        echo "ok: a planted leak is caught: $(grep -m1 LEAK "$tmp/planted")"

[ "$fails" = 0 ] || { echo "$fails checks failed"; exit 1; }
echo "ok: every denial held, the allowed path works, no tier leaks"
