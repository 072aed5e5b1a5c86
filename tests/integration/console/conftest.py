"""Fixtures for the console tests: the real kube-apiserver with Stook's CRDs and the chart's
console roles, a real ``stook-console`` process, Debian's chromium under Playwright, two users
(ServiceAccount tokens bound to stook-upgrade-operator and stook-console-viewer), and the
upgrade rig of the rollout tests (the real rollout controller; the node agents played by the
test, ``AgentPlayer``, which writes what a node's agent would: named as such there).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from playwright.sync_api import Browser, Page

from integration.agent.conftest import api, cluster  # noqa: F401 (shared fixtures)
from integration.upgrades.test_rollout import player, rig  # noqa: F401 (shared fixtures)
from support.apiserver import KubeCluster
from support.browser import ConsoleProcess, User, chromium, running_console, service_account_user
from support.chart import apply_chart

NAMESPACE = "stook-console-test"
REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="session")
def users(api: k8s.ApiClient) -> dict[str, User]:  # noqa: F811
    """The chart's console roles, bound to two ServiceAccounts (RBAC is real here)."""
    apply_chart(api)
    core = k8s.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    return {
        "admin": service_account_user(api, NAMESPACE, "console-admin", "stook-upgrade-operator"),
        "viewer": service_account_user(api, NAMESPACE, "console-viewer", "stook-console-viewer"),
    }


@pytest.fixture(scope="session")
def console(
    cluster: KubeCluster,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ConsoleProcess]:
    """The console in development mode against the test API server. The kubeconfig is the
    admin's, and the console must ignore its credentials (the viewer test shows it does)."""
    folder = tmp_path_factory.mktemp("console")
    with running_console(folder, "--kubeconfig", str(cluster.kubeconfig)) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the console's tests, stopped after them: Playwright's sync API runs an
    event loop in this thread until it stops, and every later asyncio.run() (the TUI tests,
    pyroute2) would fail with "cannot be called from a running event loop"."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, console: ConsoleProcess) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1280x800, in a zone other than UTC."""
    context = browser.new_context(
        base_url=console.url,
        ignore_https_errors=True,  # the console's self-signed default certificate
        viewport={"width": 1280, "height": 800},
        timezone_id="America/New_York",
    )
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """docs/screenshots/<name>.png when STOOK_CONSOLE_SCREENSHOTS=1
    (scripts/console-screenshots.sh), else nothing: a normal run leaves the committed ones."""
    if os.environ.get("STOOK_CONSOLE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
