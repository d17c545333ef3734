#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls this) and as the README documents it.
#
# It installs what it needs itself (Debian packages, the PyPowerFlex SDK in a virtualenv, a
# Debian kernel for the VM), so it works on a fresh machine. Every stage that cannot run here
# fails loudly: nothing is skipped quietly.
#
# Stages: lint, unit and integration tests, the PyPowerFlex compatibility test, the NVMe/TCP
# and iSCSI end-to-end test (natively where `modprobe nvmet-tcp` works, else in a throwaway VM), and the
# conformance harness with its mutation test.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() {
    printf '\n\033[1m== %s ==\033[0m\n' "$*"
    stage_started=$SECONDS
}
results=()
# record RESULT: a stage's outcome and how long it took, for the summary (CI has a time limit:
# the summary shows where the time goes).
record() { results+=("$(printf '%5ss  %s' $((SECONDS - stage_started)) "$1")"); }

install_deps() {
    # libclang-dev: the loopdev crate generates its bindings with bindgen at build time.
    local need=()
    dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
    dpkg -s nvme-cli >/dev/null 2>&1 || need+=(nvme-cli)
    if ((${#need[@]})); then
        stage "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${need[@]}"
    fi
}

install_deps

stage "format"
cargo fmt --all -- --check
record "format: ok"

stage "clippy"
cargo clippy --workspace --all-targets -- -D warnings
record "clippy: ok"

stage "release build (for the tests, compatibility, end-to-end and conformance stages)"
cargo build --release --workspace
record "release build: ok"

# In the release profile: the one build then serves every later stage, where a debug build of
# the whole workspace as well was a second full compile inside CI's time limit; and the data
# tests run faster. The
# conformance tests start the real emulators' binaries.
stage "unit and integration tests (release profile)"
PFLEX_SIM_BIN=$PWD/target/release/pflex-sim ALLETRA_SIM_BIN=$PWD/target/release/alletra-sim cargo test --workspace --release
record "cargo test --release: ok"

stage "PyPowerFlex compatibility (Dell's SDK from PyPI, unmodified)"
PFLEX_SIM=target/release/pflex-sim bash scripts/compat/pypowerflex.sh
record "PyPowerFlex compatibility: ok"

stage "Ansible compatibility (Dell's dellemc.powerflex collection from PyPI, unmodified)"
PFLEX_SIM=target/release/pflex-sim bash scripts/compat/ansible.sh
record "Ansible compatibility: ok"

stage "python-3parclient compatibility (HPE's WSAPI client from PyPI, unmodified, against alletra-sim)"
ALLETRA_SIM=target/release/alletra-sim bash scripts/compat/python-3parclient.sh
record "python-3parclient compatibility: ok"

stage "os-brick compatibility (OpenStack's ScaleIO connector from PyPI, unmodified, through pflex-sdc)"
if [[ $EUID == 0 && -e /dev/fuse && -e /dev/loop-control ]]; then
    PFLEX_SIM=target/release/pflex-sim PFLEX_SDC=target/release/pflex-sdc bash scripts/compat/os-brick.sh
    record "os-brick compatibility: ok"
else
    echo "NOT RUNNING the os-brick compatibility test: it needs root, /dev/fuse and /dev/loop-control" >&2
    record "os-brick compatibility: NOT RUN (no root, /dev/fuse or loop devices)"
fi

stage "CI start script (scripts/ci/start-emulator.sh as a CI job uses it)"
bash scripts/ci/test-start-emulator.sh
record "CI start script: ok"

stage "client guides (the runnable snippets of docs/clients against pflex-sim)"
bash scripts/test-client-guides.sh
record "client guides: ok"

stage "conformance harness against the simulator (file plane; sim, loop and sdc connectors)"
bash scripts/test-conformance.sh
record "conformance (sim, loop, sdc): ok"

# The longest stage: ten stages in the emulated VM (each verdict line gives its time), 21 minutes
# of a 57-minute full run here on 2026-12-02. The driver's nvme data test (about 5) and the three
# conformance stages (about 3 each, nearly all of it their fixed LXD flows) take the longest.
stage "NVMe/TCP and iSCSI end to end: simulator nvmet test, simulator LIO test with iscsiadm, alletra-sim with nvme-cli and iscsiadm, Alletra driver nvme and iscsi data test, driver nvme data test, conformance --data nvme (natively, or in a VM where this kernel has no nvmet)"
bash scripts/test-nvmet-e2e.sh
record "NVMe/TCP and iSCSI end to end (simulator nvmet, LIO, alletra-sim, Alletra driver, driver, conformance): ok"

stage "summary"
printf '%s\n' "${results[@]}"
printf 'total: %ss\n' "$SECONDS"
