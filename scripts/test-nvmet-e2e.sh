#!/usr/bin/env bash
# scripts/test-nvmet-e2e.sh - the nvmet data plane end to end, with the real kernel target.
#
# Builds the release binaries and the test simulator/tests/dataplane_nvmet.rs, then runs
# that test inside a throwaway VM with nvmet, nvmet-tcp, nvme-tcp and nvme-cli
# (scripts/vm-run). The test starts `pflex-sim serve --data-plane auto|nvmet` as a process,
# registers the VM's host NQN, creates and maps a volume, discovers and connects with
# nvme-cli, finds the namespace by its EUI (sysfs wwid: the VM has no udev), writes,
# snapshots, overwrites, resizes, unmaps, checks a second host sees nothing, checks that a
# failed export leaves nothing behind, and checks clean-stop and crash-restart cleanup.
#
# Where nvmet works natively (root, `modprobe nvmet nvmet-tcp nvme-tcp` succeeds),
# the test runs on this machine instead of in a VM (PFLEX_E2E_NATIVE=1|0 forces the choice).
#
# Fails loudly (non-zero exit) when the VM cannot run, when the test fails, or when the
# test did not actually run its flow.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}

echo "test-nvmet-e2e: building release binaries and the test" >&2
cargo build --release -p powerflex-sim --bin pflex-sim
test_bin=$(cargo test --release -p powerflex-sim --test dataplane_nvmet --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*dataplane_nvmet[^"]*"' | tail -n1 | cut -d'"' -f4)
[[ -n $test_bin && -x $test_bin ]] || { echo "test-nvmet-e2e: could not find the built test binary" >&2; exit 1; }

log=$(mktemp)
trap 'rm -rf "$log" "${share:-}"' EXIT
status=0
native=${PFLEX_E2E_NATIVE:-auto}
if [[ $native == auto ]]; then
    # Native where this kernel can load the modules (a laptop, a CI runner with
    # linux-modules-extra); in the VM where it cannot (this project's own machines).
    if [[ $EUID == 0 ]] && modprobe -a nvmet nvmet-tcp nvme-tcp 2>/dev/null; then native=1; else native=0; fi
    echo "test-nvmet-e2e: $( ((native)) && echo "nvmet loads natively: running here" || echo "no native nvmet: running in the VM")" >&2
fi
if [[ $native == 1 ]]; then
    modprobe -a nvmet nvmet-tcp nvme-tcp
    PFLEX_NVMET_E2E=1 PFLEX_SIM_BIN=$target_dir/release/pflex-sim \
        "$test_bin" --test-threads=1 --nocapture 2>&1 | tee "$log" || status=$?
    status=${PIPESTATUS[0]}
else
    share=$(mktemp -d)
    mkdir "$share/e2e"
    cp "$test_bin" "$share/e2e/dataplane_nvmet"
    "$repo/scripts/vm-run" --mem 3072 --share "$share/e2e" -- \
        'PFLEX_NVMET_E2E=1 /share/e2e/dataplane_nvmet --test-threads=1 --nocapture 2>&1' \
        | tee "$log" || true
    status=${PIPESTATUS[0]}
fi

if [[ $status -ne 0 ]]; then
    echo "test-nvmet-e2e: FAILED (exit $status)" >&2
    exit "$status"
fi
if ! grep -q 'NVMET-E2E-COMPLETE' "$log" || ! grep -q 'test result: ok. 1 passed' "$log"; then
    echo "test-nvmet-e2e: FAILED: the test exited 0 but did not run its flow" >&2
    exit 1
fi
echo "test-nvmet-e2e: passed" >&2
