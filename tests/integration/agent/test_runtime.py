"""The reconcile runtime against a real kube-apiserver: reconcile, retry, finalizers, selection."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

import pytest
from kubernetes import client as k8s

from integration.agent.kubehelpers import (
    StateMirror,
    block_device,
    get_or_none,
    ready_generation,
    wait_until,
)
from stook_agent.blockdevice import NOT_FOUND, BlockDeviceReconciler
from stook_agent.disks.inventory import Inventory
from stook_agent.resources import NODE_LABEL
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.conditions import find_condition
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.metrics import Metrics

Start = Callable[..., tuple[Controller, StateMirror]]


def failure_levels(caplog: pytest.LogCaptureFixture, key: str) -> list[str]:
    """The levels of the runtime's "reconcile of <key> failed" log lines, in order."""
    return [
        r.levelname
        for r in caplog.records
        if r.name == "stook_agent.runtime.controller" and f"reconcile of {key} failed" in r.message
    ]


def test_a_created_object_is_reconciled_and_its_status_written(
    run_controller: Start, devices: ResourceClient, node: str
) -> None:
    _, mirror = run_controller(node)
    devices.create(block_device(f"{node}-sda", node, ["Active"]))

    obj = wait_until(
        lambda: (
            ready_generation(get_or_none(devices, f"{node}-sda")) == 1
            and devices.get(f"{node}-sda")
        ),
        "the new object's Ready condition",
    )
    assert obj["status"]["state"] == "Active"
    assert next(c[:3] for c in mirror.seen("reconcile")) == ("reconcile", f"{node}-sda", 1)


def test_status_conditions_carry_observed_generation(
    api: k8s.ApiClient, devices: ResourceClient, node: str
) -> None:
    inventory = Inventory()
    inventory.replace({})  # a scan that found no disks: hand-made objects are Inactive
    controller = Controller(
        "blockdevice",
        devices,
        BlockDeviceReconciler(devices, inventory, {}),
        Metrics(),
        options=ControllerOptions(label_selector=f"{NODE_LABEL}={node}"),
    )
    controller.start()
    try:
        key = f"{node}-sdb"
        devices.create(block_device(key, node))

        def ready(generation: int) -> dict[str, object] | None:
            condition = find_condition(devices.get(key), "Ready")
            ok = condition and condition.get("observedGeneration") == generation
            return condition if ok else None

        first = wait_until(lambda: ready(1), "Ready with observedGeneration 1")
        assert first["reason"] == NOT_FOUND and first["status"] == "False"

        devices.patch(key, {"spec": {"tags": ["fast"]}})  # a spec change: generation 2
        second = wait_until(lambda: ready(2), "Ready with observedGeneration 2")
        # Same status, so the transition time stays (Kubernetes condition semantics).
        assert second["lastTransitionTime"] == first["lastTransitionTime"]
    finally:
        controller.stop(drain_timeout=5)


def test_an_error_requeues_with_growing_delays_then_recovers(
    api: k8s.ApiClient,
    run_controller: Start,
    devices: ResourceClient,
    node: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="stook_agent.runtime.controller")
    controller, mirror = run_controller(node, backoff_base=0.1, backoff_cap=10.0)
    key = f"{node}-sdc"
    devices.create(block_device(key, node, ["Conflict"]))  # a stale write: 409, every time

    attempts = wait_until(
        lambda: (calls := [c for c in mirror.seen("reconcile") if c[1] == key])[4:] and calls,
        "five failed attempts",
    )
    times = [t for *_, t in attempts[:5]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each retry waits at least its back-off: 0.1, 0.2, 0.4, 0.8 s (lower bounds only).
    for gap, backoff in zip(gaps, [0.1, 0.2, 0.4, 0.8], strict=True):
        assert gap >= backoff, (gaps, "retried sooner than its back-off")
    wait_until(lambda: controller.queue.backoff.failures(key) >= 5, "five recorded failures")
    assert controller.metrics.errors.labels(controller.name)._value.get() >= 5

    events = k8s.CoreV1Api(api).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={key}"
    )
    warning = [e for e in events.items if e.reason == "ReconcileFailed"]
    assert warning and warning[0].type == "Warning" and warning[0].count >= 1
    assert warning[0].message.startswith("409 Conflict: "), warning[0].message
    assert "\n" not in warning[0].message and "HTTP response headers" not in warning[0].message
    # The log matches the events: two retried conflicts at INFO, a warning from the third on.
    levels = failure_levels(caplog, key)
    assert levels[:2] == ["INFO", "INFO"] and set(levels[2:5]) == {"WARNING"}, levels

    devices.patch(key, {"spec": {"tags": ["Inactive"]}})  # fixed: the next attempt succeeds
    wait_until(lambda: ready_generation(devices.get(key)) == 2, "recovery after the fix")
    assert devices.get(key)["status"]["state"] == "Inactive"
    wait_until(lambda: controller.queue.backoff.failures(key) == 0, "the back-off to be reset")


def test_a_conflict_a_retry_cures_is_a_normal_event_not_a_warning(
    api: k8s.ApiClient,
    run_controller: Start,
    devices: ResourceClient,
    node: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="stook_agent.runtime.controller")
    # Retries after 1 and 2 s: the cache has the other writer's version long before the third
    # attempt (a third conflict would be a Warning), even on a loaded machine.
    controller, mirror = run_controller(node, backoff_base=1.0)
    key = f"{node}-sdf"
    devices.create(block_device(key, node, ["Raced"]))  # another writer wins the first write

    wait_until(
        lambda: (devices.get(key).get("status") or {}).get("state") == "Active",
        "the status write after the lost race",
    )
    wait_until(lambda: controller.queue.backoff.failures(key) == 0, "the back-off to be reset")
    assert len([c for c in mirror.seen("reconcile") if c[1] == key]) >= 2
    events = k8s.CoreV1Api(api).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={key}"
    )
    retried = [e for e in events.items if e.reason == "ReconcileRetried"]
    assert retried and retried[0].type == "Normal", [(e.type, e.reason) for e in events.items]
    assert retried[0].message.startswith("409 Conflict: "), retried[0].message
    assert not [e for e in events.items if e.type == "Warning"], [e.reason for e in events.items]
    assert failure_levels(caplog, key) == ["INFO"]  # logged as the event: not a warning


def test_deleting_an_object_runs_the_finalizer(
    run_controller: Start, devices: ResourceClient, node: str
) -> None:
    _, mirror = run_controller(node, finalizer="stook.io/test-cleanup")
    key = f"{node}-sdd"
    devices.create(block_device(key, node))
    obj = wait_until(
        lambda: ready_generation(devices.get(key)) and devices.get(key), "the first reconcile"
    )
    assert obj["metadata"]["finalizers"] == ["stook.io/test-cleanup"]

    devices.delete(key)
    wait_until(lambda: get_or_none(devices, key) is None, "the object to be gone")
    finalized = [c for c in mirror.seen("finalize") if c[1] == key]
    assert len(finalized) >= 1
    wait_until(
        lambda: any(c[1] == key for c in mirror.seen("absent")), "the deletion to be observed"
    )


def test_an_agent_never_receives_another_nodes_objects(
    run_controller: Start, devices: ResourceClient, node: str
) -> None:
    other = f"{node}-other"
    for i in range(3):
        devices.create(block_device(f"{other}-d{i}", other))  # before the agent starts: list
    controller, mirror = run_controller(node)
    for i in range(3):
        devices.create(block_device(f"{other}-e{i}", other))  # after: watch
    for i in range(3):
        devices.create(block_device(f"{node}-d{i}", node))
    mine = {f"{node}-d{i}" for i in range(3)}
    # Events arrive in resourceVersion order, so once our last object is reconciled the watch
    # has carried everything created before it.
    wait_until(lambda: mine <= mirror.keys(), "this node's objects to be reconciled")

    assert mirror.keys() == mine
    assert set(controller.informer.keys()) == mine
    for i in range(3):
        assert ready_generation(devices.get(f"{other}-d{i}")) is None


def test_a_write_the_api_server_rejects_ends_as_a_condition_not_endless_retries(
    api: k8s.ApiClient, run_controller: Start, devices: ResourceClient, node: str
) -> None:
    controller, mirror = run_controller(node, backoff_base=0.1, backoff_cap=0.5)
    key = f"{node}-sde"
    devices.create(block_device(key, node, ["Broken"]))  # not a valid status.state: 422

    accepted = wait_until(
        lambda: find_condition(devices.get(key), "Accepted"), "the Accepted condition"
    )
    assert (accepted["status"], accepted["reason"]) == ("False", "Invalid")
    assert accepted["message"].startswith("422 Unprocessable Entity: ")
    assert 'Unsupported value: "Broken"' in accepted["message"]
    assert accepted["observedGeneration"] == 1
    attempts = len([c for c in mirror.seen("reconcile") if c[1] == key])
    time.sleep(3)  # with a 0.5 s back-off cap, retrying would have made about 6 more attempts
    assert len([c for c in mirror.seen("reconcile") if c[1] == key]) == attempts
    assert controller.queue.backoff.failures(key) == 0
    events = k8s.CoreV1Api(api).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={key}"
    )
    assert any(e.reason == "Rejected" and e.type == "Warning" for e in events.items)

    devices.patch(key, {"spec": {"tags": ["Inactive"]}})  # fixed: the next attempt succeeds
    wait_until(lambda: ready_generation(devices.get(key)) == 2, "the reconcile after the fix")
    wait_until(
        lambda: (find_condition(devices.get(key), "Accepted") or {}).get("status") == "True",
        "Accepted=True after the fix",
    )
