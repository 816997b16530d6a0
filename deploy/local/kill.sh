#!/usr/bin/env bash
# Kill one of the local services started by start.sh the hard way, for fault tests: `kafka` sends
# the broker SIGKILL (its pid from start.sh's pid file, checked to still be that broker);
# `postgres` stops PostgreSQL with `pg_ctl stop -m immediate` (no shutdown checkpoint: recovery on
# the next start, as after a crash). start.sh restarts whatever is not running.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
        echo "usage: $0 kafka|postgres"
}

case "${1:-}" in
kafka)
        pid=$(hub_kafka_pid) || {
                hub_say "error: no local Kafka broker is running"
                exit 1
        }
        kill -KILL "$pid"
        # Gone, not just signalled: the restart must not find the old broker's port taken.
        for ((i = 0; i < 300; i++)); do
                state=$(hub_proc_state "$pid")
                [[ -z "$state" || "$state" == Z ]] && break
                sleep 0.1
        done
        ;;
postgres)
        dir=$(hub_pg_dir)
        if [[ -z "$dir" ]] || ! hub_pg_alive "$dir/data"; then
                hub_say "error: no local PostgreSQL is running"
                exit 1
        fi
        hub_as_pg "$hub_pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
        ;;
-h | --help)
        usage
        exit 0
        ;;
*)
        usage >&2
        exit 2
        ;;
esac
