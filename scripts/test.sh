#!/usr/bin/env bash
# Run all of Stook's checks and test tiers. On a fresh Debian 12 machine it installs what it needs
# first (Debian packages, .venv, Go-built test binaries). Run as root: the integration tier uses
# loop devices and network namespaces, the e2e tier QEMU.
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh -m unit         only a tier (extra arguments go to pytest)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "set-up"
scripts/bootstrap.sh base test
# shellcheck disable=SC1091
source .venv/bin/activate
for setup in scripts/setup.d/*.sh; do
  [[ -e $setup ]] || continue
  step "set-up: $(basename "$setup" .sh)"
  bash "$setup"
done

step "lint: ruff"
ruff check .
ruff format --check .

step "types: mypy"
mypy

for extra in scripts/checks.d/*.sh; do
  [[ -e $extra ]] || continue
  step "check: $(basename "$extra" .sh)"
  bash "$extra"
done

step "tests: pytest (unit, integration, e2e)"
set +e
python -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure of the test command" >&2
fi
exit $status
