#!/usr/bin/env bash
# Stop the local PostgreSQL and Kafka started by start.sh. Idempotent: what is not running is
# skipped. With --purge, also delete their state (data, logs, the PostgreSQL folder under /tmp);
# the jar cache (HUB_CACHE_DIR) is kept.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
"") ;;
--purge) purge=1 ;;
-h | --help)
        echo "usage: $0 [--purge]"
        exit 0
        ;;
*)
        echo "usage: $0 [--purge]" >&2
        exit 2
        ;;
esac

status=0

stop_kafka() {
        local pid
        pid=$(hub_kafka_pid) || {
                rm -f "$hub_kafka_pid_file"
                return 0
        }
        kill -TERM "$pid" 2>/dev/null || true
        # A single node shuts down in a few seconds; do not wait for ever on a wedged JVM.
        local i
        for ((i = 0; i < 300; i++)); do
                [[ -d "/proc/$pid" ]] || break
                sleep 0.1
        done
        if [[ -d "/proc/$pid" ]]; then
                hub_say "Kafka (pid $pid) did not stop within 30s: killing it"
                kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$hub_kafka_pid_file"
}

stop_pg() {
        local dir
        dir=$(hub_pg_dir)
        [[ -n "$dir" && -f "$dir/data/PG_VERSION" ]] || return 0
        if hub_pg_alive "$dir/data"; then
                if ! hub_as_pg "$hub_pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
                        >/dev/null; then
                        hub_say "error: could not stop PostgreSQL in $dir/data"
                        status=1
                fi
        fi
}

stop_kafka
stop_pg

if ((purge)); then
        dir=$(hub_pg_dir)
        if ((status == 0)); then
                [[ -z "$dir" ]] || rm -rf "$dir"
                rm -rf "$HUB_LOCAL_DIR"
        else
                hub_say "not purging: PostgreSQL is still running"
        fi
fi
exit "$status"
