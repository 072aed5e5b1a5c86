"""One client for every resource (Stook's custom ones and Kubernetes' own): JSON in, JSON out.

Requests go through the official client's ``ApiClient`` (its credentials, TLS and connection
pool) but not through its generated API classes: answers are decoded with ``json`` straight
into dicts, never into the client's models (building and validating those cost memory and time
on every watch event). Every request has a connect and a read timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import urllib3
from kubernetes import client as k8s

from stook_agent.runtime.errors import ApiError
from stook_agent.runtime.errors import is_status as is_status
from stook_agent.runtime.resource import Resource

Object = dict[str, Any]
Timeout = tuple[float, float]  # (connect, read) seconds
DEFAULT_TIMEOUT: Timeout = (5.0, 30.0)
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # server-side apply (a JSON body is YAML too)


def object_key(obj: Object) -> str:
    """``name`` for cluster-scoped objects, ``namespace/name`` for namespaced ones."""
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    namespace, _, name = key.rpartition("/")
    return (namespace or None), name


class ResourceClient:
    """list / watch / get / create / replace / patch / patch-status / delete for one resource."""

    def __init__(
        self, api: k8s.ApiClient, resource: Resource, timeout: Timeout = DEFAULT_TIMEOUT
    ) -> None:
        self.api = api
        self.resource = resource
        self.timeout = timeout

    # -- collection ------------------------------------------------------------------------

    def list_objects(
        self,
        label_selector: str | None = None,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Object], str]:
        """All objects (matching the selectors, filtered by the API server) and the list's
        resourceVersion."""
        query = {"labelSelector": label_selector} if label_selector else {}
        if field_selector:
            query["fieldSelector"] = field_selector
        reply = self._json("GET", self.resource.path(namespace), query, timeout=self._list_timeout)
        items = cast(list[Object], reply.get("items") or [])
        return items, str(reply["metadata"]["resourceVersion"])

    def watch(
        self, resource_version: str, label_selector: str | None, timeout_seconds: int
    ) -> urllib3.BaseHTTPResponse:
        """Open a watch from *resource_version*; the caller reads it with ``watch_events``."""
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        # The read timeout catches a silent peer; the server ends the watch before it.
        timeout = (self.timeout[0], float(timeout_seconds + 15))
        response = self._send("GET", self.resource.path(), query, timeout=timeout)
        if not 200 <= response.status < 300:
            raise _error(response)
        return response

    # -- one object ------------------------------------------------------------------------

    def get(self, key: str) -> Object:
        return self._json("GET", self._path(key))

    def create(self, body: Object) -> Object:
        namespace = body["metadata"].get("namespace")
        return self._json("POST", self.resource.path(namespace), body=body)

    def replace(self, key: str, body: Object) -> Object:
        """PUT the whole object; its ``metadata.resourceVersion`` makes it conditional."""
        return self._json("PUT", self._path(key), body=body)

    def patch(self, key: str, patch: Object | list[Object]) -> Object:
        """A JSON merge patch (dict) or a JSON patch (list) of the object."""
        content_type = JSON_PATCH if isinstance(patch, list) else MERGE_PATCH
        return self._json("PATCH", self._path(key), body=patch, content_type=content_type)

    def apply(self, body: Object, field_manager: str) -> Object:
        """Server-side apply *body* as *field_manager* (creating it if missing), taking over
        the fields it sets from other managers (force)."""
        query = {"fieldManager": field_manager, "force": "true"}
        key = object_key(body)
        return self._json("PATCH", self._path(key), query, body, content_type=APPLY_PATCH)

    def patch_status(self, key: str, status: Object, resource_version: str | None = None) -> Object:
        """Merge-patch ``status`` through the status subresource (spec changes are ignored);
        with *resource_version* the write fails (409) if the object changed meanwhile."""
        body: Object = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        return self._json("PATCH", self._path(key, "status"), body=body, content_type=MERGE_PATCH)

    def delete(self, key: str, resource_version: str | None = None) -> None:
        """Delete; with *resource_version* only that version (409 if it changed)."""
        body = None
        if resource_version is not None:
            body = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {"resourceVersion": resource_version},
            }
        self._json("DELETE", self._path(key), body=body)

    def create_subresource(self, key: str, subresource: str, body: Object) -> Object:
        """POST to a subresource, e.g. a Pod's ``eviction``."""
        return self._json("POST", self._path(key, subresource), body=body)

    # -- transport -------------------------------------------------------------------------

    @property
    def _list_timeout(self) -> Timeout:
        return (self.timeout[0], max(self.timeout[1], 60.0))  # a big list takes a while

    def _path(self, key: str, subresource: str = "") -> str:
        namespace, name = split_key(key)
        return self.resource.path(namespace, name, subresource)

    def _json(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Object | list[Object] | None = None,
        content_type: str = "application/json",
        timeout: Timeout | None = None,
    ) -> Object:
        response = self._send(method, path, query, body, content_type, timeout)
        if not 200 <= response.status < 300:
            raise _error(response)
        try:
            data = response.data
        finally:
            response.release_conn()
        return cast(Object, json.loads(data)) if data else {}

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Object | list[Object] | None = None,
        content_type: str = "application/json",
        timeout: Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = self.api.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()) or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        reply = self.api.call_api(*request, _request_timeout=timeout or self.timeout)
        return cast(urllib3.BaseHTTPResponse, reply.response)


def _error(response: urllib3.BaseHTTPResponse) -> ApiError:
    try:
        data = response.data
    finally:
        response.release_conn()
    return ApiError(response.status, str(response.reason), data)


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
