"""The console's page models from API objects (pure: no API server, no browser)."""

from __future__ import annotations

from typing import Any

import pytest

from stook_console import views

NODE_UPGRADE = {"apiVersion": "stook.io/v1alpha1", "kind": "NodeUpgrade"}


def node(name: str, ready: str | None = "True", **labels: str) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": conditions,
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}}  # fmt: skip


def report(name: str, **booted: Any) -> dict[str, Any]:
    status = {"booted": {"slot": "B", "version": "2.0"} | booted}
    return NODE_UPGRADE | {"metadata": {"name": name}, "spec": {"nodeName": name}, "status": status}


def upgrade(**status: Any) -> dict[str, Any]:
    meta = status.pop("metadata", {})
    spec = status.pop("spec", {})
    return {"metadata": {"name": "to-v2", "creationTimestamp": "2026-12-01T10:00:00Z"} | meta,
            "spec": {"version": "v2"} | spec, "status": status}  # fmt: skip


def test_node_rows_sort_by_name_and_say_role_ready_slot_and_fallback_in_words() -> None:
    rows = views.node_rows(
        [node("n2", ready="False"), node("n1", **{"node-role.kubernetes.io/control-plane": "true"}),
         node("n3", ready=None)],
        [{"metadata": {"name": "n1"}, "spec": {"nodeName": "n1"},
          "status": {"osVersion": "1.0", "bootedSlot": "A",
                     "lastHeartbeat": "2026-12-01T10:00:00Z"}}],
        [report("n2", fellBack=True, trial=False)],
        [{"metadata": {"name": "n1-aa"}, "spec": {"nodeName": "n1"}}] * 2,
    )  # fmt: skip
    assert [r.name for r in rows] == ["n1", "n2", "n3"]
    n1, n2, n3 = rows
    assert (n1.role, n1.ready, n1.os_version, n1.slot, n1.disks) == (
        "control plane", "Ready", "1.0", "A", 2)  # fmt: skip
    assert n1.heartbeat == "2026-12-01T10:00:00Z" and n1.networks == ["InternalIP 10.0.0.5"]
    # Without a NodeStatus, the NodeUpgrade's boot report tells version and slot.
    assert (n2.role, n2.ready, n2.os_version, n2.slot, n2.fell_back) == (
        "worker", "Not ready", "2.0", "B", True)  # fmt: skip
    assert (n3.ready, n3.os_version, n3.slot, n3.heartbeat) == ("Unknown", "unknown", "unknown",
                                                                None)  # fmt: skip


def test_a_draft_upgrade_can_start_only_once_its_pre_checks_passed() -> None:
    draft = {"annotations": {views.DRAFT: "true"}}
    checked = {"type": "Validated", "reason": "PreChecksFailed", "message": "NodeReady: n1 down",
               "lastTransitionTime": "2026-12-01T10:00:00Z"}  # fmt: skip
    failing = views.upgrade_view(upgrade(metadata=draft, spec={"paused": True}, phase="Invalid",
                                         conditions=[checked | {"status": "False"}]))  # fmt: skip
    assert failing.awaiting_confirmation and not failing.can_start
    assert failing.checks == "NodeReady: n1 down" and failing.actions == [
        "start",
        "cancel",
        "abort",
    ]
    good = checked | {"status": "True", "reason": "PreChecksPassed"}
    passed = views.upgrade_view(
        upgrade(metadata=draft, spec={"paused": True}, phase="Paused", conditions=[good])
    )
    assert passed.can_start
    unchecked = views.upgrade_view(upgrade(metadata=draft, spec={"paused": True}))
    assert unchecked.validated == "Unknown" and not unchecked.can_start


@pytest.mark.parametrize(
    ("spec", "phase", "actions"),
    [
        ({}, "Running", ["pause", "abort"]),
        ({"paused": True}, "Paused", ["resume", "abort"]),
        ({}, "Failed", ["pause", "retry", "abort"]),
        ({"abort": True}, "Running", []),
        ({}, "Succeeded", []),
        ({}, "Aborted", []),
    ],
)
def test_the_actions_offered_follow_the_phase(
    spec: dict[str, Any], phase: str, actions: list[str]
) -> None:
    assert views.upgrade_view(upgrade(spec=spec, phase=phase)).actions == actions


def test_node_progress_in_percent_with_times_in_step_order_and_the_failure_reason() -> None:
    nodes = [
        {"name": "n1", "step": "Failed", "totalBytes": 4096, "bytesDownloaded": 4096,
         "bytesWritten": 1024, "message": "fell back to slot A",
         "times": {"Rebooting": "2026-12-01T10:03:00Z", "Draining": "2026-12-01T10:00:00Z",
                   "Failed": "2026-12-01T10:05:00Z"}},
        {"name": "n2"},
    ]  # fmt: skip
    view = views.upgrade_view(upgrade(phase="Failed", nodes=nodes))
    n1, n2 = view.nodes
    assert (n1.downloaded, n1.written) == (100, 25)
    assert n1.bytes_text == "downloaded 4.0 KiB, written 1.0 KiB of 4.0 KiB"
    assert [step for step, _ in n1.times] == ["Draining", "Rebooting", "Failed"]
    assert view.failed_reason == "fell back to slot A" and view.progress == "0/2"
    assert (n2.step, n2.downloaded, n2.bytes_text, n2.can_skip) == ("Pending", None, "", True)


def test_running_upgrade_is_the_newest_unfinished_one() -> None:
    listed = views.upgrade_views([
        upgrade(phase="Succeeded"),
        upgrade(metadata={"name": "b", "creationTimestamp": "2026-12-02T00:00:00Z"},
                phase="Running"),
    ])  # fmt: skip
    assert [u.name for u in listed] == ["b", "to-v2"]
    current = views.running_upgrade(listed)
    assert current is not None and current.name == "b"
    assert views.running_upgrade(listed[1:]) is None


def test_events_newest_first() -> None:
    rows = views.event_rows([
        {"lastTimestamp": "2026-12-01T10:00:00Z", "type": "Normal", "reason": "A", "message": "a"},
        {"eventTime": "2026-12-01T11:00:00Z", "type": "Warning", "reason": "B", "count": 3},
    ])  # fmt: skip
    assert [(r.reason, r.count) for r in rows] == [("B", 3), ("A", 1)]


def test_a_node_selector_is_parsed_or_refused_naming_the_field() -> None:
    assert views.parse_selector(" a=b , stook.io/x=1,") == {"a": "b", "stook.io/x": "1"}
    assert views.parse_selector("") == {}
    for bad in ("novalue", "=b", "a=b c", "a/b/c=d"):
        with pytest.raises(views.SelectorError, match="Only nodes labelled"):
            views.parse_selector(bad)


def test_states_have_a_symbol_besides_their_colour() -> None:
    assert views.symbol("Failed") == "✗" and views.symbol("Succeeded") == "✓"
    assert views.symbol("Downloading") == "•"


def test_networks_from_the_node_network_report_else_the_node_addresses() -> None:
    network = {"metadata": {"name": "n1"}, "spec": {"nodeName": "n1"},
               "status": {"management": {"address": "10.0.0.5/24", "vlanId": 10},
                          "networks": [{"clusterNetwork": "storage", "ready": True,
                                        "vlanIds": [20, 21]},
                                       {"clusterNetwork": "vms", "ready": False}]}}  # fmt: skip
    rows = views.node_rows([node("n1"), node("n2")], [], [], [], [network])
    assert rows[0].networks == [
        "management 10.0.0.5/24, VLAN 10",
        "storage: ready (VLANs 20, 21)",
        "vms: not ready",
    ]
    assert rows[1].networks == ["InternalIP 10.0.0.5"]
