"""Typed access to one custom resource through the official client's CustomObjectsApi."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from stook_agent.resources import Resource

Object = dict[str, Any]


def object_key(obj: Object) -> str:
    """``name`` for cluster-scoped objects, ``namespace/name`` for namespaced ones."""
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    namespace, _, name = key.rpartition("/")
    return (namespace or None), name


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


class ResourceClient:
    """list / watch / get / create / patch / patch-status / delete for one resource."""

    def __init__(self, api: k8s.ApiClient, resource: Resource) -> None:
        self.api = api
        self.resource = resource
        self._objects = k8s.CustomObjectsApi(api)

    def _base(self) -> tuple[str, str, str]:
        r = self.resource
        return r.group, r.version, r.plural

    def list_objects(self, label_selector: str | None = None) -> tuple[list[Object], str]:
        """All objects (matching the selector) and the list's resourceVersion."""
        reply = cast(
            Object,
            self._objects.list_cluster_custom_object(
                *self._base(), label_selector=label_selector or "", _request_timeout=60
            ),
        )
        return cast(list[Object], reply["items"]), str(reply["metadata"]["resourceVersion"])

    def watch(
        self, resource_version: str, label_selector: str | None, timeout_seconds: int
    ) -> urllib3.BaseHTTPResponse:
        """Open a watch from *resource_version*; the caller reads it with ``watch_events``."""
        return cast(
            urllib3.BaseHTTPResponse,
            self._objects.list_cluster_custom_object(
                *self._base(),
                label_selector=label_selector or "",
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                # The read timeout catches a silent peer; the server ends the watch before it.
                _request_timeout=(10, timeout_seconds + 30),
            ),
        )

    def get(self, key: str) -> Object:
        namespace, name = split_key(key)
        if namespace:
            reply = self._objects.get_namespaced_custom_object(*self._ns_base(namespace), name)
        else:
            reply = self._objects.get_cluster_custom_object(*self._base(), name)
        return cast(Object, reply)

    def create(self, body: Object) -> Object:
        namespace = body["metadata"].get("namespace")
        if namespace:
            reply = self._objects.create_namespaced_custom_object(*self._ns_base(namespace), body)
        else:
            reply = self._objects.create_cluster_custom_object(*self._base(), body)
        return cast(Object, reply)

    def patch(self, key: str, patch: Object | list[Object]) -> Object:
        """A JSON merge patch (dict) or a JSON patch (list) of the object."""
        namespace, name = split_key(key)
        if namespace:
            reply = self._objects.patch_namespaced_custom_object(
                *self._ns_base(namespace), name, patch
            )
        else:
            reply = self._objects.patch_cluster_custom_object(*self._base(), name, patch)
        return cast(Object, reply)

    def patch_status(self, key: str, status: Object) -> Object:
        """Merge-patch ``status`` through the status subresource (spec changes are ignored)."""
        namespace, name = split_key(key)
        body = {"status": status}
        if namespace:
            reply = self._objects.patch_namespaced_custom_object_status(
                *self._ns_base(namespace), name, body
            )
        else:
            reply = self._objects.patch_cluster_custom_object_status(*self._base(), name, body)
        return cast(Object, reply)

    def delete(self, key: str) -> None:
        namespace, name = split_key(key)
        if namespace:
            self._objects.delete_namespaced_custom_object(*self._ns_base(namespace), name)
        else:
            self._objects.delete_cluster_custom_object(*self._base(), name)

    def _ns_base(self, namespace: str) -> tuple[str, str, str, str]:
        r = self.resource
        return r.group, r.version, namespace, r.plural


def watch_events(response: urllib3.BaseHTTPResponse) -> Iterator[Object]:
    """Decode a watch response: one JSON event per line, lines split across chunks."""
    pending = b""
    for chunk in response.stream(None, decode_content=False):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield cast(Object, json.loads(line))
    if pending.strip():
        yield cast(Object, json.loads(pending))
