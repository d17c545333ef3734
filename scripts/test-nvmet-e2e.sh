#!/usr/bin/env bash
# scripts/test-nvmet-e2e.sh - NVMe/TCP end to end, with the real kernel target and initiator.
#
# Builds the release binaries (pflex-sim, pflex-conformance) and two test binaries, then runs
# three stages with scripts/vm/nvmet-e2e-stages.sh, in one throwaway VM with nvmet,
# nvmet-tcp, nvme-tcp and nvme-cli (scripts/vm-run):
#   1. simulator/tests/dataplane_nvmet.rs: `pflex-sim serve --data-plane auto|nvmet` as a
#      process; registers the VM's host NQN, maps a volume, discovers and connects with
#      nvme-cli, finds the namespace by its EUI (sysfs wwid: the VM has no udev), writes,
#      snapshots, overwrites, resizes; unmaps while connected (the device goes at once, the
#      host no longer discovers the subsystem), checks a second host sees nothing, that a
#      failed export leaves nothing behind, that removing the host removes its subsystem,
#      and clean-stop and crash-restart cleanup.
#   2. driver/tests/nvme.rs with PFLEX_REQUIRE_NVME=1: the driver's data test (attach, write,
#      snapshot, restore, both kinds of copy, detach) through the nvme connector.
#   3. `pflex-conformance run --data nvme` against `pflex-sim serve --data-plane nvmet`,
#      PFLEX_E2E_CONFORMANCE_CASES (default 6) cases of at most
#      PFLEX_E2E_CONFORMANCE_MAX_STEPS (10) steps, seed PFLEX_E2E_CONFORMANCE_SEED (default
#      random, printed). Separate from scripts/test-conformance.sh's PFLEX_CONFORMANCE_*:
#      every host copy moves 8 GiB through NVMe/TCP here, which is slow in an emulated VM.
#
# Where nvmet works natively (root, `modprobe nvmet nvmet-tcp nvme-tcp` succeeds),
# the stages run on this machine instead of in a VM (PFLEX_E2E_NATIVE=1|0 forces the choice).
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
cargo build --release -p powerflex-sim --bin pflex-sim -p powerflex-conformance --bin pflex-conformance
cargo test --release -p powerflex-sim --test dataplane_nvmet --no-run
cargo test --release -p powerflex-driver --test nvme --no-run
bins=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$log" "$bins"' EXIT
mkdir "$bins/e2e"
cp "$(test_binary powerflex-sim dataplane_nvmet)" "$bins/e2e/dataplane_nvmet"
cp "$(test_binary powerflex-driver nvme)" "$bins/e2e/nvme"
cp "$repo/scripts/vm/nvmet-e2e-stages.sh" "$bins/e2e/stages.sh"

status=0
native=${PFLEX_E2E_NATIVE:-auto}
if [[ $native == auto ]]; then
    # Native where this kernel can load the modules (a laptop, a CI runner with
    # linux-modules-extra); in the VM where it cannot (this project's own machines).
    if [[ $EUID == 0 ]] && modprobe -a nvmet nvmet-tcp nvme-tcp 2>/dev/null; then native=1; else native=0; fi
    echo "test-nvmet-e2e: $( ((native)) && echo "nvmet loads natively: running here" || echo "no native nvmet: running in the VM")" >&2
fi
conf_env="PFLEX_CONFORMANCE_CASES=${PFLEX_E2E_CONFORMANCE_CASES:-6} PFLEX_CONFORMANCE_MAX_STEPS=${PFLEX_E2E_CONFORMANCE_MAX_STEPS:-10}"
[[ -n ${PFLEX_E2E_CONFORMANCE_SEED:-} ]] && conf_env+=" PFLEX_CONFORMANCE_SEED=$PFLEX_E2E_CONFORMANCE_SEED"
set +e # the stages' status is read from PIPESTATUS below
if [[ $native == 1 ]]; then
    modprobe -a nvmet nvmet-tcp nvme-tcp
    env $conf_env PATH="$target_dir/release:$PATH" PFLEX_SIM_BIN="$target_dir/release/pflex-sim" \
        bash "$bins/e2e/stages.sh" "$bins/e2e" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
else
    "$repo/scripts/vm-run" --mem 3072 --timeout 2400 --share "$bins/e2e" -- \
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
for stage in simulator driver conformance; do
    if ! grep -q "^nvmet-e2e stage $stage: PASS" "$log"; then
        echo "test-nvmet-e2e: FAILED: stage $stage did not report a pass" >&2
        exit 1
    fi
done
if ! grep -q '^nvmet-e2e stages: 3 passed, 0 failed' "$log"; then
    echo "test-nvmet-e2e: FAILED: the stages did not all run" >&2
    exit 1
fi
grep '^nvmet-e2e stage' "$log" >&2
echo "test-nvmet-e2e: passed" >&2
