"""Tier prerequisites: skip locally with a how-to, fail under CI=true (tiers never skip in CI)."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tier(ok: bool, what: str, how_to_enable: str) -> None:
    """Skip (locally) or fail (CI=true) when a tier's prerequisite *what* is missing."""
    if ok:
        return
    message = f"prerequisite missing: {what}. To enable: {how_to_enable}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: tiers never skip)", pytrace=False)
    pytest.skip(message)


def require_root() -> None:
    require_tier(os.geteuid() == 0, "root", "run the test command as root (sudo scripts/test.sh)")


def require_commands(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    require_tier(
        not missing,
        f"commands {', '.join(missing)}",
        "run scripts/bootstrap.sh test (installs the Debian packages the tests use)",
    )
