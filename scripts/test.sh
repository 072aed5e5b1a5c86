#!/usr/bin/env bash
# Run all of Stook's checks and test tiers. On a fresh Debian 12 machine it installs what it needs
# first (Debian packages, .venv, Go-built test binaries). Run as root: the integration tier uses
# loop devices and network namespaces, the e2e tier QEMU.
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh -m unit         only a tier (extra arguments go to pytest)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Each step prints its wall time when it ends, and all of them once more at exit (also on a
# failure): the budget is 75 min on a fresh machine, so the log must show where time goes.
current="" current_start=$SECONDS
timings=()
end_step() {
  [[ -n $current ]] || return 0
  local took=$((SECONDS - current_start))
  printf '\033[1m== %s: %d min %02d s\033[0m\n' "$current" $((took / 60)) $((took % 60))
  timings+=("$(printf '%5d s  %s' "$took" "$current")")
  current=""
}
step() {
  end_step
  current="$*" current_start=$SECONDS
  printf '\n\033[1m== %s\033[0m\n' "$*"
}
summary() {
  end_step
  printf '\n\033[1m== wall time per step\033[0m\n'
  if ((${#timings[@]})); then printf '%s\n' "${timings[@]}"; fi
  printf '%5d s  total\n' "$SECONDS"
}
trap summary EXIT

step "set-up: bootstrap"
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
# A temp folder per checkout (pytest empties it at start): /tmp/pytest-of-root is shared by
# every session on the machine and keeps only three runs, so another run deleted our logs.
basetemp="/tmp/stook-pt-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
echo "pytest temp folder (serial logs, disks): $basetemp"
set +e
python -m pytest --basetemp="$basetemp" "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure of the test command" >&2
fi
exit $status
