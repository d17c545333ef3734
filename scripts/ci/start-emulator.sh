#!/usr/bin/env bash
# Starts a storage emulator in the background for a CI job, waits until it answers, and
# exports what clients need. The GitHub Action (.github/actions/pflex-sim) calls this; GitLab
# and other CI systems call it directly (see docs/ci.md).
#
# Usage:
#   scripts/ci/start-emulator.sh [--emulator pflex-sim|alletra-sim] [--bin PATH]
#       [--state-dir DIR] [--port N] [--user U] [--password P] [--env-file FILE]
#       [--timeout SECS] [-- extra `serve` flags]
#   scripts/ci/start-emulator.sh --stop [--state-dir DIR]   (DIR defaults to $PFLEX_SIM_STATE_DIR)
#
# The binary: --bin, else $PFLEX_SIM_BIN (pflex-sim) or $ALLETRA_SIM_BIN (alletra-sim), else
# target/release/<emulator>, else it is built (cargo build --release). The credentials default
# to each emulator's built-in ones (admin / Password123!, 3paradm / 3pardata). Prints KEY=VALUE
# lines and also appends them to $GITHUB_ENV and (lower-case keys) $GITHUB_OUTPUT when those
# are set, and to --env-file (a dotenv file, e.g. a GitLab `artifacts:reports:dotenv`):
#   PFLEX_SIM_URL PFLEX_SIM_USER PFLEX_SIM_PASSWORD PFLEX_SIM_CA PFLEX_SIM_PID PFLEX_SIM_STATE_DIR
#   PFLEX_CA_FILE (the CA pflex trusts), and for pflex-sim also
#   PFLEX_GATEWAY PFLEX_USER PFLEX_PASSWORD   (what pflex and pflex-conformance read)
# PFLEX_SIM_URL is the gateway's URL; for alletra-sim the WSAPI base, https://ADDR/api/v1.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

emulator=pflex-sim bin='' state=${PFLEX_SIM_STATE_DIR:-} port=0
user='' password='' env_file='' timeout=60 stop=false
extra=()
while (($#)); do
    case $1 in
        --emulator) emulator=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --state-dir) state=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --user) user=$2; shift 2 ;;
        --password) password=$2; shift 2 ;;
        --env-file) env_file=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --stop) stop=true; shift ;;
        --) shift; extra=("$@"); break ;;
        *) echo "start-emulator: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done

if $stop; then
    [[ -n $state && -f $state/emulator.pid ]] || { echo "start-emulator: --stop: no emulator.pid in '${state}'" >&2; exit 2; }
    pid=$(cat "$state/emulator.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$state/emulator.pid"
    echo "start-emulator: stopped $pid"
    exit 0
fi

case $emulator in
    pflex-sim) bin=${bin:-${PFLEX_SIM_BIN:-}} user=${user:-admin} password=${password:-Password123!} ;;
    alletra-sim) bin=${bin:-${ALLETRA_SIM_BIN:-}} user=${user:-3paradm} password=${password:-3pardata} ;;
    *) echo "start-emulator: unknown emulator '$emulator' (pflex-sim or alletra-sim)" >&2; exit 2 ;;
esac

if [[ -z $bin ]]; then
    bin=$repo/target/release/$emulator
    if [[ ! -x $bin ]]; then
        echo "start-emulator: building $emulator (cargo build --release -p powerflex-sim --bin $emulator)" >&2
        (cd "$repo" && cargo build --release -p powerflex-sim --bin "$emulator" >&2)
    fi
fi
[[ -x $bin ]] || { echo "start-emulator: $bin is not an executable" >&2; exit 2; }

[[ -n $state ]] || state=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/pflex-sim.XXXXXX")
mkdir -p "$state"
log=$state/emulator.log
# Made here, not by the redirection below: that runs in the background child, which a busy
# machine may schedule after the first look at the log in the loop further down.
: >"$log"
# setsid: the emulator outlives this script and the CI step that ran it.
setsid "$bin" serve --listen "127.0.0.1:$port" --state-dir "$state" --user "$user" --password "$password" \
    "${extra[@]}" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$state/emulator.pid"

url='' ca=$state/tls/ca.pem
deadline=$((SECONDS + timeout))
# The banner's url line; /sim/ sits at the server's root (alletra-sim's url ends in /api/v1).
until [[ -n $url ]] && curl -fsS --cacert "$ca" "${url%/api/v1}/sim/health" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start-emulator: $emulator exited during start-up; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "start-emulator: $emulator did not answer GET /sim/health within ${timeout}s; its log:" >&2
        cat "$log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    [[ -n $url ]] || url=$(sed -n 's/^ *url: *//p' "$log" | head -n1)
    sleep 0.2
done

values=(
    "PFLEX_SIM_URL=$url" "PFLEX_SIM_USER=$user" "PFLEX_SIM_PASSWORD=$password" "PFLEX_SIM_CA=$ca"
    "PFLEX_SIM_PID=$pid" "PFLEX_SIM_STATE_DIR=$state" "PFLEX_CA_FILE=$ca"
)
# pflex and pflex-conformance take a PowerFlex gateway from these; an Alletra pool takes its
# WSAPI URL and credentials as pool keys instead.
[[ $emulator == pflex-sim ]] && values+=("PFLEX_GATEWAY=$url" "PFLEX_USER=$user" "PFLEX_PASSWORD=$password")
printf '%s\n' "${values[@]}"
[[ -n $env_file ]] && printf '%s\n' "${values[@]}" >>"$env_file"
[[ -n ${GITHUB_ENV:-} ]] && printf '%s\n' "${values[@]}" >>"$GITHUB_ENV"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    printf '%s\n' "url=$url" "user=$user" "password=$password" "ca=$ca" "pid=$pid" "state-dir=$state" >>"$GITHUB_OUTPUT"
fi
echo "start-emulator: $emulator ready at $url (pid $pid, log $log)" >&2
