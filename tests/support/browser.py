"""The web console for tests: a real ``stook-console`` process on 127.0.0.1 and Debian's
chromium driven by Playwright (sync API).

Playwright's own browser download is not used: it launches /usr/bin/chromium (the Debian
package, scripts/bootstrap.sh test). The pinned playwright (pyproject.toml) drives that
chromium's version (checked when it was pinned: playwright 1.65.2, chromium 156).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from playwright.sync_api import Browser, Page, expect, sync_playwright

from support.apiserver import free_port
from support.tiers import require_tier

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 60.0
PRE_CHECKS_MS = 300_000  # the controller's pre-checks, on a loaded machine with VMs


@dataclass(frozen=True)
class User:
    name: str  # as the API server authenticates it
    token: str = field(repr=False)


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
def running_console(workdir: Path, *where: str) -> Iterator[ConsoleProcess]:
    """``stook-console`` on a free port of 127.0.0.1; *where* names the API server:
    ``--kubeconfig PATH`` (the development mode) or ``--server URL --ca-file PATH``."""
    port = free_port()
    log = workdir / f"console-{port}.log"
    argv = [sys.executable, "-m", "stook_console.cli", *where,
            "--address", "127.0.0.1", "--port", str(port)]  # fmt: skip
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


def service_account_user(admin: k8s.ApiClient, namespace: str, name: str, role: str) -> User:
    """A ServiceAccount bound to ClusterRole *role* (e.g. the chart's stook-upgrade-operator)
    and a one-hour token for it: a console user whose rights RBAC decides."""
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    with contextlib.suppress(ApiException):  # 409: made by an earlier call, kept
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    with contextlib.suppress(ApiException):
        rbac.create_cluster_role_binding({
            "metadata": {"name": f"{namespace}-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        })  # fmt: skip
    token = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    )
    return User(f"system:serviceaccount:{namespace}:{name}", str(token.status.token))


def sign_in(page: Page, user: User) -> None:
    page.goto("/login")
    page.get_by_label("Bearer token").fill(user.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user")).to_have_text(user.name)


def review_upgrade(page: Page, version: str, selector: str) -> str:
    """OS versions -> *Upgrade to* (only nodes matching *selector*) -> the review page; returns
    the Upgrade's name (created paused, awaiting confirmation)."""
    page.goto("/versions")
    row = page.locator(f"tr[data-version='{version}']")
    row.get_by_label("Only nodes labelled").fill(selector)
    row.get_by_role("button", name=re.compile("Upgrade to")).click()
    page.wait_for_url(re.compile(r"/upgrades/to-"))
    return page.url.rsplit("/", 1)[1]


def confirm_upgrade(page: Page) -> None:
    """On the review page: wait for the pre-checks to pass, tick "I have read the release
    notes", Start."""
    start = page.get_by_role("button", name="Start upgrade")
    expect(start).to_be_enabled(timeout=PRE_CHECKS_MS)
    page.get_by_label("I have read the release notes").check()
    start.click()
    expect(page.get_by_role("button", name="Start upgrade")).to_have_count(0)


def start_upgrade_in_console(
    admin: k8s.ApiClient,
    workdir: Path,
    version: str,
    selector: str,
    browser: Browser | None = None,
) -> str:
    """An operator's clicks: a console on this host against *admin*'s API server, a
    stook-upgrade-operator user signed in from chromium (*browser*, or one launched here), the
    upgrade to OSVersion *version* of the nodes matching *selector* reviewed and started.
    Returns the Upgrade's name."""
    configuration = admin.configuration
    user = service_account_user(admin, "default", "console-operator", "stook-upgrade-operator")
    where = ("--server", str(configuration.host), "--ca-file", str(configuration.ssl_ca_cert))
    with contextlib.ExitStack() as stack:
        console = stack.enter_context(running_console(workdir, *where))
        launched = browser or stack.enter_context(chromium())
        context = launched.new_context(base_url=console.url, ignore_https_errors=True)
        stack.callback(context.close)
        page = context.new_page()
        sign_in(page, user)
        name = review_upgrade(page, version, selector)
        confirm_upgrade(page)
    return name
