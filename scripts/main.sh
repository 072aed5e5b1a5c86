#!/usr/bin/env bash
# The main job. Today (until the ISO issue lands): the installer, unattended and in dry-run mode,
# plans the install of a bundled example config onto a bundled machine profile and prints every
# command and file it would run or write, touching nothing. Sets itself up on a fresh Debian 12.
#   scripts/main.sh [--machine PROFILE] [--config FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
machine="installer/stook_installer/profiles/os-and-data.json"
config="installer/stook_installer/examples/create.yaml"
while (($#)); do
  case "$1" in
    --machine) machine="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    *) echo "usage: scripts/main.sh [--machine PROFILE] [--config FILE]" >&2; exit 2 ;;
  esac
done
scripts/bootstrap.sh base
exec .venv/bin/stook-installer --automatic --dry-run --machine "$machine" --config "$config"
