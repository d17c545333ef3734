#!/usr/bin/env bash
# Runs the simulator from source on its embedded default topology (or with the flags given),
# installing the build's own needs first. Usage: scripts/serve.sh [pflex-sim serve flags]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
    # The loopdev crate (data plane) generates its bindings with bindgen at build time.
    echo "pflex: installing libclang-dev (needed to build the loop-device bindings)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev
fi
exec cargo run --quiet --release -p powerflex-sim --bin pflex-sim -- serve "$@"
