#!/usr/bin/env bash
# The hub's main job on one machine, end to end, with the binaries of a build folder:
#   register five agencies and their keys (first run only), five connectors publish their
#   agency's rows as signed batches, hubd verifies and consolidates them into PostgreSQL and
#   publishes the entities, and one agency's subscriber materialises the shared tier into its
#   own database. Ends with a summary. Running it again publishes nothing new and changes nothing.
#
# usage: deploy/main-job.sh [BUILD_DIR] [SOURCE.jsonl]
#   BUILD_DIR defaults to build; SOURCE to tests/data/agency_sample.jsonl (fictional rows in the
#   agencies' export shape; ../shared/data/agency_records.dev.jsonl has the same shape).
# Needs the local services (deploy/local/start.sh) and their environment (deploy/local/env.sh).
# State (keys, watermarks) lives in $HUB_MAIN_STATE (default $HUB_LOCAL_DIR/main-job).
# HUB_SUBSCRIBER_DSN names the subscribing agency's database (default: database agency_mof_thue
# on the local server, created when absent); HUB_GROUP the hubd consumer group; HUB_MAIN_RESEND=1
# makes the connectors ignore their watermarks and send every row again (the hub must not change).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
source_file=${2:-$root/tests/data/agency_sample.jsonl}
: "${HUB_PG_DSN:?start the services: deploy/local/start.sh && eval \"\$(deploy/local/env.sh)\"}"
: "${HUB_KAFKA_BROKERS:?start the services: deploy/local/start.sh && eval \"\$(deploy/local/env.sh)\"}"
state=${HUB_MAIN_STATE:-${HUB_LOCAL_DIR:-$root/.hub-local}/main-job}
mkdir -p "$state/keys"
chmod 700 "$state" "$state/keys"

hubctl=$build/hub/ctl/hubctl
publish=$build/connectors/hub-publish
hubd=$build/hub/hubd/hubd
subscribe=$build/connectors/hub-subscribe
for b in "$hubctl" "$publish" "$hubd" "$subscribe"; do
        [ -x "$b" ] || { echo "main-job: $b is missing: build first (ninja -C $build)" >&2; exit 1; }
done
[ -r "$source_file" ] || { echo "main-job: cannot read $source_file" >&2; exit 1; }

say() { printf '== %s\n' "$*"; }

# The subscribing agency keeps the shared database in its own PostgreSQL database.
if [ -n "${HUB_SUBSCRIBER_DSN:-}" ]; then
        sub_dsn=$HUB_SUBSCRIBER_DSN
else
        sub_dsn="$HUB_PG_DSN dbname=agency_mof_thue"
        if ! psql "$HUB_PG_DSN" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'agency_mof_thue'" |
                grep -q 1; then
                psql "$HUB_PG_DSN" -qc "CREATE DATABASE agency_mof_thue" >/dev/null
        fi
fi
failed=0

say "hubctl init"
"$hubctl" init | sed 's/^/   /'

agencies=(MOIT-QLTT:moit-qltt:"Cục Quản lý thị trường"
          MOF-HQ:mof-hq:"Cục Hải quan"
          MOF-THUE:mof-thue:"Cục Thuế"
          MIC:mic:"Bộ Thông tin và Truyền thông"
          BCA:bca:"Bộ Công an")
known_agencies=$("$hubctl" agency list 2>/dev/null || true)
known_keys=$("$hubctl" key list 2>/dev/null || true)
for a in "${agencies[@]}"; do
        IFS=: read -r code file name <<<"$a"
        if ! grep -qw -- "$code" <<<"$known_agencies"; then
                "$hubctl" agency add "$code" --name "$name" >/dev/null
        fi
        key=$state/keys/$file.key
        if [ ! -f "$key" ]; then
                "$hubctl" key generate --owner "$code" --key-id "$code/1" --out "$key" >/dev/null 2>&1
        fi
        if ! grep -qF -- "$code/1" <<<"$known_keys"; then
                "$hubctl" key register --agency "$code" --public-key-file "$key.pub" \
                        --valid-from 2020-01-01 >/dev/null
        fi
done
if [ ! -f "$state/keys/hub.key" ]; then
        "$hubctl" key generate --owner HUB --key-id HUB/1 --out "$state/keys/hub.key" >/dev/null 2>&1
fi
say "agencies and keys registered"

say "five connectors publish $(basename "$source_file")"
resend=()
[ "${HUB_MAIN_RESEND:-}" = 1 ] && resend=(--from-start)
for a in "${agencies[@]}"; do
        IFS=: read -r code file name <<<"$a"
        # A refused row is reported by the connector and fails the job at the end, after the
        # rest has gone through.
        "$publish" --mapping "$root/connectors/examples/$file.ini" --key "$state/keys/$file.key" \
                --state "$state/$file.watermark" "${resend[@]}" "$source_file" 2>&1 |
                sed 's/^/   /' || failed=1
done

say "hubd consolidates (exits when idle)"
"$hubd" --hub-key "$state/keys/hub.key" --exit-when-idle 3 --log-level "${HUB_MAIN_LOG_LEVEL:-warn}"

say "MOF-THUE's subscriber materialises hub.entities.shared into its own database"
"$subscribe" --tier shared --hub-key "$state/keys/hub.key.pub" --dsn "$sub_dsn" \
        --exit-when-idle 3 --log-level warn | sed 's/^/   /'

say "summary"
"$hubctl" status --errors 3
echo
echo "subscriber (MOF-THUE, tier shared): $(psql "$sub_dsn" -Atqc "SELECT count(*) FROM hub_entities \
WHERE merged_into IS NULL") entities, $(psql "$sub_dsn" -Atqc \
"SELECT count(*) FROM hub_entity_identifiers") identifiers"
busiest=$(psql "$HUB_PG_DSN" -Atqc "SELECT entity_id FROM records WHERE entity_id IS NOT NULL \
GROUP BY entity_id ORDER BY count(DISTINCT agency) DESC, count(*) DESC, entity_id LIMIT 1")
if [ -n "$busiest" ]; then
        echo
        say "the entity with the most sources"
        "$hubctl" entity show "E$busiest"
fi
[ "$failed" = 0 ] || { echo "main-job: a connector refused rows or failed (see above)" >&2; exit 1; }
