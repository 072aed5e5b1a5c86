"""Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

* A candidate reads the Lease; it takes it when nobody holds it, or when the holder's record has
  not changed for ``lease_duration`` as measured by this process's own clock since it last saw
  the record change (never by comparing the holder's timestamps with our clock: no clock skew).
* Every write carries the ``resourceVersion`` read, so two candidates racing for an expired
  Lease cannot both win (one gets 409 Conflict).
* The leader renews every ``retry_period``; when it has not renewed for ``renew_deadline`` (API
  server unreachable, a 409 from someone who took over) it has lost and says so at once,
  before ``lease_duration`` ends and another candidate may take over.
* ``is_leader()`` is also false once ``renew_deadline`` passed since the last renewal, so a
  process that was paused (SIGSTOP, a VM frozen) does not act on a lease it may have lost.
* On a clean stop the leader releases the Lease (empty holder) so another takes over at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.errors import describe, is_status
from stook_agent.runtime.kinds import LEASE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    identity: str  # unique per process: the holderIdentity written to the Lease
    namespace: str = "stook-system"
    name: str = "stook-cluster-controllers"
    lease_duration: float = 15.0  # client-go's defaults
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry_period < renew_deadline < lease_duration, got "
                f"{self.retry_period}, {self.renew_deadline}, {self.lease_duration}"
            )


def micro_time(now: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: ResourceClient,
        settings: LeaseSettings,
        on_started: Callable[[], None],
        on_lost: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if client.resource != LEASE:
            raise ValueError(f"a LeaderElector needs a Lease client, not {client.resource.kind}")
        self.client = client
        self.settings = settings
        self._on_started = on_started
        self._on_lost = on_lost
        self._clock = clock
        self._wall = wall
        self._key = f"{settings.namespace}/{settings.name}"
        self._observed: tuple[Any, ...] | None = None  # (holder, renewTime, transitions)
        self._observed_at = 0.0
        self._renewed_at: float | None = None  # when we last wrote the Lease as its holder
        self._lock = threading.Lock()

    # -- state -----------------------------------------------------------------------------

    def is_leader(self) -> bool:
        with self._lock:
            renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < self.settings.renew_deadline

    # -- loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> bool:
        """Campaign until leading, lead until lost or *stop*; True if leadership was lost."""
        s = self.settings
        while not stop.is_set():
            if self._try_acquire_or_renew():
                break
            stop.wait(s.retry_period)
        else:
            return False
        log.info("leader election: %s now holds Lease %s", s.identity, self._key)
        self._on_started()
        while not stop.wait(s.retry_period):
            if self._try_acquire_or_renew():
                continue
            with self._lock:
                renewed = self._renewed_at
            held_by_other = self._observed is not None and self._observed[0] != s.identity
            if held_by_other or renewed is None or self._clock() - renewed >= s.renew_deadline:
                with self._lock:
                    self._renewed_at = None
                holder = self._observed[0] if self._observed else "?"
                log.error(
                    "leader election: lost Lease %s (now held by %s, or not renewed for %.0f s)",
                    self._key, holder or "nobody", s.renew_deadline,
                )  # fmt: skip
                self._on_lost()
                return True
        self._release()
        return False

    # -- one attempt -----------------------------------------------------------------------

    def _try_acquire_or_renew(self) -> bool:
        s = self.settings
        now = self._wall()
        try:
            lease = self.client.get(self._key)
        except Exception as error:
            if not is_status(error, 404):
                log.warning("leader election: cannot read Lease %s: %s", self._key, describe(error))
                return False
            return self._create(now)
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseTransitions"))
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()
        duration = float(spec.get("leaseDurationSeconds") or s.lease_duration)
        if holder and holder != s.identity and self._clock() - self._observed_at < duration:
            return False  # held by another candidate and not expired
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == s.identity:
            acquired = spec.get("acquireTime") or micro_time(now)
        else:
            acquired = micro_time(now)
            transitions += 1
        lease["spec"] = self._spec(acquired, now, transitions)
        try:
            self.client.replace(self._key, lease)  # carries metadata.resourceVersion: 409 if raced
        except Exception as error:
            log.info("leader election: cannot update Lease %s: %s", self._key, describe(error))
            return False
        self._held(lease["spec"])
        return True

    def _create(self, now: datetime) -> bool:
        s = self.settings
        body: Object = {
            "apiVersion": LEASE.api_version,
            "kind": LEASE.kind,
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": self._spec(micro_time(now), now, 0),
        }
        try:
            self.client.create(body)
        except Exception as error:
            log.info("leader election: cannot create Lease %s: %s", self._key, describe(error))
            return False
        self._held(body["spec"])
        return True

    def _spec(self, acquired: str, now: datetime, transitions: int) -> Object:
        return {
            "holderIdentity": self.settings.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration)),
            "acquireTime": acquired,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }

    def _held(self, spec: Object) -> None:
        self._observed = (spec["holderIdentity"], spec["renewTime"], spec["leaseTransitions"])
        self._observed_at = self._clock()
        with self._lock:
            self._renewed_at = self._observed_at

    def _release(self) -> None:
        """Give the Lease up (empty holder, 1 s duration) so another candidate need not wait."""
        with self._lock:
            self._renewed_at = None
        try:
            lease = self.client.get(self._key)
            spec: dict[str, Any] = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.settings.identity:
                return
            now = micro_time(self._wall())
            lease["spec"] = spec | {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
            }
            self.client.replace(self._key, lease)
            log.info("leader election: released Lease %s", self._key)
        except Exception as error:
            log.warning("leader election: cannot release Lease %s: %s", self._key, describe(error))
