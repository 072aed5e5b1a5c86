"""Fixtures of the e2e tier."""

from __future__ import annotations

import pytest

from support.live_install import Installed, live_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One unattended live install per session (support/live_install.py); never booted itself."""
    return live_install(tmp_path_factory.mktemp("installed"))
