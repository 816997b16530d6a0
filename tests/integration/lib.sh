# shellcheck shell=bash
# Sourced by the integration scripts, after `build=$1 root=$2`: what makes a script skip (exit
# 77) or, under HUB_REQUIRE_SERVICES=1 / HUB_REQUIRE_SHARED=1 (CI), fail instead; a throw-away
# database for the hub and one for a subscriber; and the helpers every script uses.

skip_or_fail() { # MESSAGE REQUIRED(1 to fail)
        echo "$1"
        [ "${2:-}" = 1 ] && exit 1
        exit 77
}

# The local services (deploy/local/start.sh, then eval "$(deploy/local/env.sh)").
it_need_services() {
        [ -n "${HUB_PG_DSN:-}" ] && [ -n "${HUB_KAFKA_BROKERS:-}" ] ||
                skip_or_fail "HUB_PG_DSN/HUB_KAFKA_BROKERS not set: start deploy/local/start.sh" \
                        "${HUB_REQUIRE_SERVICES:-}"
}

# Sets dev to the shared dev records (../shared beside the project, or HUB_SHARED_DIR).
it_need_dev_data() {
        dev=${HUB_SHARED_DIR:-$root/../shared}/data/agency_records.dev.jsonl
        [ -r "$dev" ] || skip_or_fail "shared dev data not found at $dev" "${HUB_REQUIRE_SHARED:-}"
}

# it_databases NAME [sub]: a new folder $tmp and a new database $db for the hub, plus with `sub`
# a database $sub for a subscriber (else the subscriber shares the hub's), all removed on exit
# (a script that must stop something first defines it_before_cleanup). Exports HUB_PG_DSN,
# HUB_SUBSCRIBER_DSN, and for deploy/main-job.sh HUB_MAIN_STATE and a consumer group of its own.
it_databases() {
        tmp=$(mktemp -d)
        base_dsn=$HUB_PG_DSN
        db=hub_t_${1}_$$
        sub=
        [ "${2:-}" = sub ] && sub=hub_t_${1}sub_$$
        trap it_cleanup EXIT
        psql "$base_dsn" -qc "CREATE DATABASE $db" >/dev/null || exit 1
        [ -z "$sub" ] || psql "$base_dsn" -qc "CREATE DATABASE $sub" >/dev/null || exit 1
        export HUB_PG_DSN="$base_dsn dbname=$db" HUB_SUBSCRIBER_DSN="$base_dsn dbname=${sub:-$db}"
        export HUB_MAIN_STATE=$tmp/state HUB_GROUP=hubd-$1-$$
}

it_cleanup() {
        declare -F it_before_cleanup >/dev/null && it_before_cleanup
        local d
        for d in $db $sub; do
                psql "$base_dsn" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
        done
        rm -rf "$tmp"
}

fail() {
        echo "FAIL: $*"
        exit 1
}
q() { psql "$HUB_PG_DSN" -Atqc "$1"; }
qs() { psql "$HUB_SUBSCRIBER_DSN" -Atqc "$1"; }
