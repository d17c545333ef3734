#!/usr/bin/env bash
# PyPowerFlex compatibility test: Dell's official Python SDK (PyPI "PyPowerFlex", pinned,
# unmodified) drives a freshly started pflex-sim over HTTPS with certificate verification.
#
#   bash scripts/compat/pypowerflex.sh
#
# Environment (all optional):
#   PFLEX_SIM          simulator binary to use (default: `cargo build -p powerflex-sim`, then
#                      target/debug/pflex-sim)
#   PFLEX_COMPAT_VENV  virtualenv cache (default: target/compat-venv)
#   PYTHON             interpreter used to create the venv (default: python3)
#   PFLEX_SIM_ARGS     extra `pflex-sim serve` flags, word-split (e.g. "--data-plane file")
#   PFLEX_SDK_LOG      SDK log level (default CRITICAL; ERROR/DEBUG to see its logs)
#   KEEP_STATE=1       keep the simulator's temporary state dir and log
#
# Exits non-zero if anything fails (setup, server start, or any check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PYPOWERFLEX_VERSION=2.0.1          # latest on PyPI when this test was written
VENV=${PFLEX_COMPAT_VENV:-$ROOT/target/compat-venv}
COMPAT_TAG=compat
# shellcheck source=scripts/compat/lib.sh
. "$ROOT/scripts/compat/lib.sh"

# ---- 1. virtualenv with the pinned SDK (cached; reinstalled only if the pin changes) ----
compat_venv "$VENV" "PyPowerFlex==$PYPOWERFLEX_VERSION"
say "PyPowerFlex $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("PyPowerFlex"))') in $VENV"

# ---- 2. the simulator binary; 3. our own simulator on a free loopback port ----
compat_sim_binary pflex-sim
compat_start_sim "$VENV/bin/python"
sed -n '1,8p' "$LOG"

# ---- 4. run the SDK tests: the volume core, then the system inventory ----
rc=0
for test in test_pypowerflex.py test_pypowerflex_inventory.py; do
    # test_pypowerflex_inventory.py imports test_pypowerflex.py: no __pycache__ in the tree
    PYTHONDONTWRITEBYTECODE=1 PFLEX_HOST=127.0.0.1 PFLEX_PORT=$PORT PFLEX_USER=admin PFLEX_PASSWORD='Password123!' PFLEX_CA=$CA \
        "$VENV/bin/python" "$ROOT/scripts/compat/$test" || rc=1
done

echo
if [ "$rc" -eq 0 ]; then
    say "PASS: PyPowerFlex $PYPOWERFLEX_VERSION works against pflex-sim"
else
    printf '\033[1;31m[compat] FAIL:\033[0m PyPowerFlex %s against pflex-sim (see FAILED lines above)\n' "$PYPOWERFLEX_VERSION" >&2
fi
exit "$rc"
