"""The ManagementChange rollout on the real kube-apiserver, through the chart's
stook-controller RBAC: one node at a time by name, the next only once the node before committed,
stop at the first node that rolled back (naming it and its failed probes), one change at a
time. The nodes' results are written by the test as the nodes (``report_as_node``): the node
side's checkpoint and probes are tested on QEMU (tests/e2e/test_networks.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import wait_until
from integration.networks.conftest import Kube
from stook_agent.api import ManagementChange
from stook_agent.networks.cluster import NetworkCluster

Report = Callable[[str, str, dict[str, Any]], None]


def change(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "stook.io/v1alpha1",
        "kind": "ManagementChange",
        "metadata": {"name": name},
        "spec": {"nodeSelector": selector} | spec,
    }


@pytest.fixture
def create_change(kube: Kube) -> Iterator[Callable[..., None]]:
    """Create ManagementChanges; deleted after the test (one runs at a time cluster-wide, so a
    test's change left running would hold up the next test's)."""
    made: list[str] = []

    def create(name: str, selector: dict[str, str], **spec: Any) -> None:
        kube.create("managementchanges", change(name, selector, **spec))
        made.append(name)

    yield create
    for name in made:
        with contextlib.suppress(ApiException):
            kube.delete("managementchanges", name)


def result(change: ManagementChange, node: str, phase: str, **extra: Any) -> dict[str, Any]:
    """The node's report for its request, as its agent would write it."""
    entry = next(n for n in change.status.nodes if n.name == node)
    assert entry.request is not None
    last = {"change": change.metadata.name, "request": entry.request, "phase": phase} | extra
    return {"management": {"nics": ["ens3"], "lastChange": last}}


def test_one_node_at_a_time_and_stop_at_the_first_rollback(
    kube: Kube,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    report_as_node: Report,
    create_change: Callable[..., None],
    tag: str,
) -> None:
    first, second, third = nodes(3, pool=f"r{tag}")
    run_networks(via=controller_api)
    create_change(f"mtu-{tag}", {"pool": f"r{tag}"}, mtu=9000)
    create_change(f"next-{tag}", {"pool": f"r{tag}"}, mtu=1500)

    def now(name: str) -> ManagementChange:
        return ManagementChange.parse(kube.get("managementchanges", name) or {})

    def phases(name: str) -> list[str]:
        return [n.phase for n in now(name).status.nodes]

    wait_until(
        lambda: phases(f"mtu-{tag}") == ["Applying", "Pending", "Pending"],
        "the first node handed over, alone",
    )
    running = now(f"mtu-{tag}")
    assert [n.name for n in running.status.nodes] == [first, second, third]
    assert running.status.current == first and running.status.progress == "0/3"
    # The second change waits for the first.
    waiting = wait_until(lambda: (c := now(f"next-{tag}")).status.message and c, "the wait")
    assert waiting.status.phase == "Pending" and f"mtu-{tag}" in waiting.status.message

    # The first node is applying, then commits: the second goes.
    report_as_node("NodeNetwork", first, result(running, first, "Applied", probes=["gateway"]))
    wait_until(lambda: phases(f"mtu-{tag}")[0] == "Applied", "the first node's Applied")
    assert phases(f"mtu-{tag}")[1] == "Pending"  # not before the first committed
    report_as_node("NodeNetwork", first, result(running, first, "Committed", probes=["gateway"]))
    wait_until(
        lambda: phases(f"mtu-{tag}") == ["Committed", "Applying", "Pending"],
        "the second node handed over",
    )

    # The second rolls back: the change stops there, the third is never handed over.
    running = now(f"mtu-{tag}")
    report_as_node(
        "NodeNetwork",
        second,
        result(
            running,
            second,
            "RolledBack",
            probes=["gateway", "apiserver"],
            failedProbes=["gateway"],
            message="no reply from 10.0.0.1 after the change",
        ),
    )
    wait_until(lambda: now(f"mtu-{tag}").status.phase == "Failed", "the change to stop")
    stopped = now(f"mtu-{tag}")
    assert phases(f"mtu-{tag}") == ["Committed", "RolledBack", "Pending"]
    assert (
        f"stopped at node {second}: RolledBack (failed probes: gateway)" in stopped.status.message
    )
    assert stopped.status.nodes[1].failed_probes == ["gateway"]

    # Only now the next change starts (one at a time).
    wait_until(lambda: now(f"next-{tag}").status.phase == "Running", "the next change to start")


def test_a_change_that_cannot_be_carried_out_fails_before_any_node(
    kube: Kube,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    create_change: Callable[..., None],
    tag: str,
) -> None:
    one, two = nodes(2, pool=f"s{tag}")
    run_networks(via=controller_api)
    create_change(
        f"static-{tag}",
        {"pool": f"s{tag}"},
        static={"addresses": {one: "10.0.0.5/24"}, "gateway": "10.0.0.1"},
    )
    failed = wait_until(
        lambda: (
            (
                c := ManagementChange.parse(kube.get("managementchanges", f"static-{tag}") or {})
            ).status.phase
            == "Failed"
            and c
        ),
        "the change refused",
    )
    assert f"spec.static.addresses has no address for {two}" in failed.status.message
    assert failed.status.nodes == []
