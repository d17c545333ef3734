#!/usr/bin/env bash
# scripts/test-nvmet-e2e.sh - NVMe/TCP and iSCSI end to end, with the real kernel targets and
# initiators.
#
# Builds the release binaries (pflex-sim, alletra-sim, pflex-conformance, pflex-sdc, drv_cfg) and
# seven test binaries, then runs ten stages with scripts/vm/nvmet-e2e-stages.sh, in one throwaway VM with nvmet, nvmet-tcp,
# nvme-tcp and nvme-cli, and LIO, iscsi_tcp and open-iscsi (scripts/vm-run):
#   1. simulator/tests/dataplane_nvmet.rs: `pflex-sim serve --data-plane auto|nvmet` as a
#      process; registers the VM's host NQN, maps a volume, discovers and connects with
#      nvme-cli, finds the namespace by its EUI (sysfs wwid: the VM has no udev), writes,
#      snapshots, overwrites, resizes; unmaps while connected (the device goes at once, the
#      host no longer discovers the subsystem), checks a second host sees nothing, that a
#      failed export leaves nothing behind, that removing the host removes its subsystem,
#      and clean-stop and crash-restart cleanup.
#   2. simulator/tests/dataplane_lio.rs: the LIO plane's configfs (simulator/src/dataplane/lio.rs)
#      with two ports on 127.0.0.1:3260 and 127.0.0.2:3260, two volumes and three initiator
#      IQNs (open-iscsi interfaces): discovery, login, the disks found by their NAA WWN in
#      sysfs at the vLUN's LUN, bytes both ways between disk and backing file, a host without
#      an ACL refused, another host's LUN never visible, resize, unexport while logged in,
#      logout, and a teardown that leaves only what is not ours.
#   3. simulator/tests/dataplane_alletra.rs: `alletra-sim serve --data-plane auto` as a process
#      with its NVMe ports through nvmet and its iSCSI ports through LIO: a volume exported to
#      an NVMe host (nvme-cli, found by EUI) and one to an iSCSI host (iscsiadm, found by NAA
#      WWN at its LUN), bytes compared with /sim/volumes/{name}/data?host=, virtual copies
#      exported and read, promote under live devices, a refused delete of an exported volume,
#      unexport, and a clean stop leaving nothing in configfs.
#   4. driver/tests/alletra_kernel.rs: the Alletra driver against in-process alletra-sim with
#      the kernel plane, through the nvme and the iscsi connector: write, snapshot, restore,
#      copy with a snapshot, each read through an attached device.
#   5. driver/tests/nvme.rs with PFLEX_REQUIRE_NVME=1: the driver's data test (attach, write,
#      snapshot, restore, both kinds of copy, detach) through the nvme connector.
#   6. `pflex-conformance run --data nvme` against `pflex-sim serve --data-plane nvmet`,
#      PFLEX_E2E_CONFORMANCE_CASES (default 6) cases of at most
#      PFLEX_E2E_CONFORMANCE_MAX_STEPS (10) steps, seed PFLEX_E2E_CONFORMANCE_SEED (default
#      random, printed). Separate from scripts/test-conformance.sh's PFLEX_CONFORMANCE_*:
#      every host copy moves 8 GiB through NVMe/TCP here, which is slow in an emulated VM.
#   7. `pflex-conformance run --array alletra --data nvme` against `alletra-sim serve
#      --data-plane nvmet`, with the same cases, steps and seed: the Alletra driver's
#      alletra.mode=nvme attach reads every checked slot through the kernel.
#   8. simulator/tests/path_failover.rs: `pflex-sim serve --data-plane nvmet`, a host connected
#      to one volume through sdt1 and sdt2 with the kernel's native NVMe multipath (round-robin)
#      writes continuously with O_DIRECT while `POST /sim/faults/paths/sdt1` takes sdt1's
#      listeners down for six seconds (moving its discovery port meanwhile, which leaves its
#      NVMe listener down) and brings them back: no write fails, the path leaves
#      `live` and comes back, the other path carries the writes meanwhile, and every block
#      read back through the device and at the array is its last write.
#   9. `pflex-conformance run --array alletra --data iscsi` against `alletra-sim serve
#      --data-plane nvmet` (its iSCSI ports through LIO): the driver's alletra.mode=iscsi attach
#      through iscsiadm, PFLEX_E2E_CONFORMANCE_ISCSI_CASES (default 2) cases besides the fixed
#      LXD flows, same steps and seed as stage 6.
#  10. sdc/tests/scini.rs: `pflex-sdc serve --scini` serving /dev/scini through CUSE: the GUID
#      and rescan ioctls with LXD's/goscaleio's and os-brick's buffers, a second device refused,
#      the device gone at stop, and the driver's attach round trip in powerflex.mode=sdc with
#      the GUID from /dev/scini.
#
# Where nvmet and LIO work natively (root, `modprobe` of nvmet, nvmet-tcp, nvme-tcp,
# target_core_file, iscsi_target_mod, iscsi_tcp, fuse and cuse succeeds, iscsiadm installed), the stages
# run on this machine instead of in a VM (PFLEX_E2E_NATIVE=1|0 forces the choice); iscsid must
# then be running. PFLEX_E2E_ONLY=NAME[,NAME...] (stage names as printed: simulator, lio,
# alletra, alletra-driver, driver, conformance, alletra-conformance, failover,
# alletra-iscsi-conformance, sdc) runs only those, to repeat one while working on it.
#
# Fails loudly (non-zero exit) when the VM cannot run, when a stage fails, or when a stage
# exited 0 without actually running.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}

# The path of the test binary cargo builds for `cargo test --release -p $1 --test $2`.
test_binary() {
    local bin
    bin=$(cargo test --release -p "$1" --test "$2" --no-run --message-format=json 2>/dev/null \
        | grep -o "\"executable\":\"[^\"]*/$2-[^\"]*\"" | tail -n1 | cut -d'"' -f4)
    [[ -n $bin && -x $bin ]] || { echo "test-nvmet-e2e: could not find the built test binary $1/$2" >&2; return 1; }
    echo "$bin"
}

echo "test-nvmet-e2e: building release binaries and the tests" >&2
cargo build --release -p powerflex-sim --bin pflex-sim --bin alletra-sim -p powerflex-conformance --bin pflex-conformance \
    -p pflex-sdc --bin pflex-sdc --bin drv_cfg
cargo test --release -p powerflex-sim --test dataplane_nvmet --test dataplane_lio --test dataplane_alletra --test path_failover --no-run
cargo test --release -p powerflex-driver --test nvme --test alletra_kernel --no-run
cargo test --release -p pflex-sdc --test scini --no-run
bins=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$log" "$bins"' EXIT
mkdir "$bins/e2e"
cp "$(test_binary powerflex-sim dataplane_nvmet)" "$bins/e2e/dataplane_nvmet"
cp "$(test_binary powerflex-sim dataplane_lio)" "$bins/e2e/dataplane_lio"
cp "$(test_binary powerflex-sim dataplane_alletra)" "$bins/e2e/dataplane_alletra"
cp "$(test_binary powerflex-sim path_failover)" "$bins/e2e/path_failover"
cp "$(test_binary powerflex-driver nvme)" "$bins/e2e/nvme"
cp "$(test_binary powerflex-driver alletra_kernel)" "$bins/e2e/alletra_kernel"
cp "$(test_binary pflex-sdc scini)" "$bins/e2e/scini"
cp "$repo/scripts/vm/nvmet-e2e-stages.sh" "$bins/e2e/stages.sh"

status=0
native=${PFLEX_E2E_NATIVE:-auto}
native_modules=(nvmet nvmet-tcp nvme-tcp target_core_mod target_core_file iscsi_target_mod iscsi_tcp fuse cuse)
if [[ $native == auto ]]; then
    # Native where this kernel can load the modules (a laptop, a CI runner with
    # linux-modules-extra); in the VM where it cannot (this project's own machines).
    if [[ $EUID == 0 ]] && command -v iscsiadm >/dev/null &&
        modprobe -a "${native_modules[@]}" 2>/dev/null; then native=1; else native=0; fi
    echo "test-nvmet-e2e: $( ((native)) && echo "nvmet and LIO load natively: running here" || echo "no native nvmet or LIO: running in the VM")" >&2
fi
conf_env="PFLEX_CONFORMANCE_CASES=${PFLEX_E2E_CONFORMANCE_CASES:-6} PFLEX_CONFORMANCE_MAX_STEPS=${PFLEX_E2E_CONFORMANCE_MAX_STEPS:-10}"
conf_env+=" PFLEX_CONFORMANCE_ISCSI_CASES=${PFLEX_E2E_CONFORMANCE_ISCSI_CASES:-2}"
# PFLEX_E2E_ONLY=NAME[,NAME...]: only those stages (while working on one); the run then expects only them.
only=${PFLEX_E2E_ONLY:-}
expected=10
if [[ -n $only ]]; then
    conf_env+=" PFLEX_E2E_ONLY=$only"
    expected=$(tr ',' '\n' <<<"$only" | grep -c .)
fi
[[ -n ${PFLEX_E2E_CONFORMANCE_SEED:-} ]] && conf_env+=" PFLEX_CONFORMANCE_SEED=$PFLEX_E2E_CONFORMANCE_SEED"
set +e # the stages' status is read from PIPESTATUS below
if [[ $native == 1 ]]; then
    modprobe -a "${native_modules[@]}"
    env $conf_env PATH="$target_dir/release:$PATH" PFLEX_SIM_BIN="$target_dir/release/pflex-sim" \
        bash "$bins/e2e/stages.sh" "$bins/e2e" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
else
    "$repo/scripts/vm-run" --mem 3072 --timeout 3000 --share "$bins/e2e" -- \
        "$conf_env bash /share/e2e/stages.sh /share/e2e 2>&1" \
        | tee "$log"
    status=${PIPESTATUS[0]}
fi
set -e

if [[ $status -ne 0 ]]; then
    grep '^nvmet-e2e stage' "$log" >&2 || true
    echo "test-nvmet-e2e: FAILED (exit $status)" >&2
    exit "$status"
fi
stages="simulator lio alletra alletra-driver driver conformance alletra-conformance failover alletra-iscsi-conformance sdc"
for stage in ${only//,/ }; do [[ " $stages " == *" $stage "* ]] || { echo "test-nvmet-e2e: no stage '$stage'" >&2; exit 2; }; done
checked=${only//,/ }
for stage in ${checked:-$stages}; do
    if ! grep -q "^nvmet-e2e stage $stage: PASS" "$log"; then
        echo "test-nvmet-e2e: FAILED: stage $stage did not report a pass" >&2
        exit 1
    fi
done
if ! grep -q "^nvmet-e2e stages: $expected passed, 0 failed" "$log"; then
    echo "test-nvmet-e2e: FAILED: the stages did not all run" >&2
    exit 1
fi
grep '^nvmet-e2e stage' "$log" >&2
echo "test-nvmet-e2e: passed" >&2
