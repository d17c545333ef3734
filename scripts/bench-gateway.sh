#!/usr/bin/env bash
# scripts/bench-gateway.sh - the gateway under load (a benchmark, not a test), side by side
# in one run on loopback, with wrk (Debian's `apt-get install wrk`; Lua scripts for POSTs):
#   floor     examples/floor_server: axum + rustls, the simulator's TLS setup, one constant
#             body (the Volume the simulator returns) for every GET: what the stack costs;
#   pflex-sim the release binary, --state-dir (journal fsync on) and --data-plane file;
#   moto      moto_server (pip "moto[server]" in a venv under target/), EC2 CreateVolume,
#             the peer an emulator user would pick (plain HTTP and in memory: favours moto).
# Rows: GET one Volume at 1/8/64 connections; durable create at 1/8/32 connections; req/s,
# p50, p99 and the ratios the issue sets targets for. The machine is shared and noisy: run
# it more than once and compare the runs. Each GET row alternates floor and pflex-sim REPEATS
# times (default 3) and reports the median run, so a burst of load from elsewhere on the
# machine lands on one run of one side rather than on the ratio.
# Usage: scripts/bench-gateway.sh [SECONDS per row, default 5] [REPEATS, default 3]
set -euo pipefail
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
secs=${1:-5}
repeats=${2:-3}
command -v wrk >/dev/null || { echo "bench-gateway: needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release -p powerflex-sim --bin pflex-sim --example floor_server
sim=$target_dir/release/pflex-sim
floor=$target_dir/release/examples/floor_server
venv=$target_dir/bench-venv
if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "moto[server]"
fi

work=$(mktemp -d "$target_dir/bench-gateway.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 300); do curl -sk -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

sim_port=$(port)
"$sim" serve --listen "127.0.0.1:$sim_port" --state-dir "$work/sim" --data-plane file --seed 1 >"$work/sim.log" 2>&1 &
pids+=($!)
sim_url=https://127.0.0.1:$sim_port
wait_for "$sim_url/api/version"
ca=$work/sim/tls/ca.pem
token=$(curl -s --cacert "$ca" -X POST -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"Password123!"}' "$sim_url/rest/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
api() { curl -s --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
# One pool per protection domain: the creates alternate between them, so a fast row stays
# under the MDM's 32,768 volumes per domain (refused creates would count as fast answers).
pools=$(api "$sim_url/api/types/StoragePool/instances" | python3 -c '
import json, sys
first = {}
for p in json.load(sys.stdin):
    first.setdefault(p["protectionDomainId"], p["id"])
print(" ".join(first.values()))')
pool=${pools%% *}
create_body="{\"storagePoolId\":\"$pool\",\"volumeSizeInGb\":\"8\"}"
volume=$(api -X POST -d "$create_body" "$sim_url/api/types/Volume/instances" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api "$sim_url/api/instances/Volume::$volume" >"$work/volume.json"

floor_port=$(port)
"$floor" "127.0.0.1:$floor_port" "$work/floor-tls" "$work/volume.json" >"$work/floor.log" 2>&1 &
pids+=($!)
wait_for "https://127.0.0.1:$floor_port/"

moto_port=$(port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/"
# moto loads its EC2 backend on the first call; keep that out of the measurement.
curl -s -o /dev/null -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0' \
    -d 'Action=CreateVolume&Version=2016-11-15&Size=8&AvailabilityZone=us-east-1a' "http://127.0.0.1:$moto_port/"

cat >"$work/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $token"
EOF
cat >"$work/create.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
local pools, n = {}, 0
for id in string.gmatch("$pools", "%S+") do pools[#pools + 1] = id end
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, '{"storagePoolId":"' .. pools[n % #pools + 1] .. '","volumeSizeInGb":"8"}')
end
EOF
cat >"$work/moto.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "Action=CreateVolume&Version=2016-11-15&Size=8&AvailabilityZone=us-east-1a"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0"
EOF

# run NAME CONNECTIONS SCRIPT URL [REPEAT]: one wrk measurement, its output kept for the table.
run() {
    local threads=$(($2 < 2 ? 1 : 2))
    wrk --latency -t"$threads" -c"$2" -d"${secs}s" -s "$3" "$4" >"$work/$1-$2.${5:-0}.wrk" 2>&1
}
for c in 1 8 64; do
    for r in $(seq "$repeats"); do
        run floor-get "$c" "$work/get.lua" "https://127.0.0.1:$floor_port/api/instances/Volume::$volume" "$r"
        run sim-get "$c" "$work/get.lua" "$sim_url/api/instances/Volume::$volume" "$r"
    done
done
for c in 1 8 32; do
    # A fresh system for each row, so no row runs into the per-domain volume limit.
    api -X POST -d '{}' "$sim_url/sim/reset" >/dev/null
    run sim-create "$c" "$work/create.lua" "$sim_url/api/types/Volume/instances"
    run moto-create "$c" "$work/moto.lua" "http://127.0.0.1:$moto_port/"
done

echo "# pflex gateway benchmark ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, wrk, ${secs}s per run, GET rows the median of $repeats)"
python3 - "$work" <<'EOF'
import pathlib, re, sys
work = pathlib.Path(sys.argv[1])
UNIT = {"us": 1, "ms": 1e3, "s": 1e6}
def parse(name, c):
    """The median run (by req/s) of one row; a row measured once is its own median."""
    runs = sorted((parse_run(path) for path in work.glob(f"{name}-{c}.*.wrk")), key=lambda r: r["rps"])
    return runs[len(runs) // 2]
def parse_run(path):
    text = path.read_text()
    name, c = path.name.split(".")[0].rsplit("-", 1)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    lat = {p: float(v) * UNIT[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    if not rps or "50" not in lat:
        sys.exit(f"{name} at {c} connections answered nothing:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    bad = int(bad.group(1)) if bad else 0
    # Only answered successes count: a refusal is cheap and would flatter the rate.
    return {"rps": rps * (total - bad) / max(total, 1), "p50": lat["50"], "p99": lat["99"], "bad": bad,
            "errors": errors.group(1) if errors else ""}
def row(label, r):
    note = (f" ({r['bad']} non-2xx, not counted)" if r["bad"] else "") + (f" (socket errors: {r['errors']})" if r["errors"] else "")
    return f"| {label} | {r['rps']:,.0f} | {r['p50']:,.0f} | {r['p99']:,.0f} |{note}"
print("\n| load | req/s | p50 µs | p99 µs |\n|---|---|---|---|")
get = {c: (parse("floor-get", c), parse("sim-get", c)) for c in (1, 8, 64)}
for c, (f, s) in get.items():
    print(row(f"floor: GET Volume, {c} conn", f))
    print(row(f"pflex-sim: GET Volume, {c} conn", s))
create = {c: (parse("sim-create", c), parse("moto-create", c)) for c in (1, 8, 32)}
for c, (s, m) in create.items():
    print(row(f"pflex-sim: durable create, {c} conn", s))
    print(row(f"moto_server: CreateVolume, {c} conn", m))
print("\n| ratio | value | target |\n|---|---|---|")
for c, (f, s) in get.items():
    print(f"| GET {c} conn: pflex-sim / floor req/s | {s['rps'] / f['rps']:.2f} | {'>= 0.8' if c == 64 else ''} |")
print(f"| GET 1 conn: pflex-sim / floor p50 | {get[1][1]['p50'] / get[1][0]['p50']:.2f} | <= 1.3 |")
print(f"| durable create: 8 conn / 1 conn req/s | {create[8][0]['rps'] / create[1][0]['rps']:.2f} | >= 4 |")
for c, (s, m) in create.items():
    print(f"| create {c} conn: pflex-sim / moto req/s | {s['rps'] / m['rps']:.1f} | {'>= 20' if c == 8 else ''} |")
EOF
