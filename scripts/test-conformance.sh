#!/usr/bin/env bash
# The conformance harness against the simulators on this machine: pflex-sim with content checked
# on the `file` plane through the `sim` connector (no root) and, as root, the `loop` connector and
# the `sdc` one (powerflex.mode=sdc through pflex-sdc, the emulated SDC; also /dev/fuse);
# then alletra-sim (--array alletra) through the `sim` connector.
# Reports go to target/conformance/ (terminal summary, JSON, JUnit XML and HTML); then the HTML
# report is checked as a person sees it, in headless Chromium (scripts/test-report-html.sh).
#
# Usage: scripts/test-conformance.sh [extra pflex-conformance run flags]
# Env: PFLEX_CONFORMANCE_CASES (default 24), PFLEX_CONFORMANCE_SDC_CASES (default 3: every host copy
#      reads whole volumes through the emulated SDC's FUSE path), PFLEX_CONFORMANCE_SEED (default: random, printed),
#      ALLETRA_CONFORMANCE_CASES (default 12; the Alletra run stays within about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p powerflex-sim -p powerflex-conformance -p pflex-sdc
sim=target/release/pflex-sim
alletra_sim=target/release/alletra-sim
harness=target/release/pflex-conformance
out=target/conformance
mkdir -p "$out"
cases=${PFLEX_CONFORMANCE_CASES:-24}
seed=${PFLEX_CONFORMANCE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

state=$(mktemp -d)
alletra_state=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$sim" serve --listen "127.0.0.1:$port" --state-dir "$state" --data-plane file --no-fsync --seed 1 \
    >"$out/sim.log" 2>&1 &
sim_pid=$!
alletra_pid=
sdc_pid=
trap 'kill $sdc_pid 2>/dev/null; wait $sdc_pid 2>/dev/null; kill "$sim_pid" $alletra_pid 2>/dev/null; wait "$sim_pid" $alletra_pid 2>/dev/null; rm -rf "$state" "$alletra_state"' EXIT
for _ in $(seq 100); do
    [ -s "$state/tls/ca.pem" ] && grep -q "url:" "$out/sim.log" && break
    sleep 0.1
done

modes=(sim)
if [[ $EUID == 0 && -e /dev/loop-control ]]; then
    modes+=(loop)
else
    echo "test-conformance: NOT RUNNING --data loop: it needs root and /dev/loop-control" >&2
fi

if [[ $EUID == 0 && -e /dev/loop-control && -e /dev/fuse ]]; then
    # pflex-sdc as this host's SDC, its devices and drv_cfg in the state directory.
    target/release/pflex-sdc serve --gateway "https://127.0.0.1:$port" --password 'Password123!' \
        --ca "$state/tls/ca.pem" --run-dir "$state/sdc" --by-id "$state/sdc-by-id" >"$out/sdc.log" 2>&1 &
    sdc_pid=$!
    target/release/pflex-sdc install --prefix "$state/sdc-root" --run-dir "$state/sdc" >/dev/null
    export PFLEX_SDC_BY_ID=$state/sdc-by-id PFLEX_SDC_DRV_CFG=$state/sdc-root/opt/emc/scaleio/sdc/bin/drv_cfg
    for _ in $(seq 100); do
        "$PFLEX_SDC_DRV_CFG" --query_guid >/dev/null 2>&1 && break
        sleep 0.1
    done
    modes+=(sdc)
else
    echo "test-conformance: NOT RUNNING --data sdc: it needs root, /dev/loop-control and /dev/fuse" >&2
fi

for mode in "${modes[@]}"; do
    mode_cases=$cases
    [[ $mode == sdc ]] && mode_cases=${PFLEX_CONFORMANCE_SDC_CASES:-3}
    echo "test-conformance: --data $mode, $mode_cases cases, seed $seed"
    "$harness" run --gateway "https://127.0.0.1:$port" --user admin --password 'Password123!' \
        --ca-cert "$state/tls/ca.pem" --pool sp1 --domain pd1 --data "$mode" \
        --cases "$mode_cases" --seed "$seed" \
        --report "$out/report-$mode.json" --report "$out/report-$mode.xml" --report "$out/report-$mode.html" "$@"
done

alletra_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$alletra_sim" serve --listen "127.0.0.1:$alletra_port" --state-dir "$alletra_state" --data-plane file --no-fsync \
    --seed 1 >"$out/alletra-sim.log" 2>&1 &
alletra_pid=$!
for _ in $(seq 100); do
    [ -s "$alletra_state/tls/ca.pem" ] && grep -q "url:" "$out/alletra-sim.log" && break
    sleep 0.1
done
alletra_cases=${ALLETRA_CONFORMANCE_CASES:-12}
echo "test-conformance: --array alletra --data sim, $alletra_cases cases, seed $seed"
"$harness" run --array alletra --gateway "https://127.0.0.1:$alletra_port" --user 3paradm --password 3pardata \
    --ca-cert "$alletra_state/tls/ca.pem" --cpg SSD_r6 --data sim --cases "$alletra_cases" --seed "$seed" \
    --report "$out/report-alletra.json" --report "$out/report-alletra.xml" --report "$out/report-alletra.html" "$@"

bash scripts/test-report-html.sh
