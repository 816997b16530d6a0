#!/usr/bin/env bash
# Install the Debian 12 packages the hub builds and tests with. Idempotent: when every package
# is already installed it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
        meson ninja-build pkg-config gcc
        librdkafka-dev libavro-dev libsodium-dev libpq-dev libjansson-dev libcmocka-dev
        libutf8proc-dev libidn2-dev libpsl-dev publicsuffix libmicrohttpd-dev libinih-dev
        libcsv-dev
        clang libclang-rt-14-dev # libFuzzer: tests/fuzz, built with -Dfuzz=true
        valgrind # memcheck for the unit suite: meson test --setup valgrind
        postgresql openjdk-17-jre-headless openjdk-17-jdk-headless maven kcat python3 python3-cryptography
        iproute2 # ss: deploy/local/start.sh asks which ports listen
)

missing=()
for p in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
                echo "install-deps: need root to install: ${missing[*]}" >&2
                exit 1
        }
        sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
# The Debian postgresql package starts a system cluster; the hub never uses it (deploy/local
# runs a throw-away one), but installing it is the simplest way to get the server binaries.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
