# shellcheck shell=bash
# Shared by the compatibility tests (sourced, not run): a virtualenv holding pinned packages,
# an emulator binary (pflex-sim or alletra-sim), and a fresh emulator on a free loopback port
# that is stopped (its state removed unless something failed) when the calling script exits.
#
# The caller sets `set -euo pipefail`, ROOT (the repository) and COMPAT_TAG (message prefix).
# Environment read here (all optional):
#   PFLEX_SIM       pflex-sim binary (default: `cargo build -p powerflex-sim`, target/debug/pflex-sim)
#   ALLETRA_SIM     alletra-sim binary (default: built the same way)
#   PFLEX_SIM_ARGS  extra `serve` flags, word-split
#   PYTHON          interpreter that creates a virtualenv (default: python3)
#   KEEP_STATE=1    keep the emulator's state dir and log after a success too

say() { printf '\033[1m[%s]\033[0m %s\n' "$COMPAT_TAG" "$*"; }
die() { printf '\033[1;31m[%s] FAIL:\033[0m %s\n' "$COMPAT_TAG" "$*" >&2; exit 1; }

# compat_venv DIR NAME==VERSION...: DIR is a virtualenv with exactly these releases. Created once
# and reused; pip runs only when one of the pins is not what is installed.
compat_venv() {
    local venv=$1 spec have stale=0
    shift
    if [ ! -x "$venv/bin/python" ]; then
        say "creating virtualenv $venv"
        "${PYTHON:-python3}" -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    for spec in "$@"; do
        have=$("$venv/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' \
            "${spec%%==*}" 2>/dev/null || true)
        [ "$have" = "${spec#*==}" ] || stale=1
    done
    if [ "$stale" = 1 ]; then
        say "installing $* into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
            || die "pip install $* failed"
    fi
}

# compat_sim_binary [BIN]: sets SIM to the emulator BIN (default pflex-sim): $PFLEX_SIM or
# $ALLETRA_SIM when set, else the debug build.
compat_sim_binary() {
    local bin=${1:-pflex-sim} given
    case $bin in
        pflex-sim) given=${PFLEX_SIM:-} ;;
        alletra-sim) given=${ALLETRA_SIM:-} ;;
        *) die "unknown emulator $bin" ;;
    esac
    if [ -n "$given" ]; then
        SIM=$given
    else
        say "building $bin (cargo build -p powerflex-sim --bin $bin)"
        cargo build --quiet -p powerflex-sim --bin "$bin" || die "cargo build -p powerflex-sim --bin $bin failed"
        SIM=$ROOT/target/debug/$bin
    fi
    [ -x "$SIM" ] || die "emulator binary not found: $SIM"
}

# compat_start_sim PYTHON: starts $SIM on a free 127.0.0.1 port with a temporary state dir and
# waits until its `/sim/health` answers over verified HTTPS (PYTHON must have `requests`). Sets STATE, LOG,
# PORT, CA and SIM_PID, and installs the EXIT trap that stops it.
compat_start_sim() {
    local py=$1 ready=0
    STATE=$(mktemp -d "${TMPDIR:-/tmp}/pflex-compat.XXXXXX")
    LOG=$STATE/server.log
    CA=$STATE/tls/ca.pem
    SIM_PID=
    trap compat_cleanup EXIT
    trap 'exit 130' INT TERM
    PORT=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    say "starting $SIM on 127.0.0.1:$PORT (state $STATE)"
    # shellcheck disable=SC2086  # PFLEX_SIM_ARGS is meant to be word-split
    "$SIM" serve --listen "127.0.0.1:$PORT" --state-dir "$STATE" --seed 1 ${PFLEX_SIM_ARGS:-} >"$LOG" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 1 150); do          # up to ~30 s
        kill -0 "$SIM_PID" 2>/dev/null || die "$SIM exited during start-up"
        if [ -s "$CA" ] && "$py" - "$PORT" "$CA" <<'EOF' 2>/dev/null
import sys, requests
r = requests.get(f"https://127.0.0.1:{sys.argv[1]}/sim/health", verify=sys.argv[2], timeout=2)
sys.exit(0 if r.status_code == 200 else 1)
EOF
        then ready=1; break; fi
        sleep 0.2
    done
    [ "$ready" = 1 ] || die "$SIM did not answer on 127.0.0.1:$PORT within 30 s"
}

# shellcheck disable=SC2317  # invoked through the EXIT trap
compat_cleanup() {
    local rc=$?
    if [ -n "${SIM_PID:-}" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -s "${LOG:-}" ]; then
        echo "---- last lines of the emulator log ($LOG) ----" >&2
        tail -n 30 "$LOG" >&2 || true
    fi
    if [ -n "${STATE:-}" ]; then
        if [ "${KEEP_STATE:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
            echo "[$COMPAT_TAG] emulator state and log kept in $STATE" >&2
        else
            rm -rf "$STATE"
        fi
    fi
    exit "$rc"
}
