"""Helpers for the agent integration tests: waiting, objects, a reconciler, a TCP relay.

StateMirror is a real implementation of the runtime's Reconciler interface that writes status
through the real API server; its failures come from the API server itself (a status value the
CRD's OpenAPI validation rejects), not from stubs.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient, object_key
from stook_agent.runtime.conditions import set_condition
from stook_agent.runtime.controller import Reconciler, Result
from support.apiserver import free_port

REPO = Path(__file__).resolve().parents[3]
CRDS = REPO / "charts" / "stook" / "crds"
WAIT = 60.0  # a bound for "eventually" (liveness), never a performance claim
T = TypeVar("T")


def install_crds(api: k8s.ApiClient) -> None:
    ext = k8s.ApiextensionsV1Api(api)
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as error:
            if error.status != 409:
                raise
            ext.patch_custom_resource_definition(crd["metadata"]["name"], crd)
        wait_until(lambda n=crd["metadata"]["name"]: _established(ext, n), f"CRD {path.name}")


def _established(ext: k8s.ApiextensionsV1Api, name: str) -> bool:
    crd = ext.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


def wait_until(
    check: Callable[[], T],
    what: str,
    timeout: float = WAIT,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll *check* until it returns something truthy; fail saying *what* never happened
    (and what *explain* returns, e.g. a log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            details = f"\n{explain()}" if explain else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{details}")
        time.sleep(0.05)


def block_device(name: str, node: str, tags: list[str] | None = None) -> Object:
    return {
        "apiVersion": BLOCK_DEVICE.api_version,
        "kind": BLOCK_DEVICE.kind,
        "metadata": {"name": name, "labels": {NODE_LABEL: node}},
        "spec": {"nodeName": node, "devPath": f"/dev/{name[-8:]}", "tags": tags or []},
    }


def get_or_none(client: ResourceClient, key: str) -> Object | None:
    try:
        return client.get(key)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


class StateMirror(Reconciler):
    """Writes status.state from spec.tags[0] and a Ready condition for the generation seen.

    A tag that is not a valid state (e.g. "Broken") makes the API server reject the status
    write (422): a final error, which the runtime reports as ``Accepted=False``. The tag
    "Conflict" writes with a stale resourceVersion (409): an error a retry may cure, which the
    runtime retries with growing delays. "Raced" loses one race: on the key's first reconcile
    another writer changes the object before the status write, conditional on the version the
    reconcile read, lands (409 once, as an operator's click racing a controller's write).
    """

    def __init__(self, client: ResourceClient) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, int, float]] = []  # (what, key, generation, monotonic)

    def _note(self, what: str, key: str, generation: int) -> None:
        with self.lock:
            self.calls.append((what, key, generation, time.monotonic()))

    def seen(self, what: str | None = None) -> list[tuple[str, str, int, float]]:
        with self.lock:
            return [c for c in self.calls if what is None or c[0] == what]

    def keys(self) -> set[str]:
        return {key for _, key, _, _ in self.seen()}

    def reconcile(self, obj: Object) -> Result:
        key = object_key(obj)
        generation = int(obj["metadata"]["generation"])
        self._note("reconcile", key, generation)
        tags = obj["spec"].get("tags") or ["Active"]
        status = obj.get("status") or {}
        conditions = set_condition(
            status.get("conditions"), "Ready", "True", "Mirrored", f"state {tags[0]}", generation
        )
        if tags[0] == "Conflict":  # "1" is long gone: the API server answers 409
            self.client.patch_status(key, {"state": "Active"}, resource_version="1")
        if tags[0] == "Raced":
            if len([c for c in self.seen("reconcile") if c[1] == key]) == 1:
                self.client.patch(key, {"metadata": {"annotations": {"raced": "by-someone"}}})
            version = obj["metadata"]["resourceVersion"]
            self.client.patch_status(key, {"state": "Active"}, resource_version=version)
            return Result()
        self.client.patch_status(key, {"state": tags[0], "conditions": conditions})
        return Result()

    def finalize(self, obj: Object) -> Result:
        self._note("finalize", object_key(obj), int(obj["metadata"]["generation"]))
        return Result()

    def absent(self, key: str) -> Result:
        self._note("absent", key, 0)
        return Result()


def ready_generation(obj: Object | None) -> int | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready" and condition["status"] == "True":
            return int(condition["observedGeneration"])
    return None


class TcpProxy:
    """A loopback TCP relay the test can cut, to disconnect an agent from a running API server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._frozen: set[socket.socket] = set()
        self._freezing = False
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones until ``restore``."""
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def freeze(self) -> None:
        """Stop forwarding without closing (a peer or a NAT that went silent): every relayed
        connection, and new ones until ``thaw``, stay open and carry nothing, for good."""
        with self._lock:
            self._freezing = True
            self._frozen |= self._sockets

    def thaw(self) -> None:
        """Relay new connections again; the frozen ones stay frozen."""
        with self._lock:
            self._freezing = False

    def close(self) -> None:
        self._stopped = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
                if self._freezing:
                    self._frozen.add(client)
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                if a in self._frozen:  # never read again: the peer's writes just pile up
                    if self._stopped or a.fileno() < 0:
                        return
                    time.sleep(0.2)
                    continue
                for key, _ in selector.select(0.2):
                    if a in self._frozen:
                        break
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            for sock in (a, b):
                sock.close()
            with self._lock:
                self._sockets -= {a, b}
                self._frozen -= {a, b}


class AgentProcess:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return "stook-agent log ends:\n" + "\n".join(text)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""


@contextlib.contextmanager
def agent_process(
    kubeconfig: Path, node: str, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[AgentProcess]:
    """Run the real stook-agent program for *node*; its log goes to workdir/agent.log."""
    port = free_port()
    log = workdir / "agent.log"
    command = [sys.executable, "-m", "stook_agent.cli", "--node-name", node,
               "--kubeconfig", str(kubeconfig), "--metrics-host", "127.0.0.1",
               "--metrics-port", str(port), "--heartbeat", "1"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, text=True, env=os.environ | (env or {})
        )
    try:
        yield AgentProcess(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class WatchEndingProxy:
    """A TLS HTTP proxy in front of the API server that ends every watch at once, cleanly (an
    L7 load balancer with a tiny idle timeout would): the watch's answer headers, then the end
    of the body. Every other request is relayed as it is. Counts the watches opened."""

    def __init__(self, upstream_port: int, pki: Path) -> None:
        self.watches = 0
        outer = self
        serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        serving.load_cert_chain(str(pki / "server.crt"), str(pki / "server.key"))
        upstream = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        upstream.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn = http.client.HTTPSConnection(
                    "127.0.0.1", upstream_port, context=upstream, timeout=30
                )
                try:
                    conn.request(self.command, self.path, body or None, headers)
                    reply = conn.getresponse()
                    if "watch=true" in self.path.lower() and reply.status == 200:
                        outer.watches += 1
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self.wfile.write(b"0\r\n\r\n")  # the end of an empty chunked body
                        return
                    data = reply.read()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.getheader("Content-Type") or "")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = serving.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
