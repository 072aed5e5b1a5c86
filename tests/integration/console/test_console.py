"""The web console in Debian's chromium against the real kube-apiserver (docs/console.md):
sign-in with a good and a bad token, the overview, a read-only user refused, an admin's
upgrade run to the end as status flows in, pre-check and node failure reasons, abort, the
cookie's flags and the CSRF refusal.

The rollout is the real cluster controller; the node agents are played by the test
(``AgentPlayer`` of tests/integration/upgrades/test_rollout.py writes each node's NodeUpgrade
status and heartbeat as its agent would); Node objects and their Ready condition are written
by the test (no kubelet).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from integration.agent.kubehelpers import wait_until
from integration.console.conftest import screenshot
from integration.upgrades.test_rollout import AgentPlayer, Rig
from stook_agent.api import NODE_LABEL
from stook_agent.networks.resources import NODE_NETWORK
from stook_agent.upgrades.resources import UPGRADE
from stook_console.views import DRAFT
from support.browser import (
    ConsoleProcess,
    User,
    confirm_upgrade,
    review_upgrade,
    sign_in,
    start_upgrade_in_console,
)

Players = Callable[..., AgentPlayer]
LONG = 120_000  # ms: a rollout step on a loaded machine


def review(page: Page, rig: Rig, version: str) -> str:
    """The review of an upgrade of this test's nodes; the rig's player and teardown know it."""
    name = review_upgrade(page, version, f"stook-test-run={rig.run}")
    rig.upgrades.append(name)
    return name


def csrf_of(page: Page) -> str:
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))


def test_sign_in_with_a_bad_then_a_good_token(
    page: Page, users: dict[str, User], console: ConsoleProcess
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile("/login"))
    page.get_by_label("Bearer token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did not accept this token")
    screenshot(page, "sign-in-refused")
    # By keyboard alone: the token field has the focus, Enter submits.
    expect(page.get_by_label("Bearer token")).to_be_focused()
    page.keyboard.type(users["viewer"].token)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user")).to_have_text(users["viewer"].name)
    expect(page.get_by_role("heading", name="Cluster overview")).to_be_visible()
    expect(page.locator("[data-zone]")).to_have_text("America/New_York")  # the browser's zone
    assert users["viewer"].token not in console.log_text()
    assert "not-a-token" not in console.log_text()


def test_the_overview_lists_the_nodes(page: Page, users: dict[str, User], rig: Rig) -> None:
    server = rig.node("cp", control_plane=True)
    worker = rig.node("w", booted={"fellBack": True})
    rig.set_ready(worker, False)
    networks = rig.client(NODE_NETWORK)  # what the control-plane node's agent would report
    networks.create({"apiVersion": NODE_NETWORK.api_version, "kind": NODE_NETWORK.kind,
                     "metadata": {"name": server, "labels": {NODE_LABEL: server}},
                     "spec": {"nodeName": server}})  # fmt: skip
    storage = {"clusterNetwork": "storage", "ready": True}
    management = {"address": "10.0.0.5/24", "vlanId": 10}
    networks.patch_status(server, {"management": management, "networks": [storage]})
    sign_in(page, users["viewer"])
    page.goto("/")
    cp_row, w_row = (
        page.locator(f"tr[data-node='{server}']"),
        page.locator(f"tr[data-node='{worker}']"),
    )
    expect(cp_row).to_contain_text("control plane")
    expect(cp_row.locator("td[data-label=Ready]")).to_have_text("✓ Ready")
    expect(cp_row.locator("td[data-label='OS version']")).to_have_text("1.0")
    expect(cp_row.locator("td[data-label='Booted slot']")).to_have_text("A")
    expect(cp_row.locator("td[data-label='Agent heartbeat'] time")).not_to_have_text(
        re.compile("Z$")  # shown in the browser's zone, not as the API's UTC text
    )
    expect(cp_row.locator("td[data-label=Networks]")).to_have_text(
        "management 10.0.0.5/24, VLAN 10; storage: ready"
    )
    expect(w_row.locator("td[data-label=Ready]")).to_have_text("✗ Not ready")
    expect(w_row.locator("td[data-label='Fell back']")).to_contain_text("Fell back")
    screenshot(page, "overview")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: rows become cards
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(w_row.locator("td[data-label=Ready]")).to_be_visible()
    screenshot(page, "overview-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    cp_row.get_by_role("link", name=server).click()
    expect(page.get_by_role("heading", name=f"Node {server}")).to_be_visible()
    expect(page.locator("dl.facts").nth(1)).to_contain_text("A running 1.0")
    screenshot(page, "node")


def test_a_read_only_user_cannot_start_an_upgrade(
    page: Page, users: dict[str, User], rig: Rig
) -> None:
    version = rig.os_version()
    sign_in(page, users["viewer"])
    page.goto("/versions")
    row = page.locator(f"tr[data-version='{version}']")
    button = row.get_by_role("button", name=re.compile("Upgrade to"))
    expect(button).to_be_disabled()
    reason = page.locator("#upgrade-refusal")
    expect(reason).to_contain_text(f"{users['viewer'].name} may not create upgrades.stook.io")
    # The disabled button is a courtesy: the API server refuses the request itself.
    row.locator("form").evaluate("form => form.submit()")
    expect(page.get_by_role("heading", name="The Kubernetes API refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("forbidden")
    upgrades, _ = rig.client(UPGRADE).list_objects()
    assert not [u for u in upgrades if u["spec"]["version"] == version]


def test_an_admin_runs_an_upgrade_to_the_end_as_status_flows_in(
    page: Page, users: dict[str, User], rig: Rig, player: Players
) -> None:
    first, second = rig.node("a", control_plane=True), rig.node("b")
    version = rig.os_version()
    rig.start_controller()
    playing = player()
    sign_in(page, users["admin"])
    screenshot_versions(page, version)
    name = review(page, rig, version)
    checks = page.get_by_test_id("checks")
    expect(checks).to_contain_text("NodeReady, AgentHeartbeat", timeout=LONG)  # live, no reload
    start = page.get_by_role("button", name="Start upgrade")
    expect(start).to_be_enabled()
    assert rig.cordoned() == set() and playing.answered == []  # nothing touched yet
    screenshot(page, "review")
    page.evaluate("window.notReloaded = true")
    start.click()  # the checkbox is required: the browser refuses the form without it
    assert rig.get(name).spec.paused is True
    page.get_by_label("I have read the release notes").check()
    start.click()
    page.wait_for_url(re.compile(f"/upgrades/{name}$"))
    page.evaluate("window.notReloaded = true")
    rows = {n: page.locator(f"tr[data-node='{n}']") for n in (first, second)}
    expect(rows[first].get_by_test_id("step")).to_have_text("✓ Succeeded", timeout=LONG)
    expect(page.get_by_test_id("phase")).to_have_text("✓ Succeeded", timeout=LONG)
    expect(page.get_by_test_id("progress")).to_have_text("2/2")
    assert page.evaluate("window.notReloaded") is True  # the watch brought it, not a reload
    times = rows[second].locator("td[data-label=Times] li")
    expect(times.first).to_contain_text("Draining")
    assert "Succeeded" in times.all_inner_texts()[-1]
    screenshot(page, "progress")
    page.goto("/upgrades")
    expect(page.locator(f"tr[data-upgrade='{name}']")).to_contain_text("Succeeded")
    screenshot(page, "upgrades")


def screenshot_versions(page: Page, version: str) -> None:
    page.goto("/versions")
    expect(page.locator(f"tr[data-version='{version}']")).to_be_visible()
    screenshot(page, "versions")


def test_a_pre_check_failure_shows_its_reason_and_cannot_start(
    page: Page, users: dict[str, User], rig: Rig
) -> None:
    down = rig.node("down")
    rig.set_ready(down, False)
    version = rig.os_version()
    rig.start_controller()
    sign_in(page, users["admin"])
    name = review(page, rig, version)
    expect(page.get_by_test_id("checks")).to_contain_text(f"NodeReady: {down} is not Ready",
                                                          timeout=LONG)  # fmt: skip
    page.get_by_label("I have read the release notes").check()
    expect(page.get_by_role("button", name="Start upgrade")).to_be_disabled()
    screenshot(page, "pre-check-failed")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile("/versions$"))
    wait_until(lambda: name not in names(rig), f"upgrade {name} to be deleted")


def names(rig: Rig) -> list[str]:
    upgrades, _ = rig.client(UPGRADE).list_objects()
    return [u["metadata"]["name"] for u in upgrades]


def test_a_node_failure_shows_its_reason_then_abort_uncordons(
    page: Page, users: dict[str, User], rig: Rig, player: Players
) -> None:
    failing = rig.node("a")
    rig.node("b")
    version = rig.os_version()
    rig.start_controller()
    player(fail={failing})
    sign_in(page, users["admin"])
    name = review(page, rig, version)
    confirm_upgrade(page)  # as an operator would in U1 (tests/e2e/test_upgrades.py)
    failure = page.get_by_test_id("failure")
    expect(failure).to_contain_text("fell back to slot A", timeout=LONG)
    expect(page.get_by_test_id("phase")).to_have_text("✗ Failed")
    assert rig.cordoned() == {failing}  # left for inspection
    screenshot(page, "node-failed")
    page.once("dialog", lambda dialog: dialog.accept())  # "Abort upgrade ...?"
    page.get_by_role("button", name="Abort").click()
    expect(page.get_by_test_id("phase")).to_have_text("■ Aborted", timeout=LONG)
    assert rig.cordoned() == set()
    assert rig.get(name).spec.abort is True


def test_the_cookie_flags_and_the_csrf_refusal(
    page: Page, users: dict[str, User], rig: Rig
) -> None:
    rig.node("a")
    version = rig.os_version()
    sign_in(page, users["admin"])
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["stook_console"]
    assert session["httpOnly"] is True and session["secure"] is True
    assert session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable from scripts
    name = review(page, rig, version)
    token = csrf_of(page)
    for form in ({}, {"csrf": "wrong"}):
        refused = page.request.post(f"/upgrades/{name}/abort", form=form, max_redirects=0)
        assert refused.status == 403 and "CSRF token" in refused.text()
    assert rig.get(name).spec.abort is False
    accepted = page.request.post(f"/upgrades/{name}/abort", form={"csrf": token},
                                 max_redirects=0)  # fmt: skip
    assert accepted.status == 303 and rig.get(name).spec.abort is True
    # Signing in again gives a new session id: one planted before sign-in is worthless.
    sign_in(page, users["admin"])
    assert {c["name"]: c for c in page.context.cookies()}["stook_console"]["value"] != (
        session["value"]
    )


def test_the_e2e_helper_starts_an_upgrade_from_a_console_of_its_own(
    rig: Rig, player: Players, tmp_path: Path, users: dict[str, User], browser: Browser
) -> None:
    """start_upgrade_in_console, as U1 (tests/e2e/test_upgrades.py) calls it: a console with
    --server/--ca-file, a user of its own, the review confirmed once the pre-checks pass.
    (*users*: the chart's roles are applied, as U1's pair fixture does.)"""
    rig.node("a")
    version = rig.os_version()
    rig.start_controller()
    player()
    selector = f"stook-test-run={rig.run}"
    name = start_upgrade_in_console(rig.api, tmp_path, version, selector, browser)
    rig.upgrades.append(name)
    started = rig.get(name)
    assert started.spec.paused is False and DRAFT not in started.metadata.annotations
    assert rig.wait_phase(name, "Succeeded", "Failed").status.phase == "Succeeded"
