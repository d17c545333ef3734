#!/usr/bin/env bash
# os-brick compatibility test: OpenStack's os-brick (PyPI "os-brick", pinned, unmodified) attaches
# and detaches volumes through pflex-sdc, the emulated SDC, against a fresh pflex-sim: its
# ScaleIO connector waits for the volume's /dev/disk/by-id/emc-vol-<systemId>-<volumeId> device,
# the bytes written through it are the gateway's, and the device goes with the mapping.
#
#   sudo bash scripts/compat/os-brick.sh
#
# Two of os-brick's routines (scripts/compat/test_os_brick.py):
#   driver-side  cinder's driver maps by the GUID in the connection properties (`sdc_guid`);
#                run here.
#   os-brick     os-brick asks the GUID with an ioctl on /dev/scini (pflex-sdc --scini, through
#                CUSE) and maps and unmaps itself. Run here where the kernel's cuse module
#                loads; elsewhere (this project's machines) inside scripts/vm-run's VM, with this
#                host's Python, the virtualenv and the release binaries packed in.
# PFLEX_OS_BRICK_ROUTINES=name[,name] runs exactly those here (the VM run uses it).
#
# Needs root, loop devices and /dev/fuse; it uses the real /dev/disk/by-id (os-brick looks
# nowhere else) and removes what it made there.
# Environment (all optional): PFLEX_SIM, PFLEX_COMPAT_VENV (default target/compat-venv-os-brick),
# PFLEX_SDC (pflex-sdc binary; its drv_cfg beside it), PYTHON, KEEP_STATE=1. The VM run takes
# the release binaries (cargo build --release -p powerflex-sim -p pflex-sdc).
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
# Where each routine runs.
vm_routines=
if [ -n "${PFLEX_OS_BRICK_ROUTINES:-}" ]; then
    routines=$PFLEX_OS_BRICK_ROUTINES
elif [ -e /dev/cuse ] || modprobe cuse 2>/dev/null; then
    routines=driver-side,os-brick
else
    routines=driver-side
    vm_routines=os-brick
    say "no CUSE here (the cuse module does not load): os-brick's own routine runs in the VM"
fi
scini=()
case ",$routines," in *,os-brick,*) scini=(--scini) ;; esac

compat_start_sim "$VENV/bin/python"

SDC_PID=
stop_sdc() {
    if [ -n "$SDC_PID" ] && kill -0 "$SDC_PID" 2>/dev/null; then
        kill "$SDC_PID"; wait "$SDC_PID" || true
    fi
}
trap 'stop_sdc; compat_cleanup' EXIT
"$SDC" serve --gateway "https://127.0.0.1:$PORT" --password 'Password123!' --ca "$CA" \
    --run-dir "$STATE/sdc" --ip 127.0.0.1 --name os-brick-host "${scini[@]}" >"$STATE/sdc.log" 2>&1 &
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
    PFLEX_OS_BRICK_ROUTINES=$routines "$VENV/bin/python" "$ROOT/scripts/compat/test_os_brick.py" || rc=1
stop_sdc
if [ "$rc" -ne 0 ]; then
    printf '\033[1;31m[%s] FAIL:\033[0m os-brick %s through pflex-sdc (%s)\n' "$COMPAT_TAG" "$OS_BRICK_VERSION" "$routines" >&2
    tail -n 20 "$STATE/sdc.log" >&2 || true
    exit "$rc"
fi
say "PASS: os-brick $OS_BRICK_VERSION attaches and detaches through pflex-sdc ($routines)"
[ -n "$vm_routines" ] || exit 0

# The VM run: this script again, inside the VM, on a copy of the interpreter (the stdlib without
# its tests), the virtualenv and these scripts, each at its path here, so that the virtualenv's
# links and the scripts' #! lines hold there. pflex-sim and pflex-sdc are /work/bin's (release).
PACK=$STATE/vm-pack
root=$PACK/osb/root
py_base=$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')
py_stdlib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
py_exe=$(readlink -f "$VENV/bin/python")
venv_abs=$(cd "$VENV" && pwd)
mkdir -p "$root$py_stdlib" "$root$(dirname "$py_exe")" "$root$venv_abs" "$root$ROOT/scripts/compat"
cp -a "$py_exe" "$root$py_exe"
tar -C "$py_stdlib" --exclude=./test --exclude=./site-packages --exclude='./config-*' --exclude=./idlelib \
    --exclude=./tkinter --exclude=./turtledemo --exclude=./ensurepip --exclude=./lib2to3 -cf - . |
    tar -C "$root$py_stdlib" -xf -
cp -a "$venv_abs/." "$root$venv_abs/"
cp "$ROOT"/scripts/compat/{os-brick.sh,lib.sh,test_os_brick.py} "$root$ROOT/scripts/compat/"
# vm-run copies the libraries of the executable ELF files it ships: extension modules included.
find "$root" -name '*.so*' -type f -exec chmod u+x {} +
# In the VM, each packed piece is linked at its path here (never over what the VM has), and the
# interpreter also under the name the virtualenv links to (python3).
{
    echo "set -e"
    for p in "$py_exe" "$py_stdlib" "$venv_abs" "$ROOT/scripts"; do
        echo "mkdir -p '$(dirname "$p")' && ln -sn '/share/osb/root$p' '$p'"
    done
    echo "[ -e '$py_base/bin/python3' ] || ln -s '$py_exe' '$py_base/bin/python3'"
} >"$PACK/osb/run.sh"
cat >>"$PACK/osb/run.sh" <<EOF
PFLEX_OS_BRICK_ROUTINES=$vm_routines PFLEX_SIM=/work/bin/pflex-sim PFLEX_SDC=/work/bin/pflex-sdc \\
    PFLEX_COMPAT_VENV=$venv_abs bash $ROOT/scripts/compat/os-brick.sh
EOF
cargo build --release --quiet -p powerflex-sim --bin pflex-sim -p pflex-sdc || die "cargo build --release failed"
say "packed $(du -sh "$PACK" | cut -f1) for the VM; running os-brick's own routine there"
"$ROOT/scripts/vm-run" --mem 3072 --timeout 900 --share "$PACK/osb" -- "bash /share/osb/run.sh" || rc=$?
[ "$rc" -eq 0 ] || die "os-brick's own routine failed in the VM (exit $rc)"
say "PASS: os-brick $OS_BRICK_VERSION's own routine (GUID by /dev/scini ioctl, its own mapping) in the VM"
