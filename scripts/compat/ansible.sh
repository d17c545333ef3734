#!/usr/bin/env bash
# Ansible compatibility test: Dell's collection `dellemc.powerflex`, as shipped in PyPI's
# `ansible` package (pinned, unmodified), runs scripts/compat/ansible/playbook.yml against a
# freshly started pflex-sim over HTTPS with certificate verification.
#
#   bash scripts/compat/ansible.sh
#
# Environment (all optional):
#   PFLEX_SIM            simulator binary to use (default: `cargo build -p powerflex-sim`, then
#                        target/debug/pflex-sim)
#   PFLEX_ANSIBLE_VENV   virtualenv cache (default: target/compat-ansible-venv; separate from
#                        the PyPowerFlex 2.x one, since the collection needs the 1.14 line)
#   PYTHON               interpreter used to create the venv (default: python3)
#   PFLEX_SIM_ARGS       extra `pflex-sim serve` flags, word-split
#   ANSIBLE_VERBOSE=1    also list every task that succeeded (the default: one line per area,
#                        each failure with its message, and "ansible: N passed, N failed")
#   KEEP_STATE=1         keep the temporary state dir after a success too (it is always kept
#                        on a failure): server.log, and playbook/ansible_powerflex.log, the
#                        collection's own log of every SDK call and error
#
# Exits non-zero if anything fails (setup, server start, or any assertion in the playbook).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

ANSIBLE_VERSION=12.3.0      # newest `ansible` whose ansible-core (2.19) runs on Python 3.11
COLLECTION_VERSION=2.6.1    # the dellemc.powerflex that ansible 12.3.0 ships
PYPOWERFLEX_VERSION=1.14.1  # the collection's requirements.txt pin (its modules refuse older)
VENV=${PFLEX_ANSIBLE_VENV:-$ROOT/target/compat-ansible-venv}
COMPAT_TAG=ansible
# shellcheck source=scripts/compat/lib.sh
. "$ROOT/scripts/compat/lib.sh"

# ---- 1. virtualenv with ansible and the SDK the collection needs (cached) ----
compat_venv "$VENV" "ansible==$ANSIBLE_VERSION" "PyPowerFlex==$PYPOWERFLEX_VERSION"
have=$("$VENV/bin/python" - <<'PY' 2>/dev/null || true
import json, os, ansible_collections.dellemc.powerflex as c
print(json.load(open(os.path.join(list(c.__path__)[0], "MANIFEST.json")))["collection_info"]["version"])
PY
)
[ "$have" = "$COLLECTION_VERSION" ] \
    || die "ansible $ANSIBLE_VERSION in $VENV ships dellemc.powerflex '${have:-none}', expected $COLLECTION_VERSION"
say "ansible $ANSIBLE_VERSION, dellemc.powerflex $COLLECTION_VERSION, PyPowerFlex $PYPOWERFLEX_VERSION in $VENV"

# ---- 2. the simulator binary; 3. our own simulator on a free loopback port ----
compat_sim_binary pflex-sim
compat_start_sim "$VENV/bin/python"

# ---- 4. the playbook ----
# It runs from a copy in the state dir, with Ansible's home and temp dirs there too: Ansible
# runs local modules in the playbook's directory, and the collection's modules append to an
# ansible_powerflex.log in theirs, so nothing lands in the work tree or in ~/.ansible.
PLAY=$STATE/playbook
cp -r "$ROOT/scripts/compat/ansible" "$PLAY"
cat >"$STATE/vars.json" <<JSON
{"pflex_port": $PORT, "pflex_ca": "$CA", "pflex_user": "admin", "pflex_password": "Password123!",
 "ansible_python_interpreter": "$VENV/bin/python"}
JSON
say "running scripts/compat/ansible/playbook.yml"
rc=0
ANSIBLE_CONFIG=$PLAY/ansible.cfg ANSIBLE_HOME=$STATE/ansible-home ANSIBLE_REMOTE_TMP=$STATE/ansible-home/tmp \
    PYTHONDONTWRITEBYTECODE=1 timeout 600 "$VENV/bin/ansible-playbook" -i localhost, -e "@$STATE/vars.json" \
    "$PLAY/playbook.yml" || rc=$?

echo
if [ "$rc" -eq 0 ]; then
    say "PASS: dellemc.powerflex $COLLECTION_VERSION works against pflex-sim"
elif [ "$rc" -eq 124 ]; then
    die "ansible-playbook did not finish within 600 s"
else
    die "dellemc.powerflex $COLLECTION_VERSION against pflex-sim (ansible-playbook exit $rc; see the failures above)"
fi
