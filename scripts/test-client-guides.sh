#!/usr/bin/env bash
# Runs every snippet of docs/clients/*.md marked `sh run`, `python run` or `yaml run` against a
# fresh pflex-sim, so the guides cannot drift from what works. Python snippets run with Dell's
# PyPowerFlex in the compatibility test's virtualenv; YAML snippets are playbooks, run with
# Dell's Ansible collection in the Ansible compatibility test's virtualenv; shell snippets with
# target/release on PATH (pflex, pflex-conformance). Blocks without `run` are shown to people
# only; each guide says why (a client this machine cannot run).
#
# Usage: scripts/test-client-guides.sh   (uses target/release binaries, or builds them)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

PYPOWERFLEX_VERSION=$(sed -n 's/^PYPOWERFLEX_VERSION=\([^ ]*\).*/\1/p' scripts/compat/pypowerflex.sh)
venv=${PFLEX_COMPAT_VENV:-$root/target/compat-venv}
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import PyPowerFlex" 2>/dev/null ||
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "PyPowerFlex==$PYPOWERFLEX_VERSION"
ANSIBLE_VERSION=$(sed -n 's/^ANSIBLE_VERSION=\([^ ]*\).*/\1/p' scripts/compat/ansible.sh)
ANSIBLE_PYPOWERFLEX=$(sed -n 's/^PYPOWERFLEX_VERSION=\([^ ]*\).*/\1/p' scripts/compat/ansible.sh)
ansible_venv=${PFLEX_ANSIBLE_VENV:-$root/target/compat-ansible-venv}
if [[ ! -x $ansible_venv/bin/ansible-playbook ]]; then
    python3 -m venv "$ansible_venv"
    "$ansible_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "ansible==$ANSIBLE_VERSION" "PyPowerFlex==$ANSIBLE_PYPOWERFLEX"
fi
for b in pflex-sim pflex pflex-conformance; do
    [[ -x target/release/$b ]] || { cargo build --release --workspace; break; }
done

work=$(mktemp -d)
trap 'bash scripts/ci/start-emulator.sh --stop --state-dir "$work/state" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
set -a
# shellcheck disable=SC1090
source <(PFLEX_SIM_BIN=target/release/pflex-sim bash scripts/ci/start-emulator.sh --state-dir "$work/state" \
    -- --data-plane file --no-fsync 2>/dev/null)
set +a
export PATH=$root/target/release:$PATH

# Extract: one file per runnable block, named guide:line.lang.
python3 - "$work/snippets" docs/clients/*.md <<'PY'
import os, re, sys
out = sys.argv[1]
os.makedirs(out)
for path in sys.argv[2:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w+) run\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang, body = i + 1, m.group(1), []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        ext = {"sh": "sh", "python": "py", "yaml": "yml"}[lang]
        name = f"{os.path.basename(path)}:{start}.{ext}"
        open(os.path.join(out, name), "w").write("\n".join(body) + "\n")
        i += 1
PY

count=0
for snippet in "$work"/snippets/*; do
    name=$(basename "$snippet")
    case $snippet in
        *.py) runner=("$venv/bin/python" "$snippet") ;;
        *.sh) runner=(bash -euo pipefail "$snippet") ;;
        *.yml) runner=(env REQUESTS_CA_BUNDLE="$PFLEX_SIM_CA" ANSIBLE_HOME="$work/ansible-home"
            ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" ANSIBLE_NOCOLOR=1
            "$ansible_venv/bin/ansible-playbook" -i localhost, -c local
            -e "ansible_python_interpreter=$ansible_venv/bin/python" "$snippet") ;;
    esac
    if ! (cd "$work" && "${runner[@]}") >"$work/out" 2>&1; then
        cat "$work/out"
        echo "test-client-guides: FAILED: ${name%.*} (docs/clients)" >&2
        exit 1
    fi
    echo "test-client-guides: ok  ${name%.*}: $(tail -n1 "$work/out")"
    count=$((count + 1))
done
((count >= 5)) || { echo "test-client-guides: only $count runnable snippets found" >&2; exit 1; }
echo "test-client-guides: $count snippets ran"
