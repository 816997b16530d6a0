# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
# Shared by start.sh, stop.sh and env.sh (sourced, never run): settings and small helpers.
# Sets no shell options, because env.sh may be sourced into an interactive shell.
#
# Every setting can be overridden from the environment:
#   HUB_LOCAL_DIR             state: Kafka data, logs, pid files (default <checkout>/.hub-local)
#   HUB_CACHE_DIR             Kafka jars and Maven's repository (default ~/.cache/hub)
#   HUB_PG_PORT               PostgreSQL TCP port on 127.0.0.1 (default 55432)
#   HUB_PG_DIR                PostgreSQL data + socket folder; must be reachable by the postgres
#                             user (default: a new /tmp/hub-pg.XXXXXX, recorded in the state)
#   HUB_PG_FSYNC              on|off (default on: tests that kill PostgreSQL need it)
#   HUB_KAFKA_VERSION         org.apache.kafka:kafka_2.13 version (default 4.4.0)
#   HUB_KAFKA_PORT            client (PLAINTEXT) port on 127.0.0.1 (default 59092); its
#                             anonymous clients are super users: a local convenience only
#   HUB_KAFKA_SASL_PORT       client SASL_PLAINTEXT (SCRAM-SHA-512) port, ACLs enforced
#                             (default 59094)
#   HUB_KAFKA_USERS           SCRAM users created when the broker's storage is formatted
#                             (default: admin, hub, five agencies, three subscribers; see below)
#   HUB_KAFKA_CONTROLLER_PORT KRaft controller port on 127.0.0.1 (default 59093)
#   HUB_KAFKA_HEAP            broker -Xmx (default 512m)
#   HUB_START_TIMEOUT         seconds to wait for each service (default 90)

hub_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hub_root=$(cd "$hub_here/../.." && pwd)

HUB_LOCAL_DIR=${HUB_LOCAL_DIR:-$hub_root/.hub-local}
HUB_CACHE_DIR=${HUB_CACHE_DIR:-${HOME:-/root}/.cache/hub}
# The ports the running services were started with (start.sh records them), so that a later
# call without the variables (stop.sh, kill.sh, a restart by start.sh from a test) uses the same.
if [[ -r "$HUB_LOCAL_DIR/ports" ]]; then
        # shellcheck source=/dev/null
        source "$HUB_LOCAL_DIR/ports"
fi
HUB_PG_PORT=${HUB_PG_PORT:-${hub_started_pg_port:-55432}}
HUB_PG_FSYNC=${HUB_PG_FSYNC:-on}
HUB_KAFKA_VERSION=${HUB_KAFKA_VERSION:-4.4.0}
HUB_KAFKA_PORT=${HUB_KAFKA_PORT:-${hub_started_kafka_port:-59092}}
HUB_KAFKA_CONTROLLER_PORT=${HUB_KAFKA_CONTROLLER_PORT:-${hub_started_kafka_controller_port:-59093}}
HUB_KAFKA_SASL_PORT=${HUB_KAFKA_SASL_PORT:-${hub_started_kafka_sasl_port:-59094}}
# admin: a super user for operators (hubctl init, agency add, kafka acl apply); hub: hubd; the
# agencies of connectors/examples; subscribers sub-<agency>. Their ACLs come from
# `hubctl kafka acl apply`, not from here.
HUB_KAFKA_USERS=${HUB_KAFKA_USERS:-admin hub MOIT-QLTT MOF-HQ MOF-THUE MIC BCA sub-vecom sub-mof-thue sub-bca}
HUB_KAFKA_HEAP=${HUB_KAFKA_HEAP:-512m}
HUB_START_TIMEOUT=${HUB_START_TIMEOUT:-90}

hub_pg_bin=/usr/lib/postgresql/15/bin
# The PostgreSQL folder is recorded here, because it cannot live inside the checkout (see
# start.sh) and stop.sh must find it again.
hub_pg_dir_file=$HUB_LOCAL_DIR/pg.dir
hub_kafka_dir=$HUB_LOCAL_DIR/kafka
hub_kafka_pid_file=$hub_kafka_dir/kafka.pid
hub_kafka_log=$hub_kafka_dir/kafka.log
# One file per SCRAM user holding its password (mode 0600), written when the storage is formatted.
hub_kafka_users_dir=$hub_kafka_dir/users
hub_env_file=$HUB_LOCAL_DIR/env

hub_say() {
        printf 'hub-local: %s\n' "$*" >&2
}

# The PostgreSQL folder in use: HUB_PG_DIR, else the recorded one; empty when neither exists.
hub_pg_dir() {
        if [[ -n "${HUB_PG_DIR:-}" ]]; then
                printf '%s\n' "$HUB_PG_DIR"
        elif [[ -s "$hub_pg_dir_file" ]]; then
                head -n 1 "$hub_pg_dir_file"
        fi
}

# Run a PostgreSQL server binary. initdb and postgres refuse to run as root, so as root they run
# as the postgres system user; from / so that a cwd it cannot enter (CI's 0700 clone) does not
# make them warn or fail.
hub_as_pg() {
        if [[ $EUID -eq 0 ]]; then
                (cd / && runuser -u postgres -- "$@")
        else
                (cd / && "$@")
        fi
}

# The pid in the Kafka pid file if that process is alive and still our broker (pids are reused).
hub_kafka_pid() {
        local pid
        [[ -s "$hub_kafka_pid_file" ]] || return 1
        pid=$(head -n 1 "$hub_kafka_pid_file")
        [[ "$pid" =~ ^[0-9]+$ ]] || return 1
        [[ -r "/proc/$pid/cmdline" ]] || return 1
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $hub_kafka_dir/server.properties" ||
                return 1
        printf '%s\n' "$pid"
}

# The state of a process (R, S, D, Z, ...) from /proc; empty when there is none.
hub_proc_state() {
        sed -n 's/.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true
}

# True when the postmaster named in <data>/postmaster.pid is alive. `pg_ctl status` is not
# enough: it asks kill(pid, 0), which also succeeds for a killed postmaster that is a zombie
# until PID 1 reaps it (seconds here, never under an init that does not reap).
hub_pg_alive() {
        local data=$1 pid state
        [[ -s "$data/postmaster.pid" ]] || return 1
        pid=$(head -n 1 "$data/postmaster.pid")
        [[ "$pid" =~ ^[0-9]+$ ]] || return 1
        state=$(hub_proc_state "$pid")
        [[ -n "$state" && "$state" != Z ]]
}
