"""The reconciler's guards, with a recording stand-in for the API (a unit-test double)."""

from __future__ import annotations

import time
from typing import Any

from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics
from stook_agent.vms.controller import Clients, VirtualServerReconciler

SERVER = {
    "apiVersion": "stook.io/v1alpha1",
    "kind": "VirtualServer",
    "metadata": {"name": "vm1", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
    "spec": {
        "resources": {"memory": "1Gi"},
        "storage": {"root": {"size": "1Gi", "source": {"http": {"url": "http://x/d.img"}}}},
    },
}


class ApiTestDouble:
    """Records writes; nothing exists."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Any]] = []

    def patch_status(self, key: str, status: Any) -> None:
        self.writes.append(("status", key, status))

    def __getattr__(self, name: str) -> Any:
        def write(*args: Any, **kwargs: Any) -> None:
            self.writes.append((name, str(args[:1]), args[1:]))

        return write


def _reconciler(leading: bool = True) -> tuple[VirtualServerReconciler, ApiTestDouble]:
    api = ApiTestDouble()
    clients = Clients(*([api] * 8))  # type: ignore[arg-type]
    caches = {kind: Informer(kind, api, lambda *_: None, Metrics())  # type: ignore[arg-type]
              for kind in ("vm", "vmi", "dv")}  # never started: never synced  # fmt: skip
    return VirtualServerReconciler(clients, caches, None, leading=lambda: leading), api


def test_without_kubevirt_the_virtualserver_says_so_after_a_grace_period() -> None:
    reconciler, api = _reconciler()
    assert reconciler.reconcile(SERVER).requeue_after == 0.5 and api.writes == []
    reconciler._waiting_since = time.monotonic() - 60
    reconciler.reconcile(SERVER)
    ((kind, key, status),) = api.writes
    (failure,) = status["conditions"]
    assert (kind, key, failure["reason"]) == ("status", "ns/vm1", "KubeVirtUnavailable")
    assert "virtualmachines, virtualmachineinstances, datavolumes" in failure["message"]


def test_a_process_that_lost_the_lease_writes_nothing() -> None:
    reconciler, api = _reconciler(leading=False)
    reconciler.reconcile(SERVER)
    assert api.writes == []
