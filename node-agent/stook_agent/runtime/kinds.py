"""Kubernetes' own kinds the controllers use, addressed like any other ``Resource``."""

from __future__ import annotations

from stook_agent.runtime.resource import Resource

NODE = Resource("", "v1", "nodes", "Node")
POD = Resource("", "v1", "pods", "Pod", namespaced=True)
PERSISTENT_VOLUME = Resource("", "v1", "persistentvolumes", "PersistentVolume")
EVENT = Resource("", "v1", "events", "Event", namespaced=True)
NAMESPACE = Resource("", "v1", "namespaces", "Namespace")
LEASE = Resource("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True)
# An Eviction is created as the ``eviction`` subresource of its Pod (policy/v1).
EVICTION_SUBRESOURCE = "eviction"
