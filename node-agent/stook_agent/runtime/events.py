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
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
MAX_MESSAGE = 1024
REMEMBERED = 512


class EventRecorder:
    def __init__(
        self, api: k8s.ApiClient, component: str, node: str, namespace: str = "default"
    ) -> None:
        """*namespace* holds Events about cluster-scoped objects (Kubernetes uses default)."""
        self._core = k8s.CoreV1Api(api)
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
                self._core.patch_namespaced_event(
                    name, namespace, {"count": count, "lastTimestamp": now.isoformat()}
                )
                return
            self._create(name, namespace, obj, type_, reason, message, now)
        except ApiException as error:
            if error.status == 404 and count > 1:  # our Event expired (TTL): start again
                self._create(name, namespace, obj, type_, reason, message, now, quiet=True)
            elif error.status == 409:  # recorded by an earlier run of this agent
                with self._lock:
                    self._counts[name] = 2
            else:
                log.warning("could not record event %s on %s: HTTP %s", reason, name, error.status)
        except Exception as error:  # API server unreachable: events are best effort
            log.warning("could not record event %s on %s: %s", reason, name, type(error).__name__)

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
        event = k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
            involved_object=k8s.V1ObjectReference(
                api_version=obj.get("apiVersion"),
                kind=obj.get("kind"),
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            type=type_,
            reason=reason,
            message=message,
            count=1,
            first_timestamp=now,
            last_timestamp=now,
            source=k8s.V1EventSource(component=self._component, host=self._node),
            reporting_component=self._component,
            reporting_instance=self._node,
        )
        try:
            self._core.create_namespaced_event(namespace, event)
        except Exception as error:
            if not quiet:
                raise
            log.warning("could not record event %s: %s", reason, type(error).__name__)
