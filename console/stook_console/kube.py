"""The console's only way out: the Kubernetes API, called with the signed-in user's token.

The console has no credential of its own. Every call carries the user's bearer token, so the
API server authenticates it and RBAC decides; an answer other than 2xx becomes ``ApiError``
with the server's own message. Every call has a (connect, read) timeout; a watch asks the
server to end it after ``WATCH_SECONDS`` and reads with a timeout a little longer.
"""

from __future__ import annotations

import builtins
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
WATCH_SECONDS = 30
RETRIES = 3
Object = dict[str, Any]


class ApiError(RuntimeError):
    """A call the API server refused (status, reason) or that did not reach it (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Cluster:
    """Where the API server is and how to trust it (no user credentials: those are per user)."""

    server: str
    ca_file: str | None = None
    ca_data: str | None = None  # PEM text
    insecure: bool = False  # only for `--kubeconfig` clusters that say insecure-skip-tls-verify

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass
class Kube:
    """The API server, shared by all users; ``as_user(token)`` gives one user's client."""

    cluster: Cluster
    pool: urllib3.PoolManager = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pool = urllib3.PoolManager(
            maxsize=16, ssl_context=self.cluster.ssl_context(), retries=False
        )

    def as_user(self, token: str) -> UserClient:
        return UserClient(self, token)


@dataclass(frozen=True)
class Resource:
    """A resource's URL parts."""

    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = False

    def path(self, name: str | None = None, namespace: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


NODES = Resource("", "v1", "nodes")
EVENTS = Resource("", "v1", "events", namespaced=True)
NODE_STATUSES = Resource("stook.io", "v1alpha1", "nodestatuses")
NODE_UPGRADES = Resource("stook.io", "v1alpha1", "nodeupgrades")
BLOCK_DEVICES = Resource("stook.io", "v1alpha1", "blockdevices")
OS_VERSIONS = Resource("stook.io", "v1alpha1", "osversions")
UPGRADES = Resource("stook.io", "v1alpha1", "upgrades")
NODE_NETWORKS = Resource("stook.io", "v1alpha1", "nodenetworks")


@dataclass(frozen=True)
class UserClient:
    """One user's calls. The token is never part of repr, logs or error messages."""

    kube: Kube
    token: str = field(repr=False)

    def request(
        self,
        method: str,
        path: str,
        body: Object | None = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Object:
        for attempt in range(RETRIES + 1):
            reply = self._send(method, path, body, query, content_type, stream=False)
            # An API server starting up or a CRD just established answers 503 (429 when
            # busy): a read is tried again, briefly; a write is not (it may have happened).
            if method != "GET" or reply.status not in (429, 503) or attempt == RETRIES:
                break
            time.sleep(0.5 * (attempt + 1))
        data = reply.data
        if reply.status >= 300:
            raise error_from(reply.status, data)
        return dict(json.loads(data)) if data else {}

    def _send(
        self,
        method: str,
        path: str,
        body: Object | None,
        query: dict[str, str] | None,
        content_type: str,
        stream: bool,
        read_timeout: float = READ_TIMEOUT,
    ) -> urllib3.BaseHTTPResponse:
        url = self.kube.cluster.server.rstrip("/") + path
        if query:
            url += "?" + urlencode(query)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            return self.kube.pool.request(
                method,
                url,
                body=json.dumps(body).encode() if body is not None else None,
                headers=headers,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout),
                preload_content=not stream,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(0, f"the Kubernetes API at {self.kube.cluster.server} did not "
                              f"answer ({type(error).__name__}): {error}") from None  # fmt: skip

    # -- verbs -----------------------------------------------------------------------------

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> Object:
        return self.request("GET", resource.path(name, namespace))

    def get_or_none(self, resource: Resource, name: str) -> Object | None:
        try:
            return self.get(resource, name)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list(self, resource: Resource, **query: str) -> list[Object]:
        return list(self.request("GET", resource.path(), query=query or None).get("items", []))

    def list_optional(self, resource: Resource, **query: str) -> builtins.list[Object] | None:
        """A list that a page can do without: None when the kind is not installed (404) or
        the user may not read it (403)."""
        try:
            return self.list(resource, **query)
        except ApiError as error:
            if error.status in (403, 404):
                return None
            raise

    def create(self, resource: Resource, body: Object) -> Object:
        return self.request("POST", resource.path(), body)

    def merge_patch(self, resource: Resource, name: str, patch: Object) -> Object:
        return self.request(
            "PATCH", resource.path(name), patch, content_type="application/merge-patch+json"
        )

    def delete(self, resource: Resource, name: str) -> None:
        self.request("DELETE", resource.path(name))

    def watch(self, resource: Resource, name: str, resource_version: str) -> Iterator[Object]:
        """Events of one object after *resource_version*, until the server ends the watch."""
        query = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(WATCH_SECONDS),
            "allowWatchBookmarks": "false",
        }
        reply = self._send(
            "GET", resource.path(), None, query, "", stream=True, read_timeout=WATCH_SECONDS + 10
        )
        try:
            if reply.status >= 300:
                raise error_from(reply.status, reply.read())
            for line in _lines(reply):
                yield dict(json.loads(line))
        finally:
            reply.release_conn()

    # -- who am I, what may I ------------------------------------------------------------

    def whoami(self) -> str:
        """The user name the API server authenticated (a 401 means a bad token)."""
        review = self.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        return str(((review.get("status") or {}).get("userInfo") or {}).get("username", "?"))

    def may(self, verb: str, resource: Resource, name: str | None = None) -> Permission:
        """A SelfSubjectAccessReview: whether RBAC lets this user *verb* the resource."""
        attributes = {"group": resource.group, "resource": resource.plural, "verb": verb}
        if name:
            attributes["name"] = name
        review = self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
        )
        status = review.get("status") or {}
        what = f"{verb} {resource.plural}" + (f".{resource.group}" if resource.group else "")
        return Permission(bool(status.get("allowed")), what, str(status.get("reason") or ""))


@dataclass(frozen=True)
class Permission:
    allowed: bool
    what: str  # e.g. "create upgrades.stook.io"
    reason: str = ""  # the authorizer's reason, often empty for a plain RBAC "no"

    def refusal(self, user: str) -> str:
        """Why a button is disabled, in words."""
        if self.allowed:
            return ""
        why = f" ({self.reason})" if self.reason else ""
        return f"{user} may not {self.what}: RBAC does not allow it{why}. Ask an administrator."


def _lines(reply: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """Newline-separated JSON watch events from a streamed reply."""
    pending = b""
    for chunk in reply.stream(4096, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def error_from(status: int, data: bytes) -> ApiError:
    """The API server's Status message (it never echoes the bearer token)."""
    try:
        message = str(json.loads(data).get("message") or "")
    except (ValueError, AttributeError):
        message = data[:300].decode(errors="replace")
    if status == 401:
        message = "the API server did not accept this token (401 Unauthorized)"
    return ApiError(status, message or f"HTTP {status}")
