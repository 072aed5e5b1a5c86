"""The manager: owns every Runnable (controllers, scan loops, triggers), the health/metrics
server and, for cluster controllers, the leader election (controller-runtime's shape).

* Node runnables start at once and run until the manager stops.
* Runnables with ``needs_leader`` (cluster controllers) run only while this process holds the
  Lease, through their own API client (the cluster side's credential). Without that client they
  never run (said once in the log). Losing the Lease stops them at once and ends ``run`` with
  ``LOST_LEADERSHIP``: the process exits and its supervisor starts it again as a candidate, so
  no state of a former leader survives into the next term (controller-runtime exits too).
* ``/healthz`` fails when any started runnable is unhealthy (a dead thread, a stuck reconcile)
  or leadership was lost; ``/readyz`` when any started runnable is not ready or the manager is
  stopping.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Protocol

from kubernetes import client as k8s

from stook_agent.runtime.client import DEFAULT_TIMEOUT, ResourceClient, Timeout
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.health import HealthServer
from stook_agent.runtime.kinds import LEASE
from stook_agent.runtime.leader import LeaderElector, LeaseSettings
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource

log = logging.getLogger(__name__)

STOPPED = 0
LOST_LEADERSHIP = 1


class Runnable(Protocol):
    """Anything the manager starts and stops: a Controller, a scan loop, a trigger..."""

    name: str

    @property
    def needs_leader(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, drain_timeout: float) -> None: ...

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...


def default_identity() -> str:
    """hostname_random, as client-go does: unique even for two processes on one host."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class ManagerSettings:
    component: str = "stook-agent"
    instance: str = ""  # the node name: Events' source and reportingInstance
    metrics_host: str = "127.0.0.1"  # no auth on this port: open it only deliberately
    metrics_port: int = 9808
    drain_timeout: float = 20.0
    api_timeout: Timeout = DEFAULT_TIMEOUT
    lease: LeaseSettings | None = None  # None: a fresh identity with client-go's timings


class Manager:
    def __init__(
        self,
        api: k8s.ApiClient,
        settings: ManagerSettings,
        cluster_api: k8s.ApiClient | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.api = api
        self.cluster_api = cluster_api
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.recorder = EventRecorder(api, settings.component, settings.instance)
        self.lease = settings.lease or LeaseSettings(identity=default_identity())
        self._node: list[Runnable] = []
        self._leader: list[Runnable] = []
        self._started: list[Runnable] = []
        self._skipped_said = False
        self._running = threading.Event()
        self._stopping = threading.Event()
        self._lost = threading.Event()
        self._lock = threading.Lock()
        self.elector: LeaderElector | None = None
        self.health = HealthServer(
            self.metrics.registry,
            healthy=self.healthy,
            ready=self.ready,
            host=settings.metrics_host,
            port=settings.metrics_port,
        )

    # -- wiring (features' setup functions call these) -------------------------------------

    def client(self, resource: Resource, cluster: bool = False) -> ResourceClient:
        """A client for *resource* through the node's (or, *cluster*, the cluster side's) API."""
        api = self.cluster_api if cluster else self.api
        if api is None:
            raise ValueError("no cluster-side API client: pass --controller-kubeconfig")
        return ResourceClient(api, resource, self.settings.api_timeout)

    def cluster_recorder(self) -> EventRecorder | None:
        if self.cluster_api is None:
            return None
        return EventRecorder(self.cluster_api, f"{self.settings.component}-controller", "")

    def add(self, runnable: Runnable) -> bool:
        """Own *runnable*; False if it needs the cluster side and this process has none."""
        if runnable.needs_leader:
            if self.cluster_api is None:
                if not self._skipped_said:
                    log.info(
                        "no cluster controller credentials (--controller-kubeconfig): cluster "
                        "controllers do not run in this process"
                    )
                    self._skipped_said = True
                return False
            self._leader.append(runnable)
        else:
            self._node.append(runnable)
        return True

    # -- state -----------------------------------------------------------------------------

    def is_leader(self) -> bool:
        return self.elector is not None and self.elector.is_leader()

    def healthy(self) -> bool:
        with self._lock:
            started = list(self._started)
        return not self._lost.is_set() and all(r.healthy() for r in started)

    def ready(self) -> bool:
        with self._lock:
            started = list(self._started)
        running = self._running.is_set() and not self._stopping.is_set()
        return running and all(r.ready() for r in started)

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        """Run until *stop* is set (or leadership is lost), then stop everything in reverse."""
        self.health.start()
        for runnable in self._node:
            self._start(runnable)
        self._running.set()
        campaign = threading.Event()
        thread = None
        if self._leader:
            assert self.cluster_api is not None
            self.elector = LeaderElector(
                ResourceClient(self.cluster_api, LEASE, self.settings.api_timeout),
                self.lease,
                on_started=self._lead,
                on_lost=self._lose,
            )
            thread = threading.Thread(
                target=self.elector.run, args=(campaign,), name="leader-election", daemon=True
            )
            thread.start()
            log.info("campaigning for Lease %s/%s as %s", self.lease.namespace, self.lease.name,
                     self.lease.identity)  # fmt: skip
        while not stop.wait(0.2) and not self._lost.is_set():
            pass
        self._stopping.set()
        log.info("stopping: finishing work in flight (up to %.0f s)", self.settings.drain_timeout)
        with self._lock:
            started = list(reversed(self._started))
        for runnable in started:
            runnable.stop(self.settings.drain_timeout)
        campaign.set()  # after the leader runnables stopped: then the Lease is released
        if thread is not None:
            thread.join(timeout=self.settings.drain_timeout)
        self.health.stop()
        return LOST_LEADERSHIP if self._lost.is_set() else STOPPED

    def _start(self, runnable: Runnable) -> None:
        runnable.start()
        with self._lock:
            self._started.append(runnable)

    def _lead(self) -> None:
        self.metrics.leader.set(1)
        for runnable in self._leader:
            if self._stopping.is_set():
                return
            self._start(runnable)

    def _lose(self) -> None:
        """Stop every cluster controller now: another process may already be acting."""
        self.metrics.leader.set(0)
        self._lost.set()
        with self._lock:
            leading = [r for r in self._started if r in self._leader]
            self._started = [r for r in self._started if r not in self._leader]
        for runnable in leading:
            runnable.stop(0.0)
