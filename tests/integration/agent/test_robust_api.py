"""Robust API use against a real kube-apiserver: frozen connections, watches that end at once,
stuck reconciles."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config

from integration.agent.kubehelpers import (
    StateMirror,
    TcpProxy,
    WatchEndingProxy,
    block_device,
    ready_generation,
    wait_until,
)
from stook_agent.resources import NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.controller import Controller, ControllerOptions, Reconciler, Result
from stook_agent.runtime.manager import Manager, ManagerSettings
from support.apiserver import KubeCluster, write_kubeconfig
from support.tiers import require_tier

Start = Callable[..., tuple[Controller, StateMirror]]


def test_a_status_write_on_a_frozen_connection_recovers(
    proxy: TcpProxy,
    api_via_proxy: k8s.ApiClient,
    run_controller: Start,
    devices: ResourceClient,
    node: str,
) -> None:
    controller, _ = run_controller(node, via=api_via_proxy, timeout=(2.0, 3.0), backoff_base=0.2)
    key = f"{node}-sdf"
    devices.create(block_device(key, node, ["Active"]))
    wait_until(lambda: ready_generation(devices.get(key)) == 1, "the first reconcile")

    proxy.freeze()  # every connection (pooled ones, the watch, new ones) goes silent
    devices.patch_status(key, {"state": "Inactive"})  # drift the agent's frozen watch misses
    controller.queue.add(key)  # a reconcile now: its status write meets a frozen connection
    time.sleep(4)
    assert devices.get(key)["status"]["state"] == "Inactive"
    proxy.thaw()  # new connections work again; the frozen ones stay frozen for good

    # The bound: a few read timeouts (3 s each, one per frozen pooled connection) and back-offs.
    wait_until(
        lambda: devices.get(key)["status"]["state"] == "Active",
        "the status write to get through on a fresh connection",
        timeout=30,
    )
    assert controller.metrics.errors.labels(controller.name)._value.get() >= 1


@pytest.fixture
def watch_ending_api(
    cluster: KubeCluster, tmp_path: Path
) -> Iterator[tuple[k8s.ApiClient, WatchEndingProxy]]:
    require_tier(
        cluster.controllable, "a local test API server (its CA)", "unset STOOK_TEST_KUBECONFIG"
    )
    assert cluster.workdir is not None
    pki = cluster.workdir / "pki"
    front = WatchEndingProxy(cluster.port, pki)
    path = tmp_path / "kubeconfig-watch-ending"
    write_kubeconfig(path, f"https://127.0.0.1:{front.port}", pki)
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(path))
    yield client, front
    front.close()


def test_a_watch_that_ends_at_once_is_reopened_at_a_bounded_rate(
    watch_ending_api: tuple[k8s.ApiClient, WatchEndingProxy],
    run_controller: Start,
    devices: ResourceClient,
    node: str,
) -> None:
    via, front = watch_ending_api
    key = f"{node}-sdg"
    devices.create(block_device(key, node, ["Active"]))
    controller, _ = run_controller(node, via=via, watch_max_backoff=2.0)
    wait_until(lambda: ready_generation(devices.get(key)) == 1, "the reconcile after the list")

    before = front.watches
    time.sleep(6)
    opened = front.watches - before
    # Back-off 0.2, 0.4, 0.8, 1.6, then 2 s (x 0.5-1 jitter): about 6 in 6 s. Without it, the
    # informer reopens as fast as the proxy answers: hundreds.
    assert 2 <= opened <= 15, f"{opened} watches opened in 6 s"
    assert controller.metrics.watch_errors.labels(controller.name)._value.get() >= opened - 1


class BlockingReconcilerTestDouble(Reconciler):
    """A reconcile that hangs until released (what a hung call without a timeout would do)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def reconcile(self, obj: Object) -> Result:
        self.release.wait(60)
        return Result()


def test_a_reconcile_stuck_past_its_bound_fails_healthz(
    api: k8s.ApiClient, devices: ResourceClient, node: str
) -> None:
    manager = Manager(api, ManagerSettings(metrics_port=0, drain_timeout=2.0))
    blocking = BlockingReconcilerTestDouble()
    manager.add(
        Controller(
            "stuck",
            devices,
            blocking,
            manager.metrics,
            options=ControllerOptions(label_selector=f"{NODE_LABEL}={node}", stuck_after=1.0),
        )
    )
    stop = threading.Event()
    runner = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    runner.start()
    url = f"http://127.0.0.1:{manager.health.port}/healthz"
    try:
        wait_until(manager.ready, "the manager to be ready")
        assert _status(url) == 200
        devices.create(block_device(f"{node}-sdh", node))
        wait_until(lambda: _status(url) == 503, "/healthz to fail on the stuck reconcile")
        blocking.release.set()
        wait_until(lambda: _status(url) == 200, "/healthz to pass once the reconcile ended")
    finally:
        blocking.release.set()
        stop.set()
        runner.join(timeout=30)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
