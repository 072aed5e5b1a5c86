"""Fixtures of the e2e tier."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from support.live_install import Installed, live_install
from support.qemu import serial_tail


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One unattended live install per session (support/live_install.py); never booted itself."""
    return live_install(tmp_path_factory.mktemp("installed"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Every failing e2e test shows the end of each serial console log in its tmp dir, or in
    the ``folder`` of a module's booted node it uses (and names the file, which stays there),
    whichever assertion failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    folders = [funcargs.get("tmp_path")] + [getattr(v, "folder", None) for v in funcargs.values()]
    for folder in dict.fromkeys(f for f in folders if isinstance(f, Path)):
        for log in sorted(folder.glob("**/*.log")):
            report.sections.append((f"serial console {log}", serial_tail(log, 3000)))
