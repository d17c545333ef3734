#!/usr/bin/env bash
# scripts/bench-dataplane.sh - the data-plane benchmark (not a test), both parts in one run:
#   1. snapshot time of an 8 GiB thin volume against the bytes written (1 MiB .. 1 GiB),
#      file plane through the REST API, on this machine's filesystem (DIR, default
#      target/bench-dataplane; pick a reflink filesystem to see FICLONE at work);
#   2. sequential write/read throughput through NVMe/TCP (nvmet plane, real nvme-tcp)
#      against the same backing store read and written directly, inside the VM of
#      scripts/vm-run (tmpfs backing store; TCG when KVM is not usable, so compare the two
#      rows with each other, not with hardware figures).
# Usage: scripts/bench-dataplane.sh [DIR] [MIB for part 2, default 512]
set -euo pipefail
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
dir=${1:-$target_dir/bench-dataplane}
mib=${2:-512}

cargo build --release -p powerflex-sim --bin pflex-sim --example bench_dataplane
bench=$target_dir/release/examples/bench_dataplane

echo "# pflex data-plane benchmark ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs)"
"$bench" snapshots "$dir"
rm -rf "$dir"
echo
share=$(mktemp -d)
trap 'rm -rf "$share"' EXIT
mkdir "$share/bench"
cp "$bench" "$share/bench/"
"$repo/scripts/vm-run" --mem 3072 --share "$share/bench" -- "/share/bench/bench_dataplane nvme $mib"
