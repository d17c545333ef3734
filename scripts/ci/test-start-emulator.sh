#!/usr/bin/env bash
# The CI start script as a CI job uses it: start pflex-sim, use the exported URL, credentials
# and CA with curl (readiness without credentials, login, a PowerFlex call), stop it; the same
# for `--emulator alletra-sim` with a WSAPI session and call.
# Usage: scripts/ci/test-start-emulator.sh   (uses target/release/{pflex-sim,alletra-sim}, or
# $PFLEX_SIM_BIN and $ALLETRA_SIM_BIN, or builds them)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap '[[ -n ${PFLEX_SIM_STATE_DIR:-} ]] && bash scripts/ci/start-emulator.sh --stop --state-dir "$PFLEX_SIM_STATE_DIR" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "test-start-emulator: FAILED: $*" >&2; exit 1; }

# As GitHub Actions runs it: the values land in $GITHUB_ENV and $GITHUB_OUTPUT.
export GITHUB_ENV=$work/github_env GITHUB_OUTPUT=$work/github_output
bash scripts/ci/start-emulator.sh --state-dir "$work/state" --env-file "$work/dotenv" -- --data-plane file --no-fsync >"$work/stdout"
cmp -s "$work/stdout" "$work/github_env" || fail "stdout and \$GITHUB_ENV differ"
cmp -s "$work/stdout" "$work/dotenv" || fail "stdout and --env-file differ"
grep -qx "url=https://127.0.0.1:[0-9]*" "$work/github_output" || fail "no url output: $(cat "$work/github_output")"
# A later step sees the values as its environment.
set -a
# shellcheck disable=SC1091 # written by start-emulator.sh above
source "$work/github_env"
set +a
[[ -s $PFLEX_SIM_CA && $PFLEX_GATEWAY == "$PFLEX_SIM_URL" ]] || fail "exported values: $(cat "$work/github_env")"

health=$(curl -fsS --cacert "$PFLEX_SIM_CA" "$PFLEX_SIM_URL/sim/health")
[[ $(jq -r .status <<<"$health") == ok ]] || fail "health without credentials: $health"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PFLEX_SIM_CA" "$PFLEX_SIM_URL/sim/info")
[[ $code == 401 ]] || fail "/sim/info without credentials answered $code"
token=$(curl -fsS --cacert "$PFLEX_SIM_CA" -X POST "$PFLEX_SIM_URL/rest/auth/login" \
    -d "{\"username\":\"$PFLEX_SIM_USER\",\"password\":\"$PFLEX_SIM_PASSWORD\"}" | jq -r .access_token)
pools=$(curl -fsS --cacert "$PFLEX_SIM_CA" -H "Authorization: Bearer $token" \
    "$PFLEX_SIM_URL/api/types/StoragePool/instances" | jq -r '.[].name' | sort | tr '\n' ' ')
[[ $pools == *sp1* ]] || fail "pools through the exported credentials: $pools"
echo "test-start-emulator: pflex-sim at $PFLEX_SIM_URL answered (pools: $pools)"

pid=$PFLEX_SIM_PID
bash scripts/ci/start-emulator.sh --stop --state-dir "$PFLEX_SIM_STATE_DIR" >/dev/null
! kill -0 "$pid" 2>/dev/null || fail "pflex-sim $pid still runs after --stop"
unset PFLEX_SIM_STATE_DIR

# alletra-sim the same way: its defaults, a WSAPI session with the exported credentials.
bash scripts/ci/start-emulator.sh --emulator alletra-sim --state-dir "$work/alletra" -- --data-plane none --no-fsync >"$work/alletra.env"
set -a
# shellcheck disable=SC1091 # written by start-emulator.sh above
source "$work/alletra.env"
set +a
[[ $PFLEX_SIM_URL == https://127.0.0.1:*/api/v1 && $PFLEX_SIM_USER == 3paradm ]] || fail "alletra-sim values: $(cat "$work/alletra.env")"
! grep -q '^PFLEX_GATEWAY=' "$work/alletra.env" || fail "alletra-sim exported a PowerFlex gateway"
health=$(curl -fsS --cacert "$PFLEX_SIM_CA" "${PFLEX_SIM_URL%/api/v1}/sim/health")
[[ $(jq -r .status <<<"$health") == ok ]] || fail "alletra-sim health without credentials: $health"
key=$(curl -fsS --cacert "$PFLEX_SIM_CA" -X POST "$PFLEX_SIM_URL/credentials" -H 'Content-Type: application/json' \
    -d "{\"user\":\"$PFLEX_SIM_USER\",\"password\":\"$PFLEX_SIM_PASSWORD\"}" | jq -r .key)
cpgs=$(curl -fsS --cacert "$PFLEX_SIM_CA" -H "X-HP3PAR-WSAPI-SessionKey: $key" "$PFLEX_SIM_URL/cpgs" | jq -r '.members[].name' | tr '\n' ' ')
[[ $cpgs == *SSD_r6* ]] || fail "alletra-sim CPGs through the exported credentials: $cpgs"
pid=$PFLEX_SIM_PID
bash scripts/ci/start-emulator.sh --stop --state-dir "$PFLEX_SIM_STATE_DIR" >/dev/null
! kill -0 "$pid" 2>/dev/null || fail "alletra-sim $pid still runs after --stop"
unset PFLEX_SIM_STATE_DIR
echo "test-start-emulator: alletra-sim at $PFLEX_SIM_URL answered (CPGs: $cpgs)"

# The GitHub Action and the example workflow are valid YAML and the action runs this script.
python3 -c 'import yaml' 2>/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-yaml >/dev/null; }
python3 - <<'PY'
import yaml
a = yaml.safe_load(open(".github/actions/pflex-sim/action.yml"))
assert a["runs"]["using"] == "composite", a["runs"]
assert a["inputs"]["emulator"]["default"] == "pflex-sim"
assert {"url", "user", "password", "ca"} <= set(a["outputs"]), a["outputs"]
assert any("scripts/ci/start-emulator.sh" in s.get("run", "") for s in a["runs"]["steps"])
w = yaml.safe_load(open(".github/workflows/example.yml"))
steps = w["jobs"]["against-pflex-sim"]["steps"]
assert any(s.get("uses") == "./.github/actions/pflex-sim" for s in steps), steps
print("test-start-emulator: action.yml and example.yml parse and use the script")
PY
echo "test-start-emulator: ok (pflex-sim and alletra-sim: start, health, login and a call with the exported values, stop; action and workflow parse)"
