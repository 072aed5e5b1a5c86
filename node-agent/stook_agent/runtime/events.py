"""Kubernetes Events (core/v1) about our objects, for what an operator should see.

Repeats of one (object, reason, message) are folded into one Event whose count grows, as
kubectl shows them. Failing to record an Event is logged, never fatal.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal

from kubernetes import client as k8s

from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.errors import describe, is_status
from stook_agent.runtime.kinds import EVENT

log = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
MAX_MESSAGE = 1024
REMEMBERED = 512


class EventRecorder:
    def __init__(
        self, api: k8s.ApiClient, component: str, node: str, namespace: str = "default"
    ) -> None:
        """*namespace* holds Events about cluster-scoped objects (Kubernetes uses default)."""
        self._events = ResourceClient(api, EVENT)
        self._component = component
        self._node = node
        self._namespace = namespace
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, obj: dict[str, Any], type_: EventType, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or self._namespace
        message = message[:MAX_MESSAGE]
        digest = hashlib.sha256(
            f"{meta.get('uid')}\0{reason}\0{message}\0{self._node}".encode()
        ).hexdigest()[:16]
        name = f"{meta.get('name')}.{digest}"[:253]
        now = datetime.now(UTC)
        with self._lock:
            count = self._counts.pop(name, 0) + 1
            self._counts[name] = count
            while len(self._counts) > REMEMBERED:
                self._counts.popitem(last=False)
        try:
            if count > 1:
                self._events.patch(
                    f"{namespace}/{name}", {"count": count, "lastTimestamp": _stamp(now)}
                )
                return
            self._create(name, namespace, obj, type_, reason, message, now)
        except Exception as error:  # API server unreachable, ...: events are best effort
            if is_status(error, 404) and count > 1:  # our Event expired (TTL): start again
                self._create(name, namespace, obj, type_, reason, message, now, quiet=True)
            elif is_status(error, 409):  # recorded by an earlier run of this agent
                with self._lock:
                    self._counts[name] = 2
            else:
                log.warning("could not record event %s on %s: %s", reason, name, describe(error))

    def _create(
        self,
        name: str,
        namespace: str,
        obj: dict[str, Any],
        type_: EventType,
        reason: str,
        message: str,
        now: datetime,
        quiet: bool = False,
    ) -> None:
        meta = obj.get("metadata") or {}
        involved = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v is not None},
            "type": type_,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": _stamp(now),
            "lastTimestamp": _stamp(now),
            "source": {"component": self._component, "host": self._node},
            "reportingComponent": self._component,
            "reportingInstance": self._node,
        }
        try:
            self._events.create(event)
        except Exception as error:
            if not quiet:
                raise
            log.warning("could not record event %s: %s", reason, describe(error))


def _stamp(now: datetime) -> str:
    return now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
