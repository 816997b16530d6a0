#!/usr/bin/env bash
# Start a throw-away PostgreSQL 15 cluster and a single-node Apache Kafka 4.x broker (KRaft) on
# loopback for tests and local work. Idempotent: services already running are left alone.
# Quiet on success (one summary line); on failure says what is missing or shows the log tail.
# Settings: see lib.sh. Then: eval "$(deploy/local/env.sh)"; stop with deploy/local/stop.sh.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() {
        hub_say "error: $*"
        exit 1
}

# Show the end of a service's log under an error, so CI output says why without a second step.
die_with_log() {
        local log=$1
        shift
        hub_say "error: $*"
        if [[ -r "$log" ]]; then
                hub_say "last lines of $log:"
                tail -n 40 "$log" | sed 's/^/  | /' >&2
        fi
        exit 1
}

need() {
        local cmd=$1 install=$2
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: $install"
}

# True when a socket listens on TCP port $1. Asked of the kernel (ss), not by connecting: the
# ports are in Linux's ephemeral range, and connecting again and again to a port nobody listens
# on yet can pick that same port as the source and connect to itself (TCP simultaneous open),
# which then holds the port so that the broker fails to bind it ("Address already in use").
port_busy() {
        ss -Hltn "sport = :$1" | grep -q .
}

check_tools() {
        [[ -x "$hub_pg_bin/initdb" && -x "$hub_pg_bin/pg_ctl" ]] ||
                die "PostgreSQL 15 server not found in $hub_pg_bin: apt-get install postgresql-15"
        need psql "apt-get install postgresql-client-15"
        if [[ $EUID -eq 0 ]]; then
                need runuser "apt-get install util-linux"
                id postgres >/dev/null 2>&1 ||
                        die "user postgres not found (initdb refuses root): apt-get install postgresql-15"
        fi
        need java "apt-get install openjdk-17-jre-headless"
        local major
        major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
        [[ "$major" =~ ^[0-9]+$ && $major -ge 17 ]] ||
                die "Kafka 4.x needs Java 17 or newer, found '${major:-unknown}':" \
                    "apt-get install openjdk-17-jre-headless"
        need kcat "apt-get install kcat"
}

# The broker's classpath, fetched once from Maven Central into the cache. Maven's own repository
# lives in the cache too, so that a fresh HUB_CACHE_DIR really is a cold start and a warm one
# needs no network. Fetched into a temporary folder and renamed, so an interrupted download never
# looks complete.
kafka_jars() {
        local libs=$HUB_CACHE_DIR/kafka-$HUB_KAFKA_VERSION/libs
        if [[ ! -f "$libs/.complete" ]]; then
                need mvn "apt-get install maven"
                mkdir -p "$HUB_CACHE_DIR"
                local tmp
                tmp=$(mktemp -d "$HUB_CACHE_DIR/.fetch.XXXXXX")
                # A copy of the pom, so that Maven writes nothing into the checkout.
                cp "$hub_here/kafka/pom.xml" "$tmp/pom.xml"
                if ! (cd "$tmp" && mvn -B -q -Dmaven.repo.local="$HUB_CACHE_DIR/m2" \
                        -Dkafka.version="$HUB_KAFKA_VERSION" dependency:copy-dependencies \
                        -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1); then
                        cp "$tmp/mvn.log" "$HUB_CACHE_DIR/mvn-failed.log"
                        rm -rf "$tmp"
                        die_with_log "$HUB_CACHE_DIR/mvn-failed.log" \
                                "could not fetch org.apache.kafka:kafka_2.13:$HUB_KAFKA_VERSION" \
                                "from Maven Central (network, or a wrong HUB_KAFKA_VERSION?)"
                fi
                touch "$tmp/libs/.complete"
                rm -rf "$(dirname "$libs")"
                mkdir -p "$(dirname "$libs")"
                mv "$tmp/libs" "$libs"
                rm -rf "$tmp"
        fi
        printf '%s\n' "$libs"
}

# The PLAIN users for the JAAS entry: user_<name>="<password>" for each password file.
plain_users() {
        local f
        for f in "$hub_kafka_users_dir"/*; do
                [[ -f "$f" ]] && printf 'user_%s="%s" ' "$(basename "$f")" "$(cat "$f")"
        done
        return 0
}

write_kafka_config() {
        local props=$hub_kafka_dir/server.properties
        # It holds the PLAIN passwords.
        (umask 077 && : >"$props.tmp")
        cat >"$props.tmp" <<EOF
# Written by deploy/local/start.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$HUB_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$HUB_KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$HUB_KAFKA_SASL_PORT,CONTROLLER://127.0.0.1:$HUB_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$HUB_KAFKA_PORT,SASL_PLAINTEXT://127.0.0.1:$HUB_KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
# SCRAM users are created when the storage is formatted (--add-scram); the server side needs a
# JAAS entry for the mechanism even though it holds no credentials. PLAIN, with the same users
# and passwords, is for librdkafka older than 2.6.1 (Debian 12 has 2.0.2): its SCRAM sends a
# nonce that Kafka 4 refuses (librdkafka PR 4895), so it cannot use SCRAM with this broker.
# PLAIN sends the password itself: anywhere but loopback it belongs on a SASL_SSL listener.
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required $(plain_users);
# ACLs are enforced; what no ACL allows is denied. ANONYMOUS is the principal of the PLAINTEXT
# listener (the test suite, the controller) and a super user HERE ONLY: a production broker has
# SASL (over TLS) listeners alone, and its super users are the operators' accounts.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS;User:admin
log.dirs=$hub_kafka_dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
        mv "$props.tmp" "$props"
}

# A KRaft cluster id is 16 random bytes in URL-safe base64 without padding (what
# `StorageTool random-uuid` prints); made here to save one JVM start. Kafka rejects an id whose
# text starts with '-' (it would read as an option), so draw again in that case.
new_cluster_id() {
        local id
        while :; do
                id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
                [[ "$id" != -* ]] && break
        done
        printf '%s\n' "$id"
}

# A password per SCRAM user, one file each (mode 0600), for the storage format to hash: KRaft
# takes SCRAM credentials at format time, which costs no extra JVM start (creating them later
# would need Kafka's Java admin tools or librdkafka >= 2.2, newer than Debian 12's). Hex digits
# only, so that no character needs quoting inside --add-scram's brackets. kafka-storage takes
# them on its command line, which is acceptable for throw-away passwords of a loopback broker.
make_users() {
        rm -rf "$hub_kafka_users_dir"
        mkdir -p "$hub_kafka_users_dir"
        chmod 700 "$hub_kafka_users_dir"
        local u
        for u in $HUB_KAFKA_USERS; do
                [[ "$u" =~ ^[A-Za-z0-9._-]{1,128}$ ]] ||
                        die "HUB_KAFKA_USERS: invalid user name \"$u\""
                (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$hub_kafka_users_dir/$u")
        done
}

# Launch the broker in the background; start_kafka_wait waits for it. Split in two so that
# PostgreSQL starts while the JVM warms up.
start_kafka_launch() {
        mkdir -p "$hub_kafka_dir"
        if hub_kafka_pid >/dev/null; then
                return 0
        fi
        rm -f "$hub_kafka_pid_file"
        if port_busy "$HUB_KAFKA_PORT"; then
                die "port 127.0.0.1:$HUB_KAFKA_PORT is in use by another program:" \
                    "stop it or set HUB_KAFKA_PORT"
        fi
        if port_busy "$HUB_KAFKA_SASL_PORT"; then
                die "port 127.0.0.1:$HUB_KAFKA_SASL_PORT is in use by another program:" \
                    "stop it or set HUB_KAFKA_SASL_PORT"
        fi
        if port_busy "$HUB_KAFKA_CONTROLLER_PORT"; then
                die "port 127.0.0.1:$HUB_KAFKA_CONTROLLER_PORT is in use by another program:" \
                    "stop it or set HUB_KAFKA_CONTROLLER_PORT"
        fi
        local libs
        libs=$(kafka_jars)
        local java_opts=(-Xmx"$HUB_KAFKA_HEAP" -Djava.awt.headless=true
                -Dlog4j2.configurationFile="$hub_here/kafka/log4j2.properties")
        local format=0 scram=()
        if [[ ! -f "$hub_kafka_dir/data/meta.properties" ]]; then
                rm -rf "$hub_kafka_dir/data"
                format=1
                make_users
                local u
                for u in $HUB_KAFKA_USERS; do
                        scram+=(--add-scram
                                "SCRAM-SHA-512=[name=$u,password=$(cat "$hub_kafka_users_dir/$u")]")
                done
        elif [[ ! -d "$hub_kafka_users_dir" ]]; then
                die "the Kafka storage in $hub_kafka_dir/data was formatted without SCRAM users:" \
                    "run $hub_here/stop.sh --purge, then start again"
        fi
        write_kafka_config
        printf '\n==== %s start.sh: starting Kafka %s\n' "$(date -Is)" "$HUB_KAFKA_VERSION" \
                >>"$hub_kafka_log"
        # Formatting costs a JVM start (~1 s), so it runs in the launcher, in parallel with
        # PostgreSQL's initdb; the launcher then becomes the broker by exec, keeping its pid.
        # setsid: the broker must outlive this script and not get the terminal's Ctrl-C.
        (
                if ((format)); then
                        echo "formatting $hub_kafka_dir/data"
                        java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
                                -t "$(new_cluster_id)" -c "$hub_kafka_dir/server.properties" \
                                "${scram[@]}" ||
                                exit 1
                fi
                exec setsid java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka \
                        "$hub_kafka_dir/server.properties"
        ) </dev/null >>"$hub_kafka_log" 2>&1 &
        echo $! >"$hub_kafka_pid_file"
}

# Ready means: the launched process is alive and answers a metadata request through librdkafka
# (kcat), and it is the broker itself by then. kcat waits its whole timeout when nothing listens
# yet, so a cheap TCP connect gates it.
start_kafka_wait() {
        local deadline=$((SECONDS + HUB_START_TIMEOUT)) pid state
        pid=$(head -n 1 "$hub_kafka_pid_file")
        while :; do
                state=$(hub_proc_state "$pid")
                if [[ -z "$state" || "$state" == Z ]]; then
                        die_with_log "$hub_kafka_log" "Kafka broker exited during start-up"
                fi
                if port_busy "$HUB_KAFKA_PORT" &&
                        kcat -L -b "127.0.0.1:$HUB_KAFKA_PORT" -m 5 >/dev/null 2>&1; then
                        hub_kafka_pid >/dev/null ||
                                die "something else answers on 127.0.0.1:$HUB_KAFKA_PORT"
                        return 0
                fi
                if ((SECONDS >= deadline)); then
                        die_with_log "$hub_kafka_log" \
                                "Kafka did not answer metadata on 127.0.0.1:$HUB_KAFKA_PORT" \
                                "within ${HUB_START_TIMEOUT}s (HUB_START_TIMEOUT)"
                fi
                sleep 0.1
        done
}

# PostgreSQL's data and socket folder. It cannot live in the checkout: CI clones into a mode-0700
# `mktemp -d` folder that the postgres user cannot traverse. So it is a folder of its own under
# /tmp, owned by postgres, and its path is recorded in the state for stop.sh and later starts.
pg_prepare_dir() {
        local dir
        dir=$(hub_pg_dir)
        if [[ -z "$dir" || ! -d "$dir" ]]; then
                if [[ -n "$dir" ]]; then
                        mkdir -p "$dir"
                else
                        dir=$(mktemp -d /tmp/hub-pg.XXXXXX)
                fi
                if [[ $EUID -eq 0 ]]; then
                        chown postgres: "$dir"
                fi
        fi
        chmod 0700 "$dir"
        printf '%s\n' "$dir" >"$hub_pg_dir_file"
        printf '%s\n' "$dir"
}

# PostgreSQL itself ignores a postmaster.pid whose process is gone, but not one whose process
# is a zombie (it asks kill(pid, 0) too). Wait a little for PID 1 to reap it, so that the killed
# postmaster's children have time to exit, then drop the lock files of the dead server.
pg_clear_stale_lock() {
        local dir=$1 data=$2 pid i
        [[ -s "$data/postmaster.pid" ]] || return 0
        pid=$(head -n 1 "$data/postmaster.pid")
        [[ "$pid" =~ ^[0-9]+$ ]] || return 0
        for ((i = 0; i < 50; i++)); do
                [[ "$(hub_proc_state "$pid")" == Z ]] || return 0
                sleep 0.1
        done
        rm -f "$data/postmaster.pid" "$dir/.s.PGSQL.$HUB_PG_PORT.lock"
}

start_pg() {
        local dir data log
        dir=$(pg_prepare_dir)
        data=$dir/data
        log=$dir/postgresql.log
        if [[ ! -f "$data/PG_VERSION" ]]; then
                if ! hub_as_pg "$hub_pg_bin/initdb" -D "$data" -A trust -U postgres -E UTF8 \
                        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
                        die_with_log "$dir/initdb.log" "initdb failed in $data"
                fi
        fi
        if ! hub_pg_alive "$data"; then
                pg_clear_stale_lock "$dir" "$data"
                if ! hub_as_pg "$hub_pg_bin/pg_ctl" -D "$data" -l "$log" -w -t "$HUB_START_TIMEOUT" \
                        -o "-k $dir -p $HUB_PG_PORT -c listen_addresses=127.0.0.1 -c fsync=$HUB_PG_FSYNC" \
                        start >/dev/null 2>&1; then
                        die_with_log "$log" "PostgreSQL did not start on 127.0.0.1:$HUB_PG_PORT" \
                                "(port in use? set HUB_PG_PORT)"
                fi
        fi
        local psql=(psql -X -q -h "$dir" -p "$HUB_PG_PORT" -U postgres -v ON_ERROR_STOP=1)
        local have
        if ! have=$("${psql[@]}" -d postgres -tAc \
                "SELECT 1 FROM pg_database WHERE datname = 'hub'" 2>&1); then
                hub_say "$have"
                die_with_log "$log" "PostgreSQL started but does not answer on $dir:$HUB_PG_PORT"
        fi
        if [[ "$have" != 1 ]]; then
                "${psql[@]}" -d postgres -c "CREATE DATABASE hub" >/dev/null ||
                        die_with_log "$log" "could not create database hub"
        fi
}

write_env() {
        cat >"$hub_env_file.tmp" <<EOF
export HUB_PG_DSN='host=127.0.0.1 port=$HUB_PG_PORT dbname=hub user=postgres connect_timeout=10'
export HUB_KAFKA_BROKERS='127.0.0.1:$HUB_KAFKA_PORT'
export HUB_KAFKA_SASL_BROKERS='127.0.0.1:$HUB_KAFKA_SASL_PORT'
export HUB_KAFKA_USERS_DIR='$hub_kafka_users_dir'
EOF
        mv "$hub_env_file.tmp" "$hub_env_file"
        printf 'hub_started_pg_port=%s\nhub_started_kafka_port=%s\nhub_started_kafka_controller_port=%s\nhub_started_kafka_sasl_port=%s\n' \
                "$HUB_PG_PORT" "$HUB_KAFKA_PORT" "$HUB_KAFKA_CONTROLLER_PORT" \
                "$HUB_KAFKA_SASL_PORT" >"$HUB_LOCAL_DIR/ports"
}

main() {
        check_tools
        mkdir -p "$HUB_LOCAL_DIR"
        # The default state folder is inside the checkout; this keeps it out of `git status`.
        [[ -f "$HUB_LOCAL_DIR/.gitignore" ]] || printf '*\n' >"$HUB_LOCAL_DIR/.gitignore"
        start_kafka_launch
        start_pg
        start_kafka_wait
        write_env
        echo "hub-local: ready: PostgreSQL 15 on 127.0.0.1:$HUB_PG_PORT (db hub)," \
                "Kafka $HUB_KAFKA_VERSION on 127.0.0.1:$HUB_KAFKA_PORT (SASL and ACLs on" \
                "$HUB_KAFKA_SASL_PORT);" \
                "eval \"\$($hub_here/env.sh)\""
}

main "$@"
