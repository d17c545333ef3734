#!/bin/sh
# End-to-end smoke test of the kernel NVMe/TCP target and host, as the
# emulator will drive them. Meant for the throwaway VM:
#
#   scripts/vm-run --share scripts/vm -- sh /share/vm/smoke-nvmet.sh
#
# (It also runs as root on any Linux host whose kernel has nvmet, nvmet-tcp and
# nvme-tcp, but it then changes that host's nvmet configuration while it runs.)
#
# Steps: a sparse backing file on scratch space -> loop device -> nvmet
# namespace with a fixed NGUID and a zero UUID -> subsystem that only our host
# NQN may use -> TCP port on 127.0.0.2:4420. Then, as the host: discovery shows
# our subsystem and not a decoy subsystem of another host, another host NQN is
# refused, connect, find the namespace by its sysfs wwid (eui.<nguid>), write
# through /dev/nvmeXnY and find the bytes in the backing file. Finally tear
# everything down in reverse order. Exits non-zero at the first failure.
set -eu

ADDR=${SMOKE_ADDR:-127.0.0.2}
PORT=${SMOKE_PORT:-4420}
SUB=nqn.2024-01.io.pflex:smoke-$$
DECOY=nqn.2024-01.io.pflex:decoy-$$
NGUID=${SMOKE_NGUID:-6d7f3a1c2b5e4f80a1b2c3d4e5f60718}
ZERO_UUID=00000000-0000-0000-0000-000000000000
OTHER_HOST=nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444
SCRATCH=${PFLEX_SCRATCH:-/tmp}
CFG=/sys/kernel/config/nvmet
portid=$((10000 + $$ % 50000))

t0=$(cut -d' ' -f1 /proc/uptime)
step() { echo "== $*"; }
ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# --- prerequisites (already done inside the VM; needed on a real host)
for m in nvmet nvmet-tcp nvme-tcp loop; do
    modprobe "$m" 2>/dev/null || true
done
grep -qs " /sys/kernel/config " /proc/mounts ||
    mount -t configfs configfs /sys/kernel/config
[ -d "$CFG" ] || fail "no $CFG (nvmet not loaded?)"
if [ ! -s /etc/nvme/hostnqn ]; then
    mkdir -p /etc/nvme
    u=$(cat /proc/sys/kernel/random/uuid)
    echo "nqn.2014-08.org.nvmexpress:uuid:$u" >/etc/nvme/hostnqn
    echo "$u" >/etc/nvme/hostid
fi
HOSTNQN=$(cat /etc/nvme/hostnqn)
HOSTID=$(cat /etc/nvme/hostid 2>/dev/null || cat /proc/sys/kernel/random/uuid)
echo "host NQN $HOSTNQN"

# --- backing store: sparse file bigger than the scratch fs's free RAM
step "sparse backing file and loop device"
img=$SCRATCH/smoke-$$.img
truncate -s 16G "$img"
[ "$(du -k "$img" | cut -f1)" -lt 1024 ] || fail "backing file is not sparse"
loopdev=$(losetup -f --show "$img")
ok "$img (16 GiB, sparse) on $loopdev"

cleanup() {
    set +e
    nvme disconnect -n "$SUB" >/dev/null 2>&1
    rm -f "$CFG/ports/$portid/subsystems/$SUB" "$CFG/ports/$portid/subsystems/$DECOY"
    rmdir "$CFG/ports/$portid" 2>/dev/null
    for s in "$SUB" "$DECOY"; do
        [ -d "$CFG/subsystems/$s" ] || continue
        [ -d "$CFG/subsystems/$s/namespaces/1" ] && {
            echo 0 >"$CFG/subsystems/$s/namespaces/1/enable"
            rmdir "$CFG/subsystems/$s/namespaces/1"
        }
        rm -f "$CFG/subsystems/$s/allowed_hosts/"*
        rmdir "$CFG/subsystems/$s"
    done
    rmdir "$CFG/hosts/$HOSTNQN" "$CFG/hosts/$OTHER_HOST" 2>/dev/null
    losetup -d "$loopdev" 2>/dev/null
    rm -f "$img"
}
trap cleanup EXIT

# --- target side, through configfs
step "nvmet configuration"
mkdir "$CFG/hosts/$HOSTNQN" "$CFG/hosts/$OTHER_HOST"
for s in "$SUB" "$DECOY"; do
    mkdir "$CFG/subsystems/$s"
    echo 0 >"$CFG/subsystems/$s/attr_allow_any_host"
done
ln -s "$CFG/hosts/$HOSTNQN" "$CFG/subsystems/$SUB/allowed_hosts/$HOSTNQN"
ln -s "$CFG/hosts/$OTHER_HOST" "$CFG/subsystems/$DECOY/allowed_hosts/$OTHER_HOST"
ns=$CFG/subsystems/$SUB/namespaces/1
mkdir "$ns"
echo "$loopdev" >"$ns/device_path"
# Identity must be set before enable; a zero UUID makes the host's wwid
# eui.<nguid> instead of uuid.<random>.
echo "$NGUID" >"$ns/device_nguid"
echo "$ZERO_UUID" >"$ns/device_uuid"
echo 1 >"$ns/enable"
ok "namespace 1 of $SUB: nguid $(cat "$ns/device_nguid"), uuid $(cat "$ns/device_uuid")"
# Port attributes first: the first subsystem link enables the port and locks them.
p=$CFG/ports/$portid
mkdir "$p"
echo tcp >"$p/addr_trtype"
echo ipv4 >"$p/addr_adrfam"
echo "$ADDR" >"$p/addr_traddr"
echo "$PORT" >"$p/addr_trsvcid"
ln -s "$CFG/subsystems/$SUB" "$p/subsystems/$SUB"
ln -s "$CFG/subsystems/$DECOY" "$p/subsystems/$DECOY"
ok "port $portid: tcp $ADDR:$PORT"

# --- host side
step "discovery"
disc=$(nvme discover -t tcp -a "$ADDR" -s "$PORT" --hostnqn "$HOSTNQN" --hostid "$HOSTID")
echo "$disc" | sed 's/^/    /'
echo "$disc" | grep -q "subnqn: *$SUB\$" || fail "discovery does not list $SUB"
! echo "$disc" | grep -q "$DECOY" || fail "discovery lists $DECOY, which our host may not use"
ok "discovery lists $SUB and hides $DECOY"

step "access control"
if nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUB" --hostnqn "$OTHER_HOST" \
    --hostid 00000000-1111-2222-3333-444444444444 >/dev/null 2>&1; then
    fail "host $OTHER_HOST could connect to $SUB"
fi
ok "another host NQN is refused"

step "connect"
nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$SUB" --hostnqn "$HOSTNQN" --hostid "$HOSTID"
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
    for w in /sys/block/nvme*n*/wwid; do
        [ -f "$w" ] && [ "$(cat "$w")" = "eui.$NGUID" ] && dev=$(basename "$(dirname "$w")")
    done
    [ -n "$dev" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$dev" ] || {
    grep -H . /sys/block/nvme*n*/wwid >&2 || true
    fail "no block device with wwid eui.$NGUID"
}
ok "/dev/$dev: wwid $(cat "/sys/block/$dev/wwid"), size $(($(cat "/sys/block/$dev/size") / 2097152)) GiB"
[ "$(cat "/sys/block/$dev/size")" -eq $((16 * 2097152)) ] || fail "size mismatch"
nvme list 2>/dev/null | sed 's/^/    /' || true

step "write through /dev/$dev"
pattern=$SCRATCH/smoke-pattern-$$
head -c 1048576 /dev/urandom >"$pattern"
# 1 MiB at offset 5 GiB, flushed through the whole stack.
dd if="$pattern" of="/dev/$dev" bs=1M seek=5120 conv=fsync 2>/dev/null
sync
dd if="$img" of="$pattern.back" bs=1M skip=5120 count=1 2>/dev/null
cmp "$pattern" "$pattern.back" || fail "backing file differs from what was written"
ok "backing file holds the bytes: $(sha256sum <"$pattern" | cut -c1-16)..."
rm -f "$pattern" "$pattern.back"

step "disconnect and tear down"
nvme disconnect -n "$SUB" | sed 's/^/    /'
cleanup
trap - EXIT
[ ! -e "$CFG/subsystems/$SUB" ] || fail "teardown left $SUB behind"
ok "configfs clean"

t1=$(cut -d' ' -f1 /proc/uptime)
echo "PASS smoke-nvmet ($(echo "$t1 $t0" | awk '{printf "%.1f", $1 - $2}') s)"
