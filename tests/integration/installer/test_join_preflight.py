"""The joining node's preflight against real servers: a TLS supervisor stand-in serving the test
kube-apiserver's CA (support/supervisor.py) and the real kube-apiserver as the VIP's API.

Each test's supervisor listens on its own loopback address (127.x.y.z) so that the model's fixed
port 9345 never collides, and its certificate is signed by the API server's CA, as RKE2 signs
both serving certificates with its server CA."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from pydantic import SecretStr

from integration.installer.test_install_loop import digest
from stook_core.config.model import RKE2_SUPERVISOR_PORT
from stook_core.hardware import dump_profile
from stook_installer import cli, install_cli
from stook_installer.engine.events import Event
from stook_installer.engine.join import JoinPreflight, JoinRefused, JoinTarget
from support.apiserver import ApiServerError, KubeCluster, free_port, running_cluster
from support.install_engine import build_image, document, loop_disks, loop_machine
from support.join_cluster import cluster_ca, cluster_supervisor, full_token, service_account_token
from support.supervisor import Supervisor
from support.tiers import require_commands, require_root, require_tier
from support.tls import self_signed

PASSWORD = "join-secret-Wq7"  # the token's secret part: must never be shown
API_TOKEN_MARK = "never-shown"
GiB = 1 << 30


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    try:
        with running_cluster(tmp_path_factory.mktemp("apiserver")) as running:
            require_tier(running.controllable, "a local test API server (its CA signs the "
                         "supervisor)", "unset STOOK_TEST_KUBECONFIG")  # fmt: skip
            yield running
    except ApiServerError as error:
        require_tier(False, f"a Kubernetes API server ({error})", "run scripts/bootstrap.sh test")


@pytest.fixture(scope="module")
def admin(cluster: KubeCluster) -> k8s.ApiClient:
    api: k8s.ApiClient = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    return api


@dataclass
class Lab:
    cluster: KubeCluster
    tmp: Path

    def full_token(self, ca: bytes | None = None) -> SecretStr:
        return SecretStr(full_token(cluster_ca(self.cluster) if ca is None else ca, PASSWORD))

    def supervisor(self, host: str, port: int = 0, *, signed: bool = True) -> Supervisor:
        """A supervisor on *host*: certificate signed by the cluster CA (or self-signed)."""
        if signed:
            return cluster_supervisor(self.cluster, host, port)
        folder = self.tmp / f"self-signed-{host}"
        folder.mkdir()
        return Supervisor(host, port, cluster_ca(self.cluster), *self_signed(folder, ip=host))

    def target(self, server_url: str, **changes: Any) -> JoinTarget:
        target = JoinTarget(
            server_url=server_url,
            api_url=self.cluster.server,
            hostname=f"node-{uuid.uuid4().hex[:8]}",
            token=self.full_token(),
        )
        return replace(target, **changes)


@pytest.fixture
def lab(cluster: KubeCluster, tmp_path: Path) -> Lab:
    return Lab(cluster, tmp_path)


def loopback() -> str:
    """A loopback address of this test's own (all of 127/8 is loopback on Linux)."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"


def refused(target: JoinTarget, events: list[Event], **options: Any) -> str:
    with pytest.raises(JoinRefused) as raised:
        JoinPreflight(**options)(target, events.append)
    return str(raised.value)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and API_TOKEN_MARK not in text


@pytest.fixture(scope="module")
def node_reader(admin: k8s.ApiClient) -> SecretStr:
    """A ServiceAccount token that may get nodes: what install.join_check.api_token holds."""
    return SecretStr(service_account_token(admin))


# --- passing --------------------------------------------------------------------------------------


def test_a_live_cluster_passes_and_says_what_it_did_not_check(lab: Lab) -> None:
    events: list[Event] = []
    with lab.supervisor(loopback()) as supervisor:
        checked = JoinPreflight()(lab.target(supervisor.url), events.append)
        assert supervisor.requests == ["/cacerts", "/ping"]
    assert checked.kubernetes_version is not None and checked.kubernetes_version.startswith("v1.")
    assert len(checked.warnings) == 1 and "was not checked" in checked.warnings[0]
    messages = [event.message for event in events]
    assert "the server's CA is the one the token names" in messages
    assert events[-1].phase == "finish"
    assert_no_secret(*messages)


def test_a_hostname_not_yet_a_node_passes_with_a_token_that_may_get_nodes(
    lab: Lab, node_reader: SecretStr
) -> None:
    with lab.supervisor(loopback()) as supervisor:
        checked = JoinPreflight()(lab.target(supervisor.url, api_token=node_reader), [].append)
    assert checked.warnings == ()


def test_a_short_token_trusts_the_ca_as_first_seen_and_says_so(lab: Lab) -> None:
    with lab.supervisor(loopback()) as supervisor:
        target = lab.target(supervisor.url, token=SecretStr(PASSWORD))
        checked = JoinPreflight()(target, [].append)
    assert any("trusted as first seen" in warning for warning in checked.warnings)


def test_the_preflight_waits_for_a_server_that_comes_up_later(lab: Lab) -> None:
    host, port = loopback(), free_port()
    events: list[Event] = []
    started: list[Supervisor] = []
    starter = threading.Timer(2.5, lambda: started.append(lab.supervisor(host, port).__enter__()))
    starter.start()
    try:
        JoinPreflight(first_delay=0.5)(lab.target(f"https://{host}:{port}", wait=60), events.append)
    finally:
        starter.join()
        for supervisor in started:
            supervisor.__exit__()
    assert started and started[0].requests == ["/cacerts", "/ping"]
    waits = [e.message for e in events if "trying again" in e.message]
    assert waits and "Connection refused" in waits[0]


# --- refusing -------------------------------------------------------------------------------------


def test_a_hostname_that_is_already_a_node_is_refused(
    lab: Lab, admin: k8s.ApiClient, node_reader: SecretStr
) -> None:
    taken = f"node-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(admin).create_node({"metadata": {"name": taken}})
    events: list[Event] = []
    with lab.supervisor(loopback()) as supervisor:
        target = lab.target(supervisor.url, hostname=taken, api_token=node_reader)
        text = refused(target, events)
    assert f"a node named {taken} is already in the cluster" in text
    assert f"GET {lab.cluster.server}/api/v1/nodes/{taken}" in text
    assert f"kubectl delete node {taken}" in text and "Nothing was touched" in text
    assert events[-1].phase == "fail"
    assert_no_secret(text, node_reader.get_secret_value(), *(e.message for e in events))
    assert node_reader.get_secret_value() not in text + "".join(e.message for e in events)


def test_a_token_that_may_not_get_nodes_or_is_unknown_is_refused(
    lab: Lab, admin: k8s.ApiClient
) -> None:
    unprivileged = SecretStr(service_account_token(admin, may_get_nodes=False))
    with lab.supervisor(loopback()) as supervisor:
        text = refused(lab.target(supervisor.url, api_token=unprivileged), [])
        assert "HTTP 403 to the node lookup" in text and "may not get nodes" in text
        unknown = SecretStr(f"{API_TOKEN_MARK}-{uuid.uuid4().hex}")
        text = refused(lab.target(supervisor.url, api_token=unknown), [])
        assert "refused install.join_check.api_token (HTTP 401)" in text
    assert_no_secret(text)


def test_a_ca_other_than_the_tokens_is_refused_before_anything_else(lab: Lab) -> None:
    with lab.supervisor(loopback()) as supervisor:
        text = refused(lab.target(supervisor.url, token=lab.full_token(b"another CA")), [])
        assert supervisor.requests == ["/cacerts"]
    assert "is not the one the token names" in text and "/cacerts" in text
    assert "Check install.token" in text
    assert_no_secret(text)


def test_a_server_whose_certificate_the_cluster_ca_did_not_sign_is_refused(lab: Lab) -> None:
    """It serves the right CA (anyone can copy it) but holds no key that CA signed."""
    host = loopback()
    with lab.supervisor(host, signed=False) as supervisor:
        text = refused(lab.target(supervisor.url), [])
    assert f"GET https://{host}" in text and "/ping" in text
    assert "certificate does not verify" in text


def test_a_vip_that_is_not_the_clusters_api_is_refused(lab: Lab) -> None:
    with (
        lab.supervisor(loopback()) as supervisor,
        lab.supervisor(loopback(), signed=False) as impostor,
    ):
        text = refused(lab.target(supervisor.url, api_url=impostor.url), [])
    assert f"GET {impostor.url}/version" in text and "does not verify" in text
    assert "install.join_check.api_url" in text


def test_no_server_is_a_refusal_naming_the_url_after_the_wait(lab: Lab) -> None:
    host = loopback()
    target = lab.target(f"https://{host}:{free_port()}", wait=2)
    events: list[Event] = []
    started = time.monotonic()
    text = refused(target, events, first_delay=0.5)
    assert time.monotonic() - started < 10
    assert f"GET https://{host}" in text and "no answer after" in text
    assert "Connection refused" in text and "install.join_check.wait" in text


def test_a_server_that_never_answers_is_bounded_by_the_timeout(lab: Lab) -> None:
    host = loopback()
    with socket.create_server((host, 0)) as silent:  # accepts, and never says a word
        url = f"https://{host}:{silent.getsockname()[1]}"
        started = time.monotonic()
        text = refused(lab.target(url), [], timeout=1.5)
        assert time.monotonic() - started < 8
    assert "no complete answer before the deadline" in text


# --- the doors: nothing written before the preflight passes ---------------------------------------


def test_join_check_runs_the_checks_alone(lab: Lab, tmp_path: Path, capsys: Any) -> None:
    host = loopback()
    fields = {"server_url": host, "token": lab.full_token().get_secret_value(),
              "join_check": {"api_url": lab.cluster.server}}  # fmt: skip
    config = tmp_path / "join.yaml"
    config.write_text(yaml.safe_dump(document("join", **fields)))
    with lab.supervisor(host, RKE2_SUPERVISOR_PORT):
        assert cli.main(["join-check", str(config)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "the server's CA is the one the token names" in out
    assert f"the Kubernetes API answers at {lab.cluster.server}" in out
    assert "[ok] join-check" in out and "was not checked" in out
    assert cli.main(["join-check", str(config)]) == cli.EXIT_JOIN_REFUSED  # nobody answers now
    assert "Connection refused" in capsys.readouterr().err


def test_an_unattended_join_with_a_taken_hostname_writes_nothing(
    lab: Lab, admin: k8s.ApiClient, node_reader: SecretStr, tmp_path: Path, capsys: Any
) -> None:
    require_root()
    require_commands("losetup", "mksquashfs")
    taken = f"node-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(admin).create_node({"metadata": {"name": taken}})
    image = build_image(tmp_path / "image")
    host = loopback()
    with (
        loop_disks(tmp_path, [12 * GiB, GiB]) as disks,
        lab.supervisor(host, RKE2_SUPERVISOR_PORT) as supervisor,
    ):
        for device in disks:  # something worth preserving at the start of each disk
            with Path(device).open("r+b") as stream:
                stream.write(os.urandom(1 << 20))
        images = [tmp_path / f"disk{index}.img" for index in range(len(disks))]  # loop_disks'
        before = [digest(i) for i in images]
        profile = tmp_path / "machine.json"
        profile.write_text(dump_profile(loop_machine(disks)))
        config = tmp_path / "join.yaml"
        fields = {
            "hostname": taken,
            "server_url": host,
            "token": lab.full_token().get_secret_value(),
            "install_disk": {"path": disks[0]}, "data_disk": {"path": disks[1]},
            "skip_checks": True,
            "join_check": {"api_url": lab.cluster.server,
                           "api_token": node_reader.get_secret_value()},
        }  # fmt: skip
        config.write_text(yaml.safe_dump(document("join", **fields)))
        argv = ["--config", str(config), "--automatic", "--machine", str(profile),
                "--image", str(image)]  # fmt: skip
        assert install_cli.main(argv) == install_cli.EXIT_JOIN_REFUSED
        assert supervisor.requests == ["/cacerts", "/ping"]
        assert [digest(i) for i in images] == before
    out = capsys.readouterr()
    assert f"a node named {taken} is already in the cluster" in out.err
    assert "Nothing was touched" in out.err
    assert_no_secret(out.out, out.err)
    assert node_reader.get_secret_value() not in out.out + out.err
