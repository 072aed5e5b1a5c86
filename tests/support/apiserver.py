"""A real Kubernetes API server for tests: etcd + kube-apiserver on 127.0.0.1 (envtest-style).

Binaries come from ``KUBEBUILDER_ASSETS`` (a directory holding ``etcd`` and ``kube-apiserver``)
when set, otherwise from ``tools/k8s/build.sh apiserver``, which builds the versions pinned in
tools/k8s/apiserver/go.mod with the machine's Go once and caches them under ~/.cache/stook/k8s.
``STOOK_TEST_KUBECONFIG`` points the suite at an existing cluster instead (tests that must stop
the API server then say they cannot run).

Authentication is by client certificates signed by a throw-away CA (user ``stook-test-admin`` in
group ``system:masters``; ``node_kubeconfig`` signs a node's own, ``system:node:<n>`` in
``system:nodes``, as RKE2's kubelet has) and service-account tokens; authorization is
``Node,RBAC`` with the NodeRestriction admission plugin, as in RKE2. ValidatingAdmissionPolicy
is on (GA since 1.30). There is no
controller-manager (no garbage collection, no namespace finalization) and no kubelet.

An audit log (``KubeCluster.audited``) records the Pod requests only (list, create and the
eviction subresource, at Metadata level: who, which URI): tests read it to show which requests a
controller made, e.g. that a drain lists one node's pods, not the cluster's.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "k8s" / "build.sh"
EXTERNAL_ENV = "STOOK_TEST_KUBECONFIG"
ASSETS_ENV = "KUBEBUILDER_ASSETS"
START_TIMEOUT = 90.0
GRACE_SECONDS = 20.0  # a clean stop (SIGTERM) waits for open watches; then SIGKILL
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["list", "create"],
            "resources": [{"group": "", "resources": ["pods", "pods/eviction"]}],
        },
        {"level": "None"},
    ],
}


class ApiServerError(RuntimeError):
    """The test API server could not be provided; the message says why and what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binaries() -> Path:
    """The directory holding etcd and kube-apiserver (building them if needed)."""
    assets = os.environ.get(ASSETS_ENV)
    if assets:
        directory = Path(assets)
    else:
        if shutil.which("go") is None:
            raise ApiServerError(
                "Go is not on PATH, so etcd and kube-apiserver cannot be built: install Go "
                f"(scripts/bootstrap.sh test) or set {ASSETS_ENV} to a directory with both binaries"
            )
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "apiserver"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ApiServerError(
                f"building the test API server failed ({BUILD_SCRIPT} apiserver):\n"
                f"{done.stderr[-4000:]}"
            )
        directory = Path(done.stdout.strip().splitlines()[-1])
    missing = [name for name in ("etcd", "kube-apiserver") if not (directory / name).is_file()]
    if missing:
        raise ApiServerError(f"{directory} lacks {', '.join(missing)} (from {ASSETS_ENV}?)")
    return directory


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(directory: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1, an admin client certificate, SA keys."""
    directory.mkdir(parents=True, exist_ok=True)
    d = str(directory)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=stook-test-ca", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt")  # fmt: skip
    # 10.0.2.2: how a QEMU guest on the user network reaches this host's 127.0.0.1 (e2e agent).
    sign(directory, "server", "/CN=kube-apiserver",
         "subjectAltName=IP:127.0.0.1,IP:10.0.2.2,DNS:localhost")  # fmt: skip
    sign(directory, "admin", "/O=system:masters/CN=stook-test-admin", "extendedKeyUsage=clientAuth")
    _openssl("genrsa", "-out", f"{d}/sa.key", "2048")
    _openssl("rsa", "-in", f"{d}/sa.key", "-pubout", "-out", f"{d}/sa.pub")


def sign(pki: Path, name: str, subject: str, extension: str) -> None:
    """A key and a certificate signed by the test CA: pki/<name>.key and pki/<name>.crt."""
    d = str(pki)
    (pki / f"{name}.ext").write_text(extension + "\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
             "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")  # fmt: skip
    _openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.crt",
             "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.crt")  # fmt: skip


def write_kubeconfig(
    path: Path, server: str, pki: Path, user: str = "admin", *, embed: bool = False
) -> None:
    """A kubeconfig for *user* (client certificate) at *server*; *embed* puts the CA and the
    client's key pair inline, for a machine that does not share this one's files (a VM)."""

    def ref(key: str, file: Path) -> dict[str, str]:
        if embed:
            return {f"{key}-data": base64.b64encode(file.read_bytes()).decode()}
        return {key: str(file)}

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": server, **ref("certificate-authority", pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    **ref("client-certificate", pki / f"{user}.crt"),
                    **ref("client-key", pki / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))


@dataclass
class KubeCluster:
    """A running etcd + kube-apiserver pair that a test may stop and start again."""

    kubeconfig: Path
    workdir: Path | None = None
    binaries: Path | None = None
    etcd_port: int = 0
    port: int = 0
    _etcd: subprocess.Popen[bytes] | None = None
    _apiserver: subprocess.Popen[bytes] | None = None
    _logs: list[Any] = field(default_factory=list)

    @property
    def controllable(self) -> bool:
        """False for an external cluster: it cannot be stopped, restarted or compacted."""
        return self.workdir is not None

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.start_etcd()
        self.start_apiserver()

    def start_etcd(self) -> None:
        assert self.workdir is not None and self.binaries is not None
        peer = free_port()
        self._etcd = self._spawn(
            "etcd",
            [
                str(self.binaries / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait(lambda: self._http_ok(f"{self.etcd_url}/health"), "etcd", self._etcd)

    def start_apiserver(self) -> None:
        assert self.workdir is not None and self.binaries is not None
        pki = self.workdir / "pki"
        self._apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.binaries / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--cert-dir={self.workdir / 'certs'}",
                f"--tls-cert-file={pki / 'server.crt'}",
                f"--tls-private-key-file={pki / 'server.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--secure-port={self.port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                "--enable-admission-plugins=NodeRestriction",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.workdir / 'audit.log'}",
                "--v=1",
            ],
        )
        self._wait(self._ready, "kube-apiserver", self._apiserver)

    def _audit_policy(self) -> Path:
        assert self.workdir is not None
        path = self.workdir / "audit-policy.yaml"
        path.write_text(yaml.safe_dump(AUDIT_POLICY))
        return path

    def audited(self, user: str | None = None) -> list[dict[str, Any]]:
        """The audit log's events (Pod list/create/eviction requests; see AUDIT_POLICY), of
        *user* only if given; the log is written when a request completes."""
        assert self.workdir is not None, "an external cluster's audit log is not readable"
        path = self.workdir / "audit.log"
        lines = path.read_text().splitlines() if path.exists() else []
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if user is None or e["user"]["username"] == user]

    def stop_apiserver(self, sig: int = signal.SIGKILL) -> None:
        """Stop kube-apiserver (SIGKILL by default: a crash, not a clean shutdown). A clean
        shutdown that still waits for open watches after GRACE_SECONDS is killed."""
        if self._apiserver is not None:
            self._apiserver.send_signal(sig)
            try:
                self._apiserver.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._apiserver.kill()
                self._apiserver.wait(timeout=60)
            self._apiserver = None

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()

    def stop(self) -> None:
        self.stop_apiserver(signal.SIGTERM)
        if self._etcd is not None:
            self._etcd.terminate()
            self._etcd.wait(timeout=60)
            self._etcd = None
        for handle in self._logs:
            handle.close()
        self._logs.clear()

    def kubeconfig_for(
        self,
        user: str,
        groups: tuple[str, ...] = (),
        *,
        server: str | None = None,
        embed: bool = False,
    ) -> Path:
        """A kubeconfig for a client-certificate user (RBAC decides what it may do); *server*
        and *embed* as for ``write_kubeconfig`` (a VM reaches the host at 10.0.2.2)."""
        assert self.workdir is not None, "an external cluster's CA cannot sign users"
        pki = self.workdir / "pki"
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
        # File names without ":" (the client splits kubeconfig paths on it, like $KUBECONFIG).
        name = user.replace(":", "_")
        sign(pki, name, subject, "extendedKeyUsage=clientAuth")
        path = self.workdir / f"kubeconfig-{name}{'-embedded' if embed else ''}"
        write_kubeconfig(path, server or self.server, pki, name, embed=embed)
        return path

    def node_kubeconfig(self, node: str, *, server: str | None = None, embed: bool = False) -> Path:
        """A node's own credentials: CN=system:node:<node>, O=system:nodes (RKE2's kubelet)."""
        return self.kubeconfig_for(
            f"system:node:{node}", ("system:nodes",), server=server, embed=embed
        )

    def token_kubeconfig(self, name: str, token: str) -> Path:
        """A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's)."""
        assert self.workdir is not None
        path = self.workdir / f"kubeconfig-token-{name}"
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"] = [{"name": name, "user": {"token": token}}]
        config["contexts"][0]["context"]["user"] = name
        path.write_text(yaml.safe_dump(config))
        return path

    # -- etcd ------------------------------------------------------------------------------

    def etcd_revision(self) -> int:
        reply = self._etcd_call("/v3/kv/range", {"key": "AA=="})
        return int(reply["header"]["revision"])

    def compact(self) -> int:
        """Compact etcd at its current revision: older resourceVersions are then gone (410)."""
        revision = self.etcd_revision()
        self._etcd_call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def _etcd_call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.etcd_url + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return dict(json.load(reply))

    # -- helpers ---------------------------------------------------------------------------

    def log_tail(self, name: str, lines: int = 40) -> str:
        if self.workdir is None:
            return ""
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        assert self.workdir is not None
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait(self, ok: Any, name: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ApiServerError(
                    f"{name} exited with {process.returncode}; its log ends:\n{self.log_tail(name)}"
                )
            if ok():
                return
            time.sleep(0.2)
        raise ApiServerError(
            f"{name} not ready after {START_TIMEOUT:.0f} s; its log ends:\n{self.log_tail(name)}"
        )

    @staticmethod
    def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _ready(self) -> bool:
        assert self.workdir is not None
        pki = self.workdir / "pki"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return self._http_ok(f"{self.server}/readyz", context)


@contextlib.contextmanager
def running_cluster(workdir: Path) -> Iterator[KubeCluster]:
    """Yield a cluster: the one ``STOOK_TEST_KUBECONFIG`` names, else a fresh local one."""
    external = os.environ.get(EXTERNAL_ENV)
    if external:
        yield KubeCluster(kubeconfig=Path(external))
        return
    cluster = KubeCluster(
        kubeconfig=workdir / "kubeconfig",
        workdir=workdir,
        binaries=find_binaries(),
        etcd_port=free_port(),
        port=free_port(),
    )
    make_pki(workdir / "pki")
    write_kubeconfig(cluster.kubeconfig, cluster.server, workdir / "pki")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
