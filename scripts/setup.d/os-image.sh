#!/usr/bin/env bash
# Build the node OS image the e2e tier installs and boots (iso-build/build-rootfs.sh), before
# pytest runs, so its minutes show as progress here rather than inside a test's time limit.
# Cached under ~/.cache/stook/e2e/<hash of the sources>: a second run returns at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[[ -n ${STOOK_OS_IMAGE:-} ]] && exit 0
cd "$ROOT"
PYTHONPATH=tests python tests/support/os_image.py
