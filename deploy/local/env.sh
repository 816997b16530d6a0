#!/usr/bin/env bash
# Print the settings of the running local services as shell exports, for
#   eval "$(deploy/local/env.sh)"
# or, when sourced (`. deploy/local/env.sh`), export them into the current shell.
# HUB_PG_DSN: a libpq conninfo string to database hub; HUB_KAFKA_BROKERS: the bootstrap list
# (PLAINTEXT); HUB_KAFKA_SASL_BROKERS: the SASL/SCRAM listener, where ACLs apply;
# HUB_KAFKA_USERS_DIR: one password file per SCRAM user (for HUB_KAFKA_PASSWORD_FILE).
# Fails (exit 1, nothing on stdout) when start.sh has not written them.

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
        # Sourced: run as a program in a child so that neither lib.sh's variables nor set -e
        # leak into the caller's shell.
        eval "$(bash "${BASH_SOURCE[0]}")"
        return
fi

set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -s "$hub_env_file" ]]; then
        hub_say "error: no local services recorded in $HUB_LOCAL_DIR: run $hub_here/start.sh"
        exit 1
fi
cat "$hub_env_file"
