#!/usr/bin/env bash
# os-brick compatibility test: OpenStack's os-brick (PyPI "os-brick", pinned, unmodified) attaches
# and detaches a volume through pflex-sdc, the emulated SDC, against a fresh pflex-sim: its
# ScaleIO connector waits for the volume's /dev/disk/by-id/emc-vol-<systemId>-<volumeId> device,
# the bytes written through it are the gateway's, and the device goes with the mapping.
#
#   sudo bash scripts/compat/os-brick.sh
#
# The volume is mapped by GUID as cinder's PowerFlex driver does when the connector properties
# carry the SDC's GUID (`sdc_guid`): os-brick's own mapping path first asks the GUID with an
# ioctl on /dev/scini, which needs CUSE, which this machine lacks (FIDELITY.md).
#
# Needs root, loop devices and /dev/fuse; it uses the real /dev/disk/by-id (os-brick looks
# nowhere else) and removes what it made there.
# Environment (all optional): PFLEX_SIM, PFLEX_COMPAT_VENV (default target/compat-venv-os-brick),
# PFLEX_SDC (pflex-sdc binary; its drv_cfg beside it), PYTHON, KEEP_STATE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

OS_BRICK_VERSION=7.1.1             # latest on PyPI when this test was written
VENV=${PFLEX_COMPAT_VENV:-$ROOT/target/compat-venv-os-brick}
COMPAT_TAG=compat-os-brick
# shellcheck source=scripts/compat/lib.sh
. "$ROOT/scripts/compat/lib.sh"

[ "$(id -u)" = 0 ] || die "needs root (pflex-sdc attaches loop devices and mounts FUSE)"
[ -e /dev/fuse ] && [ -e /dev/loop-control ] || die "needs /dev/fuse and /dev/loop-control"
[ -e /dev/scini ] && die "/dev/scini exists: a real SDC is installed here; not running beside it"

compat_venv "$VENV" "os-brick==$OS_BRICK_VERSION"
compat_sim_binary pflex-sim
if [ -n "${PFLEX_SDC:-}" ]; then
    SDC=$PFLEX_SDC
else
    say "building pflex-sdc (cargo build -p pflex-sdc)"
    cargo build --quiet -p pflex-sdc || die "cargo build -p pflex-sdc failed"
    SDC=$ROOT/target/debug/pflex-sdc
fi
compat_start_sim "$VENV/bin/python"

SDC_PID=
stop_sdc() {
    if [ -n "$SDC_PID" ] && kill -0 "$SDC_PID" 2>/dev/null; then
        kill "$SDC_PID"; wait "$SDC_PID" || true
    fi
}
trap 'stop_sdc; compat_cleanup' EXIT
"$SDC" serve --gateway "https://127.0.0.1:$PORT" --password 'Password123!' --ca "$CA" \
    --run-dir "$STATE/sdc" --ip 127.0.0.1 --name os-brick-host >"$STATE/sdc.log" 2>&1 &
SDC_PID=$!
"$SDC" install --prefix "$STATE/sdc-root" --run-dir "$STATE/sdc" >/dev/null
DRV_CFG=$STATE/sdc-root/opt/emc/scaleio/sdc/bin/drv_cfg
for _ in $(seq 150); do
    "$DRV_CFG" --query_guid >/dev/null 2>&1 && break
    kill -0 "$SDC_PID" 2>/dev/null || { cat "$STATE/sdc.log" >&2; die "pflex-sdc exited during start-up"; }
    sleep 0.2
done
say "pflex-sdc joined as GUID $("$DRV_CFG" --query_guid)"

rc=0
PYTHONDONTWRITEBYTECODE=1 PFLEX_PORT=$PORT PFLEX_CA=$CA PFLEX_DRV_CFG=$DRV_CFG OSLO_LOCK_PATH=$STATE/locks \
    "$VENV/bin/python" "$ROOT/scripts/compat/test_os_brick.py" || rc=1
stop_sdc
if [ "$rc" -eq 0 ]; then
    say "PASS: os-brick $OS_BRICK_VERSION attaches and detaches through pflex-sdc"
else
    printf '\033[1;31m[%s] FAIL:\033[0m os-brick %s through pflex-sdc\n' "$COMPAT_TAG" "$OS_BRICK_VERSION" >&2
    tail -n 20 "$STATE/sdc.log" >&2 || true
fi
exit "$rc"
