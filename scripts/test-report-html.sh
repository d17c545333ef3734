#!/usr/bin/env bash
# The HTML report as a person sees it: runs pflex-conformance against an intact pflex-sim and
# against one with `--break allow-shrink`, and the same for alletra-sim (`--array alletra`,
# `--break skip-granularity`), renders each report in headless Chromium (Debian's `chromium`,
# installed here when missing) and checks the rendered page: the verdict, every behaviour-area
# row of the array's matrix, and for a broken run the failure with its minimal sequence, seed
# and transcript. Screenshots go to target/conformance/.
#
# Usage: scripts/test-report-html.sh   (uses target/release/{pflex-sim,alletra-sim,pflex-conformance}, or builds them)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    echo "test-report-html: installing chromium (Debian package) to render the report" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
[[ -x target/release/pflex-conformance && -x target/release/pflex-sim && -x target/release/alletra-sim ]] ||
    cargo build --release -p powerflex-sim -p powerflex-conformance
harness=target/release/pflex-conformance
out=target/conformance
mkdir -p "$out"
work=$(mktemp -d)
states=()
cleanup() {
    for s in "${states[@]}"; do bash scripts/ci/start-emulator.sh --stop --state-dir "$s" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# run NAME EXPECTED_RC ARRAY [--break B] -- [harness flags]: an emulator of ARRAY (powerflex or
# alletra), a run, its HTML report.
run() {
    local name=$1 want=$2 array=$3; shift 3
    local sim_flags=()
    while [[ $1 != -- ]]; do sim_flags+=("$1"); shift; done
    shift
    local state=$work/$name emulator=pflex-sim where=(--pool sp1 --domain pd1)
    [[ $array == alletra ]] && emulator=alletra-sim where=(--cpg SSD_r6)
    states+=("$state")
    # shellcheck disable=SC1090
    source <(bash scripts/ci/start-emulator.sh --emulator "$emulator" --bin "target/release/$emulator" \
        --state-dir "$state" -- --data-plane file --no-fsync --seed 1 "${sim_flags[@]}" 2>/dev/null)
    local rc=0
    "$harness" run --array "$array" --gateway "$PFLEX_SIM_URL" --user "$PFLEX_SIM_USER" \
        --password "$PFLEX_SIM_PASSWORD" --ca-cert "$PFLEX_SIM_CA" "${where[@]}" --data none --progress never \
        --report "$out/report-$name.html" "$@" >"$work/$name.out" 2>&1 || rc=$?
    [[ $rc == "$want" ]] || { cat "$work/$name.out"; echo "test-report-html: $name: exit $rc, expected $want" >&2; exit 1; }
}

chrome() {
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d -p "$work")" "$@" 2>/dev/null
}

# check NAME ARRAY VERDICT [FAILING_AREA SEED]: what the rendered page shows.
check() {
    local name=$1 file=$out/report-$1.html
    shift
    chrome --dump-dom "file://$PWD/$file" >"$work/$name.dom"
    chrome --window-size=1280,2000 --screenshot="$out/report-$name.png" "file://$PWD/$file" >/dev/null
    python3 - "$work/$name.dom" "$out/report-$name.png" "$@" <<'PY'
import sys
from html.parser import HTMLParser

dom, png, array, verdict = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
failing_area, seed = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)

class Page(HTMLParser):
    """Collects the text of the elements a reader looks at."""
    def __init__(self):
        super().__init__()
        self.stack, self.verdict, self.rows, self.steps, self.pre, self.text = [], "", [], [], "", ""
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("meta", "br"):
            return
        self.stack.append((tag, a.get("id", ""), a.get("class", "")))
        if tag == "tr" and any(i == "matrix" for _, i, _ in self.stack):
            self.rows.append([])
        if tag == "li" and any("sequence" in c for _, _, c in self.stack):
            self.steps.append("")
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass
    def handle_data(self, d):
        self.text += d
        ids = [i for _, i, _ in self.stack]
        tags = [t for t, _, _ in self.stack]
        if "verdict" in ids:
            self.verdict += d
        if "matrix" in ids and "td" in tags and self.rows:
            if tags[-1] == "td":
                self.rows[-1].append(d)
            else:
                self.rows[-1][-1] += d
        if "li" in tags and self.steps and any("sequence" in c for _, _, c in self.stack):
            self.steps[-1] += d
        if "pre" in tags:
            self.pre += d

p = Page()
p.feed(open(dom, encoding="utf-8").read())
areas = {
    "powerflex": ["Authentication", "Volumes and sizes", "Names", "VTree limit", "Snapshots", "Restore",
                  "Copy and clone_copy", "Mappings", "Errors", "CloudStack flows", "LXD flows"],
    "alletra": ["Pool volume set", "Volumes and sizes", "Names", "Snapshots", "Restore", "Physical copies",
                "Mappings", "Errors", "LXD flows"],
}[array]
assert p.verdict.strip() == verdict, f"verdict shown: {p.verdict!r}, expected {verdict}"
shown = {r[0].strip(): r[1].strip() for r in p.rows if len(r) >= 2}
assert list(shown) == areas, f"matrix rows: {list(shown)}"
if failing_area is None:
    assert all(v == "pass" for v in shown.values()), shown
    assert "Failures" in p.text and "None." in p.text
else:
    assert shown[failing_area] == "FAIL", f"{failing_area}: {shown[failing_area]} ({shown})"
    assert p.steps and all(s.strip() for s in p.steps), f"minimal sequence: {p.steps}"
    assert f"Seed {seed}" in p.text and f"--seed {seed}" in p.text, "seed and replay command"
    api = "/api/v1/" if array == "alletra" else "/api/"
    assert f"POST {api}" in p.pre or f"GET {api}" in p.pre or f"PUT {api}" in p.pre, "transcript"
    print(f"  failure shown: {len(p.steps)} steps, last {p.steps[-1].strip()}")
with open(png, "rb") as f:
    head = f.read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n", "a PNG screenshot"
w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
assert (w, h) == (1280, 2000), (w, h)
print(f"  rendered: verdict {p.verdict.strip()}, {len(shown)} matrix rows, screenshot {png}")
PY
}

echo "test-report-html: intact pflex-sim"
run intact 0 powerflex -- --cases 4 --seed 3
check intact powerflex PASSED
echo "test-report-html: pflex-sim --break allow-shrink"
run broken 1 powerflex --break allow-shrink -- --no-scenarios --cases 24 --seed 11 --max-shrink-iters 32
check broken powerflex FAILED "Volumes and sizes" 11
echo "test-report-html: intact alletra-sim"
run alletra-intact 0 alletra -- --cases 3 --seed 3
check alletra-intact alletra PASSED
echo "test-report-html: alletra-sim --break skip-granularity"
run alletra-broken 1 alletra --break skip-granularity -- --no-scenarios --cases 12 --seed 11 --max-shrink-iters 16
check alletra-broken alletra FAILED "Volumes and sizes" 11
echo "test-report-html: ok"
