#!/usr/bin/env bash
# PyPowerFlex compatibility test: Dell's official Python SDK (PyPI "PyPowerFlex", pinned,
# unmodified) drives a freshly started pflex-sim over HTTPS with certificate verification.
#
#   bash scripts/compat/pypowerflex.sh
#
# Environment (all optional):
#   PFLEX_SIM          simulator binary to use (default: `cargo build -p powerflex-sim`, then
#                      target/debug/pflex-sim)
#   PFLEX_COMPAT_VENV  virtualenv cache (default: target/compat-venv)
#   PYTHON             interpreter used to create the venv (default: python3)
#   PFLEX_SIM_ARGS     extra `pflex-sim serve` flags, word-split (e.g. "--data-plane file")
#   PFLEX_SDK_LOG      SDK log level (default CRITICAL; ERROR/DEBUG to see its logs)
#   KEEP_STATE=1       keep the simulator's temporary state dir and log
#
# Exits non-zero if anything fails (setup, server start, or any check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PYPOWERFLEX_VERSION=2.0.1          # latest on PyPI when this test was written
VENV=${PFLEX_COMPAT_VENV:-$ROOT/target/compat-venv}
PY=${PYTHON:-python3}

say() { printf '\033[1m[compat]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[compat] FAIL:\033[0m %s\n' "$*" >&2; exit 1; }

# ---- 1. virtualenv with the pinned SDK (cached; reinstalled only if the pin changes) ----
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$PY" -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
have=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("PyPowerFlex"))' 2>/dev/null || true)
if [ "$have" != "$PYPOWERFLEX_VERSION" ]; then
    say "installing PyPowerFlex==$PYPOWERFLEX_VERSION"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "PyPowerFlex==$PYPOWERFLEX_VERSION" \
        || die "pip install PyPowerFlex==$PYPOWERFLEX_VERSION failed"
fi
say "PyPowerFlex $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("PyPowerFlex"))') in $VENV"

# ---- 2. the simulator binary ----
if [ -n "${PFLEX_SIM:-}" ]; then
    SIM=$PFLEX_SIM
else
    say "building pflex-sim (cargo build -p powerflex-sim)"
    cargo build --quiet -p powerflex-sim || die "cargo build -p powerflex-sim failed"
    SIM=$ROOT/target/debug/pflex-sim
fi
[ -x "$SIM" ] || die "simulator binary not found: $SIM"

# ---- 3. start our own simulator on a free loopback port with a temporary state dir ----
STATE=$(mktemp -d "${TMPDIR:-/tmp}/pflex-compat.XXXXXX")
LOG=$STATE/server.log
SIM_PID=
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    rc=$?
    if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -s "$LOG" ]; then
        echo "---- last lines of the simulator log ($LOG) ----" >&2
        tail -n 30 "$LOG" >&2 || true
    fi
    if [ "${KEEP_STATE:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        echo "[compat] simulator state and log kept in $STATE" >&2
    else
        rm -rf "$STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
say "starting $SIM on 127.0.0.1:$PORT (state $STATE)"
# shellcheck disable=SC2086  # PFLEX_SIM_ARGS is meant to be word-split
"$SIM" serve --listen "127.0.0.1:$PORT" --state-dir "$STATE" --seed 1 ${PFLEX_SIM_ARGS:-} >"$LOG" 2>&1 &
SIM_PID=$!

CA=$STATE/tls/ca.pem
ready=0
for _ in $(seq 1 150); do          # up to ~30 s
    kill -0 "$SIM_PID" 2>/dev/null || die "simulator exited during start-up"
    if [ -s "$CA" ] && "$VENV/bin/python" - "$PORT" "$CA" <<'EOF' 2>/dev/null
import sys, requests
r = requests.get(f"https://127.0.0.1:{sys.argv[1]}/api/login", auth=("x", "y"), verify=sys.argv[2], timeout=2)
sys.exit(0 if r.status_code in (200, 401) else 1)
EOF
    then ready=1; break; fi
    sleep 0.2
done
[ "$ready" = 1 ] || die "simulator did not answer on 127.0.0.1:$PORT within 30 s"
sed -n '1,8p' "$LOG"

# ---- 4. run the SDK test ----
set +e
PFLEX_HOST=127.0.0.1 PFLEX_PORT=$PORT PFLEX_USER=admin PFLEX_PASSWORD='Password123!' PFLEX_CA=$CA \
    "$VENV/bin/python" "$ROOT/scripts/compat/test_pypowerflex.py"
rc=$?
set -e

echo
if [ "$rc" -eq 0 ]; then
    say "PASS: PyPowerFlex $PYPOWERFLEX_VERSION works against pflex-sim"
else
    printf '\033[1;31m[compat] FAIL:\033[0m PyPowerFlex %s against pflex-sim (see FAILED lines above)\n' "$PYPOWERFLEX_VERSION" >&2
fi
exit "$rc"
