#!/usr/bin/env bash
# The main job on the shipped sample data, from nothing: install the Debian packages, build,
# start the local PostgreSQL and Kafka, and run deploy/main-job.sh (five agency connectors
# publish, hubd consolidates, a subscriber materialises, a summary is printed).
# The services keep running afterwards (deploy/local/stop.sh stops them).
# usage: deploy/demo.sh [SOURCE.jsonl]   (default tests/data/agency_sample.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
if [ ! -f build/build.ninja ]; then
        meson setup build >/dev/null
fi
ninja -C build >/dev/null || { ninja -C build; exit 1; }
deploy/local/start.sh
eval "$(deploy/local/env.sh)"
exec deploy/main-job.sh build "$@"
