"""Test tiers: unit (tests/unit), integration (tests/integration), e2e (tests/e2e).

Each test is marked by the folder it lives in. Prerequisites are checked with the helpers in
support/tiers.py: locally a missing one skips with a message saying how to enable it; under
CI=true it fails, so CI can never pass by skipping a tier.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(TESTS.resolve())
        tier = relative.parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
