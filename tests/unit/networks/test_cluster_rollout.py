"""The ManagementChange rollout's decision (``step``): a pure function of the change, the nodes
and their reports, at a given time (a fixed datetime stands in for the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stook_agent.api import ManagementChange, NodeNetwork, VMNetwork
from stook_agent.networks.cluster_rollout import Facts, running_change, step

NOW = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
NODES = {"a": {"pool": "p"}, "b": {"pool": "p"}, "c": {"pool": "p"}, "x": {}}


def _change(
    name: str = "c1", created: str = "2026-12-01T00:00:00Z", **spec: Any
) -> ManagementChange:
    return ManagementChange.parse(
        {
            "metadata": {"name": name, "uid": "u1", "creationTimestamp": created},
            "spec": {"nodeSelector": {"pool": "p"}, "mtu": 9000, **spec},
        }
    )


def _report(node: str, request: str, phase: str, **extra: Any) -> NodeNetwork:
    return NodeNetwork.parse(
        {
            "metadata": {"name": node},
            "spec": {"nodeName": node},
            "status": {
                "management": {
                    "nics": ["ens3"],
                    "lastChange": {"change": "c1", "request": request, "phase": phase, **extra},
                }
            },
        }
    )


def _facts(
    reports: dict[str, NodeNetwork] | None = None,
    now: datetime = NOW,
    running: str | None = None,
    vm_networks: list[VMNetwork] | None = None,
) -> Facts:
    return Facts(NODES, reports or {}, vm_networks or [], running, now)


def _phases(change: ManagementChange) -> list[str]:
    return [n.phase for n in change.status.nodes]


def test_nodes_go_one_at_a_time_by_name_each_after_the_one_before_committed() -> None:
    change = step(_change(), _facts())
    assert change.status.phase == "Running" and _phases(change) == [
        "Applying",
        "Pending",
        "Pending",
    ]
    assert [n.name for n in change.status.nodes] == ["a", "b", "c"]
    assert change.status.nodes[0].request == "u1/1" and change.status.current == "a"
    assert step(change, _facts()) == change  # nothing new: nothing to write
    applied = step(change, _facts({"a": _report("a", "u1/1", "Applied")}))
    assert _phases(applied) == ["Applied", "Pending", "Pending"]
    stale = step(change, _facts({"a": _report("a", "other/1", "Committed")}))
    assert _phases(stale) == ["Applying", "Pending", "Pending"]  # another request's result
    committed = step(applied, _facts({"a": _report("a", "u1/1", "Committed")}))
    assert _phases(committed) == ["Committed", "Applying", "Pending"]
    assert committed.status.progress == "1/3"


def test_the_first_rollback_stops_the_change_naming_the_node_and_probes() -> None:
    change = step(_change(), _facts())
    reports = {
        "a": _report(
            "a",
            "u1/1",
            "RolledBack",
            probes=["gateway", "dns"],
            failedProbes=["gateway"],
            message="gateway silent",
        )
    }
    stopped = step(change, _facts(reports))
    assert stopped.status.phase == "Failed" and _phases(stopped) == [
        "RolledBack",
        "Pending",
        "Pending",
    ]
    assert stopped.status.message.startswith(
        "stopped at node a: RolledBack (failed probes: gateway): gateway silent"
    )
    assert step(stopped, _facts()) == stopped  # final


def test_max_concurrent_and_waiting_for_the_nodes_in_flight() -> None:
    change = step(_change(maxConcurrent=2), _facts())
    assert _phases(change) == ["Applying", "Applying", "Pending"]
    one_failed = step(change, _facts({"a": _report("a", "u1/1", "Failed", message="no ens9")}))
    assert one_failed.status.phase == "Running" and _phases(one_failed)[2] == "Pending"
    assert "waiting for the nodes in flight" in one_failed.status.message


def test_a_node_that_never_reports_fails_after_the_checkpoint_and_a_grace() -> None:
    change = step(_change(rollbackAfterSeconds=60), _facts())
    assert step(change, _facts(now=NOW + timedelta(seconds=170))).status.phase == "Running"
    late = step(change, _facts(now=NOW + timedelta(seconds=181)))
    assert (
        late.status.phase == "Failed" and "no result from the node" in late.status.nodes[0].message
    )


def test_one_change_at_a_time_and_bad_changes_fail_before_touching_a_node() -> None:
    older = _change("c0", "2026-11-30T00:00:00Z")
    assert running_change(_change(), [older]) == "c0"
    assert running_change(older, [_change()]) is None
    waiting = step(_change(), _facts(running="c0"))
    assert (
        waiting.status.phase == "Pending"
        and "waits for ManagementChange c0" in waiting.status.message
    )

    # A node still in the trial of a change deleted mid-rollout holds the next one back.
    trial = {"a": _report("a", "gone/1", "Applied", time="2026-12-01T23:59:00Z")}
    held = step(_change(), _facts(trial))
    assert held.status.phase == "Pending" and "the trial on a (c1) to end" in held.status.message
    # ... but not for ever: beyond the longest checkpoint the report is stale.
    assert step(_change(), _facts(trial, now=NOW + timedelta(hours=1))).status.phase == "Running"

    static = _change(static={"addresses": {"a": "10.0.0.5/24", "x": "10.0.0.9/24"}})
    refused = step(static, _facts())
    assert refused.status.phase == "Failed" and refused.status.nodes == []
    assert "no address for b, c" in refused.status.message
    assert "names nodes the change does not select: x" in refused.status.message
    on_vm_vlan = VMNetwork.parse(
        {
            "metadata": {"name": "v", "namespace": "ns"},
            "spec": {"clusterNetwork": "mgmt", "vlanId": 30},
        }
    )
    clash = step(_change(vlanId=30), _facts(vm_networks=[on_vm_vlan]))
    assert "spec.vlanId 30 is the VLAN of VMNetwork ns/v on mgmt" in clash.status.message
    nobody = step(_change(nodeSelector={"pool": "none"}), _facts())
    assert "no node matches spec.nodeSelector" in nobody.status.message
