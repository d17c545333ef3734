#!/usr/bin/env bash
# scripts/vm/nvmet-e2e-stages.sh - the kernel-target stages of scripts/test-nvmet-e2e.sh (NVMe/TCP
# and iSCSI), run where the kernel targets work (inside scripts/vm-run's VM, or natively as root).
#
# Usage: nvmet-e2e-stages.sh TEST_BIN_DIR
#   TEST_BIN_DIR holds the built test binaries `dataplane_nvmet`, `dataplane_lio`,
#   `dataplane_alletra` and `path_failover` (simulator/tests), `nvme` and `alletra_kernel`
#   (driver/tests) and `scini` (sdc/tests);
#   `pflex-sim`, `alletra-sim` and `pflex-conformance` must be on PATH, and for the iSCSI
#   stages iscsiadm with iscsid running (the VM's /init starts it).
# Env: PFLEX_CONFORMANCE_CASES (default 6), PFLEX_CONFORMANCE_MAX_STEPS (default 10),
#      PFLEX_CONFORMANCE_SEED (default: random, printed), PFLEX_SCRATCH (default /tmp).
#
# Stages, in this order, each one run even when an earlier one failed:
#   1. simulator: the nvmet plane end to end (dataplane_nvmet, PFLEX_NVMET_E2E=1)
#   2. lio: the LIO (iSCSI) configfs plane with iscsiadm (dataplane_lio, PFLEX_LIO_E2E=1)
#   3. alletra: alletra-sim's NVMe and iSCSI ports with nvme-cli and iscsiadm
#      (dataplane_alletra, PFLEX_ALLETRA_E2E=1)
#   4. alletra-driver: the Alletra driver's data test through the nvme and iscsi connectors
#      (alletra_kernel, PFLEX_ALLETRA_E2E=1)
#   5. driver: the driver's data test through the nvme connector (PFLEX_REQUIRE_NVME=1)
#   6. conformance: pflex-conformance run --data nvme against pflex-sim --data-plane nvmet
#   7. alletra-conformance: pflex-conformance run --array alletra --data nvme against
#      alletra-sim --data-plane nvmet
#   8. failover: an SDT outage under I/O with native NVMe multipath (path_failover,
#      PFLEX_NVMET_E2E=1)
#   9. alletra-iscsi-conformance: pflex-conformance run --array alletra --data iscsi against
#      alletra-sim's iSCSI ports (LIO)
#  10. sdc: pflex-sdc's /dev/scini through CUSE and the driver's sdc attach (scini, PFLEX_SDC_E2E=1)
# Each prints "nvmet-e2e stage <name>: PASS" or "... FAIL (why)"; a stage passes only if it
# exited 0 *and* its output shows that it really ran. The last line is
# "nvmet-e2e stages: N passed, M failed"; the exit status is 0 only when all passed.
set -uo pipefail

bins=${1:?usage: nvmet-e2e-stages.sh TEST_BIN_DIR}
scratch=${PFLEX_SCRATCH:-/tmp}
cases=${PFLEX_CONFORMANCE_CASES:-6}
max_steps=${PFLEX_CONFORMANCE_MAX_STEPS:-10}
seed=${PFLEX_CONFORMANCE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
passed=0
failed=0
work=$(mktemp -d "$scratch/nvmet-stages.XXXXXX")

# Each verdict says how long its stage took: the whole run has to fit in CI's time limit.
verdict() { # name ok why
    local took=$((SECONDS - stage_started))
    if [[ $2 == 1 ]]; then
        echo "nvmet-e2e stage $1: PASS (${took} s)"
        passed=$((passed + 1))
    else
        echo "nvmet-e2e stage $1: FAIL ($3; ${took} s)"
        failed=$((failed + 1))
    fi
}

# Leftover NVMe/TCP sessions from a failed stage would confuse the next one.
disconnect_all() { nvme disconnect-all >/dev/null 2>&1 || true; }

banner() {
    printf '\n===== nvmet-e2e stage %s =====\n' "$1"
    stage_started=$SECONDS
}

# PFLEX_E2E_ONLY=name[,name...] runs only those stages (to repeat one while working on it).
wanted() { [[ -z ${PFLEX_E2E_ONLY:-} || ",$PFLEX_E2E_ONLY," == *",$1,"* ]]; }

# One test binary as a stage: it passes only if it exited 0, printed MARKER (so it really ran
# its flow rather than skipping) and ran its one test.
test_stage() { # name marker command...
    local name=$1 marker=$2 log=$work/$1.log status
    shift 2
    wanted "$name" || return 0
    banner "$name"
    # Into a file rather than through a pipe: a process the test started and a failure left
    # running (pflex-sim) would hold a pipe open, and the stage would never end.
    "$@" --test-threads=1 --nocapture >"$log" 2>&1
    status=$?
    cat "$log"
    if [[ $status != 0 ]]; then
        verdict "$name" 0 "exit $status"
    elif ! grep -q -- "$marker" "$log" || ! grep -q 'test result: ok. 1 passed' "$log"; then
        verdict "$name" 0 "exited 0 but did not run its flow"
    else
        verdict "$name" 1 ""
    fi
}

# 1. The simulator's nvmet plane with the kernel target and nvme-cli.
test_stage simulator NVMET-E2E-COMPLETE env PFLEX_NVMET_E2E=1 "$bins/dataplane_nvmet"
disconnect_all

# 2. The LIO plane with the kernel iSCSI target and open-iscsi. It takes seconds; the limit
# keeps a stuck iSCSI session from holding the whole VM run.
test_stage lio LIO-E2E-COMPLETE env PFLEX_LIO_E2E=1 timeout -k 10 300 "$bins/dataplane_lio"
# Sessions a failed run left would hold disks the next stage does not expect.
logout_all() { iscsiadm -m node --logoutall=all >/dev/null 2>&1 || true; iscsiadm -m node -o delete >/dev/null 2>&1 || true; }
logout_all

# 3. alletra-sim's kernel data paths (both port kinds in one server); 4. the Alletra driver
# attaching through them. Each takes well under a minute; the limits keep a stuck session
# from holding the whole VM run.
test_stage alletra ALLETRA-E2E-COMPLETE env PFLEX_ALLETRA_E2E=1 timeout -k 10 300 "$bins/dataplane_alletra"
disconnect_all
logout_all
test_stage alletra-driver ALLETRA-DRIVER-E2E-COMPLETE env PFLEX_ALLETRA_E2E=1 timeout -k 10 300 "$bins/alletra_kernel"
disconnect_all
logout_all

# 5. The driver's data test through the real nvme connector.
test_stage driver 'nvme host copy:' env PFLEX_REQUIRE_NVME=1 "$bins/nvme"
disconnect_all

# One conformance run as a stage: the emulator SIM serves on 127.0.0.1:PORT with the kernel
# plane, pflex-conformance checks it with content read through the kernel (DATA: nvme or
# iscsi), and the stage passes only if the harness passed, wrote its report for --data DATA,
# and the emulator stopped cleanly.
# Usage: [stage_cases=N] conformance_stage NAME PORT DATA SIM SIM_ARGS... -- HARNESS_ARGS...
# (stage_cases: this stage's property cases instead of PFLEX_CONFORMANCE_CASES)
conformance_stage() {
    local name=$1 port=$2 data=$3 sim=$4 sim_args=() status sim_status
    shift 4
    while [[ $# -gt 0 && $1 != -- ]]; do sim_args+=("$1"); shift; done
    shift
    local state=$work/$name-state log=$work/$name.log report=$work/$name.json sim_log=$work/$name-sim.log
    wanted "$name" || return 0
    banner "$name"
    "$sim" serve --listen "127.0.0.1:$port" --state-dir "$state" --no-fsync --seed 1 "${sim_args[@]}" \
        >"$sim_log" 2>&1 &
    local sim_pid=$!
    for _ in $(seq 300); do
        [[ -s $state/tls/ca.pem ]] && grep -q 'url:' "$sim_log" && break
        kill -0 "$sim_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$sim_pid" 2>/dev/null || ! grep -q 'url:' "$sim_log"; then
        cat "$sim_log"
        verdict "$name" 0 "$sim ${sim_args[*]} did not start"
        return
    fi
    grep -i 'data plane' "$sim_log" || true
    local n=${stage_cases:-$cases}
    echo "pflex-conformance run $* --data $data --cases $n --max-steps $max_steps --seed $seed"
    pflex-conformance run --gateway "https://127.0.0.1:$port" --ca-cert "$state/tls/ca.pem" "$@" --data "$data" \
        --cases "$n" --max-steps "$max_steps" --seed "$seed" --report "$report" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    kill -TERM "$sim_pid" 2>/dev/null
    wait "$sim_pid"
    sim_status=$?
    if [[ $status != 0 ]]; then
        echo "--- $sim log (tail) ---"
        tail -n 40 "$sim_log"
        verdict "$name" 0 "pflex-conformance exit $status (seed $seed)"
    elif [[ ! -s $report ]] || ! grep -q "\"data\": *\"$data\"" "$report"; then
        verdict "$name" 0 "exited 0 but wrote no report for --data $data"
    elif [[ $sim_status != 0 ]]; then
        tail -n 40 "$sim_log"
        verdict "$name" 0 "$sim did not stop cleanly (exit $sim_status)"
    else
        verdict "$name" 1 ""
    fi
}

# 6. The conformance harness against pflex-sim, content checked through NVMe/TCP.
conformance_stage conformance 18443 nvme pflex-sim --data-plane nvmet -- \
    --user admin --password 'Password123!' --pool sp1 --domain pd1
disconnect_all

# 7. The same against alletra-sim (--array alletra, the driver's alletra.mode=nvme).
conformance_stage alletra-conformance 18444 nvme alletra-sim --data-plane nvmet -- \
    --array alletra --user 3paradm --password 3pardata --cpg SSD_r6
disconnect_all
logout_all

# 8. One SDT's listeners taken down and brought back while a host writes through both SDTs
# with native NVMe multipath. About a minute; the limit keeps a hung path from holding the run.
test_stage failover FAILOVER-E2E-COMPLETE env PFLEX_NVMET_E2E=1 timeout -k 10 300 "$bins/path_failover"
disconnect_all

# 9. alletra-sim through its iSCSI ports (the driver's alletra.mode=iscsi, iscsiadm and LIO), with
# fewer cases than stage 7: the fixed LXD flows already cover every operation, and each case's
# logins and rescans make it several times slower than NVMe/TCP in this VM.
stage_cases=${PFLEX_CONFORMANCE_ISCSI_CASES:-2} conformance_stage alletra-iscsi-conformance 18445 iscsi \
    alletra-sim --data-plane nvmet -- --array alletra --user 3paradm --password 3pardata --cpg SSD_r6
logout_all

# 10. pflex-sdc with /dev/scini (CUSE: the VM loads fuse and cuse) and the driver's sdc mode.
test_stage sdc SCINI-E2E-COMPLETE env PFLEX_SDC_E2E=1 timeout -k 10 600 "$bins/scini"

echo "nvmet-e2e stages: $passed passed, $failed failed"
rm -rf "$work"
[[ $failed == 0 && ($passed == 10 || -n ${PFLEX_E2E_ONLY:-}) ]]
