"""The web console for tests: a real ``stook-console`` process on 127.0.0.1 and Debian's
chromium driven by Playwright (sync API).

Playwright's own browser download is not used: it launches /usr/bin/chromium (the Debian
package, scripts/bootstrap.sh test). The pinned playwright (pyproject.toml) drives that
chromium's version (checked when it was pinned: playwright 1.65.2, chromium 156).
"""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from support.apiserver import free_port
from support.tiers import require_tier

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 60.0


@dataclass
class ConsoleProcess:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _answers(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the console's self-signed default certificate
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2, context=context) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_console(kubeconfig: Path, workdir: Path, *extra: str) -> Iterator[ConsoleProcess]:
    """``stook-console --kubeconfig`` (the development mode) on a free port of 127.0.0.1."""
    port = free_port()
    log = workdir / f"console-{port}.log"
    argv = [sys.executable, "-m", "stook_console.cli", "--kubeconfig", str(kubeconfig),
            "--address", "127.0.0.1", "--port", str(port), *extra]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   env=os.environ | {"PYTHONUNBUFFERED": "1"})  # fmt: skip
    console = ConsoleProcess(f"https://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(console.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stook-console did not start; its log:\n{console.log_text()}")
            time.sleep(0.2)
        yield console
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Debian chromium under Playwright (yields a playwright Browser)."""
    require_tier(
        CHROMIUM.is_file(), f"{CHROMIUM} (Debian's chromium)", "run scripts/bootstrap.sh test"
    )
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()
