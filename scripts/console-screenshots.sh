#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png: the console's integration tests in Debian's chromium, at
# 1280x800 (and one at phone width), against the real test API server (docs/console.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STOOK_CONSOLE_SCREENSHOTS=1 .venv/bin/python -m pytest -q tests/integration/console "$@"
ls -l docs/screenshots
