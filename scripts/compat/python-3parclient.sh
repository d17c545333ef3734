#!/usr/bin/env bash
# python-3parclient compatibility test: HPE's Python client for the 3PAR/Primera/Alletra WSAPI
# (PyPI "python-3parclient", pinned, unmodified; the client Cinder's HPE drivers use) drives a
# freshly started alletra-sim over HTTPS with certificate verification.
#
#   bash scripts/compat/python-3parclient.sh
#
# Environment (all optional):
#   ALLETRA_SIM          emulator binary (default: `cargo build -p powerflex-sim --bin alletra-sim`)
#   PFLEX_COMPAT_3PAR_VENV  virtualenv cache (default: target/compat-3par-venv)
#   PYTHON               interpreter used to create the venv (default: python3)
#   PFLEX_SIM_ARGS       extra `alletra-sim serve` flags, word-split
#   KEEP_STATE=1         keep the emulator's temporary state dir and log
#
# Exits non-zero if anything fails (setup, server start, or any check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# python-3parclient 4.4 (latest on PyPI) imports requests, paramiko and eventlet but declares
# none of them, so they are pinned here too, at the releases this test was written with.
P3C_VERSION=4.4
PINS=("python-3parclient==$P3C_VERSION" "requests==2.32.3" "paramiko==5.1.0" "eventlet==0.41.3")
VENV=${PFLEX_COMPAT_3PAR_VENV:-$ROOT/target/compat-3par-venv}
COMPAT_TAG=compat-3par
# shellcheck source=scripts/compat/lib.sh
. "$ROOT/scripts/compat/lib.sh"

compat_venv "$VENV" "${PINS[@]}"
compat_sim_binary alletra-sim
compat_start_sim "$VENV/bin/python"
sed -n '1,8p' "$LOG"

rc=0
# eventlet warns on import that it is deprecated; that is the client's dependency, not ours.
PYTHONWARNINGS=ignore PYTHONDONTWRITEBYTECODE=1 \
    ALLETRA_URL="https://127.0.0.1:$PORT/api/v1" ALLETRA_USER=3paradm ALLETRA_PASSWORD=3pardata ALLETRA_CA=$CA \
    "$VENV/bin/python" "$ROOT/scripts/compat/test_python_3parclient.py" || rc=1

echo
if [ "$rc" -eq 0 ]; then
    say "PASS: python-3parclient $P3C_VERSION works against alletra-sim"
else
    printf '\033[1;31m[%s] FAIL:\033[0m python-3parclient %s against alletra-sim (see FAILED lines above)\n' "$COMPAT_TAG" "$P3C_VERSION" >&2
fi
exit "$rc"
