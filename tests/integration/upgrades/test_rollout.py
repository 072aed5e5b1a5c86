"""The upgrade rollout (the cluster controller) against the real kube-apiserver: pre-checks
naming each failing check, the order (control-plane first, one node at a time), a blocking
PodDisruptionBudget (timeout -> paused, the budget named; resumed once it allows), stop at the
first failure, skip, abort and delete never leaving a node cordoned, a controller restart
mid-rollout continuing without repeating or skipping a node.

The API server runs no controller-manager and no kubelet: the test creates the Node objects and
writes their Ready condition and the pod's Running status, and writes the PodDisruptionBudget's
status (disruptionsAllowed) as the disruption controller would. The node agents are played by
the test (``AgentPlayer``): it answers a node's request in its NodeUpgrade as the real node side
does (tested on its own in test_node_side.py) and keeps the NodeStatus heartbeats fresh. The
image is served by a real HTTP server on 127.0.0.1 (the Image pre-check).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from kubernetes import client as k8s
from kubernetes import config

from integration.agent.kubehelpers import get_or_none, wait_until
from stook_agent.api import Upgrade
from stook_agent.api.osversion import OSImage
from stook_agent.resources import NODE_LABEL, NODE_STATUS
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Controller
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.kinds import NODE, POD
from stook_agent.runtime.manager import Manager, ManagerSettings
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource
from stook_agent.settings import AgentSettings
from stook_agent.upgrades import setup as upgrades
from stook_agent.upgrades.cluster import CORDONED_BY, PDB
from stook_agent.upgrades.resources import NODE_UPGRADE, OS_VERSION, UPGRADE
from stook_agent.upgrades.rollout import UpgradeReconciler
from stook_agent.upgrades.setup import rollout_controller
from support.apiserver import KubeCluster
from support.chart import NAMESPACE, apply_chart
from support.imageserver import ImageServer, serve_image
from support.tiers import require_tier
from support.tls import ca_signed

IMAGE = b"\x00" * 4096
SHA = "ab" * 32
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Rig:
    api: k8s.ApiClient
    run: str  # a label value only this test's nodes carry
    url: str
    clients: dict[str, ResourceClient] = field(default_factory=dict)
    controllers: list[Controller] = field(default_factory=list)
    upgrades: list[str] = field(default_factory=list)

    def client(self, resource: Resource) -> ResourceClient:
        return self.clients.setdefault(resource.plural, ResourceClient(self.api, resource))

    # -- the cluster, as the test makes it -------------------------------------------------

    def node(self, name: str, control_plane: bool = False, **report: Any) -> str:
        name = f"{name}-{self.run}"
        labels = {"stook-test-run": self.run} | ({CONTROL_PLANE: "true"} if control_plane else {})
        self.client(NODE).create({"apiVersion": "v1", "kind": "Node",
                                  "metadata": {"name": name, "labels": labels}})  # fmt: skip
        self.set_ready(name, True)
        meta = {"name": name, "labels": {NODE_LABEL: name}}
        self.client(NODE_STATUS).create({"apiVersion": NODE_STATUS.api_version,
                                         "kind": NODE_STATUS.kind, "metadata": meta,
                                         "spec": {"nodeName": name}})  # fmt: skip
        self.heartbeat(name)
        self.client(NODE_UPGRADE).create({"apiVersion": NODE_UPGRADE.api_version,
                                          "kind": NODE_UPGRADE.kind, "metadata": meta,
                                          "spec": {"nodeName": name}})  # fmt: skip
        booted = {"slot": "A", "version": "1.0", "good": True, "health": "passed"}
        self.client(NODE_UPGRADE).patch_status(
            name, {"booted": booted | report.pop("booted", {}), "freeBytes": 1 << 40} | report
        )
        return name

    def set_ready(self, name: str, ready: bool) -> None:
        condition = {"type": "Ready", "status": "True" if ready else "False",
                     "reason": "Test", "message": "set by the test (no kubelet)",
                     "lastHeartbeatTime": now(), "lastTransitionTime": now()}  # fmt: skip
        self.client(NODE).patch_status(name, {"conditions": [condition]})

    def heartbeat(self, name: str, at: str | None = None) -> None:
        self.client(NODE_STATUS).patch_status(name, {"lastHeartbeat": at or now()})

    def os_version(self, size: int = len(IMAGE), url: str | None = None) -> str:
        name = f"v2-{self.run}"
        spec = {"version": "2.0", "imageURL": url or self.url, "sha256": SHA, "size": size}
        self.client(OS_VERSION).create({
            "apiVersion": OS_VERSION.api_version, "kind": OS_VERSION.kind,
            "metadata": {"name": name}, "spec": spec,
        })  # fmt: skip
        return name

    def upgrade(self, version: str, **spec: Any) -> str:
        name = f"up-{uuid.uuid4().hex[:6]}-{self.run}"
        body = {"version": version, "nodeSelector": {"stook-test-run": self.run}} | spec
        self.client(UPGRADE).create({"apiVersion": UPGRADE.api_version, "kind": UPGRADE.kind,
                                     "metadata": {"name": name}, "spec": body})  # fmt: skip
        self.upgrades.append(name)
        return name

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> Upgrade:
        return Upgrade.parse(self.client(UPGRADE).get(name))

    def cordoned(self) -> set[str]:
        nodes, _ = self.client(NODE).list_objects(label_selector=f"stook-test-run={self.run}")
        return {n["metadata"]["name"] for n in nodes if (n.get("spec") or {}).get("unschedulable")}

    def wait_phase(self, name: str, *phases: str, what: str = "") -> Upgrade:
        return wait_until(
            lambda: (u := self.get(name)).status.phase in phases and u,
            what or f"upgrade {name} to be {'/'.join(phases)}",
            explain=lambda: self.get(name).status.model_dump_json(indent=1)[-3000:],
        )

    # -- the controller --------------------------------------------------------------------

    def start_controller(
        self, via: k8s.ApiClient | None = None, ca_file: str | None = None
    ) -> Controller:
        """The rollout controller, as the admin or through *via* (another credential); its
        Image pre-check trusts *ca_file* (the agent's --upgrade-ca-file) when given."""
        api = via or self.api

        def client(resource: Resource) -> ResourceClient:
            return ResourceClient(api, resource) if via else self.client(resource)

        controller = rollout_controller(
            client, Metrics(), EventRecorder(api, "stook-test-controller", ""), ca_file=ca_file
        )
        controller.start()
        self.controllers.append(controller)
        wait_until(controller.ready, "the rollout controller's first list")
        return controller


class AgentPlayer(threading.Thread):
    """Plays the node agents: answers each request, keeps heartbeats fresh, and records how
    many of the test's nodes were ever cordoned at once."""

    def __init__(
        self, rig: Rig, fail: set[str] | None = None, hold: set[str] | None = None
    ) -> None:
        """Nodes in *fail* fall back; nodes in *hold* never answer."""
        super().__init__(daemon=True)
        self.rig = rig
        self.fail = fail or set()
        self.hold = hold or set()
        self.stop = threading.Event()
        self.most_cordoned = 0
        self.answered: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                self.tick()
            except Exception:  # the API server is shared: try again next tick
                continue

    def tick(self) -> None:
        rig = self.rig
        self.most_cordoned = max(self.most_cordoned, len(rig.cordoned()))
        for name in rig.upgrades:
            obj = get_or_none(rig.client(UPGRADE), name)
            if obj is None:
                continue
            upgrade = Upgrade.parse(obj)
            for entry in upgrade.status.nodes:
                rig.heartbeat(entry.name)
                if entry.step != "Upgrading" or upgrade.spec.abort or entry.name in self.hold:
                    continue
                request = f"{upgrade.metadata.uid}/{entry.attempt}"
                report = rig.client(NODE_UPGRADE).get(entry.name)
                if (report.get("status") or {}).get("request") == request:
                    continue
                self.answer(entry.name, request)

    def answer(self, node: str, request: str) -> None:
        reports = self.rig.client(NODE_UPGRADE)
        reports.patch(node, {"spec": {"request": request}})
        base = {"request": request, "targetSlot": "B", "totalBytes": len(IMAGE),
                "bytesDownloaded": len(IMAGE), "bytesWritten": len(IMAGE)}  # fmt: skip
        reports.patch_status(node, base | {"phase": "Rebooting", "times": {"Rebooting": now()}})
        time.sleep(1.1)  # the reboot; the heartbeat after it is newer
        if node in self.fail:
            booted = {"slot": "A", "version": "1.0", "good": True, "fellBack": True}
            status = {"phase": "Failed", "message": "fell back to slot A (1.0): slot B (2.0) "
                      "was never marked good; the failed boot: stook-health-sshd.service failed",
                      "booted": booted, "failedCheck": "stook-health-sshd.service"}  # fmt: skip
        else:
            booted = {"slot": "B", "version": "2.0", "good": True, "health": "passed"}
            status = {"phase": "Succeeded", "message": "booted 2.0 from slot B", "booted": booted}
        self.rig.heartbeat(node)
        reports.patch_status(node, base | status)
        self.answered.append(node)


@pytest.fixture
def rig(api: k8s.ApiClient) -> Iterator[Rig]:
    run = uuid.uuid4().hex[:8]
    with serve_image(ImageServer(IMAGE)) as server:
        rig = Rig(api, run, server.url)
        yield rig
        for name in rig.upgrades:  # the controller's finalizer must let them go
            if get_or_none(rig.client(UPGRADE), name) is not None:
                rig.client(UPGRADE).delete(name)
        if rig.controllers:
            for name in rig.upgrades:
                wait_until(lambda n=name: get_or_none(rig.client(UPGRADE), n) is None,
                           f"upgrade {name} to be deleted")  # fmt: skip
        for controller in rig.controllers:
            controller.stop(drain_timeout=5)
    assert rig.cordoned() == set(), "a node was left cordoned"


@pytest.fixture
def player(rig: Rig) -> Iterator[Callable[..., AgentPlayer]]:
    started: list[AgentPlayer] = []

    def start(**options: Any) -> AgentPlayer:
        playing = AgentPlayer(rig, **options)
        playing.start()
        started.append(playing)
        return playing

    yield start
    for playing in started:
        playing.stop.set()
        playing.join(timeout=5)


def test_the_pre_checks_name_each_failing_check_and_touch_nothing(rig: Rig) -> None:
    down = rig.node("down")
    rig.set_ready(down, False)
    stale = rig.node("stale")
    rig.heartbeat(stale, at="2020-01-01T00:00:00Z")
    trial = rig.node("trial", booted={"good": False, "trial": True})
    full = rig.node("full", freeBytes=10)
    newer = rig.node("newer", booted={"version": "3.0"})
    rig.start_controller()
    name = rig.upgrade(rig.os_version(size=len(IMAGE) + 1))

    invalid = rig.wait_phase(name, "Invalid")
    message = invalid.status.message
    assert f"NodeReady: {down} is not Ready" in message
    assert f"AgentHeartbeat: {stale}'s stook-agent last reported" in message
    assert f"BootState: {trial}'s slot A is on trial" in message
    assert f"Space: {full} has 10 bytes free" in message
    assert f"Version: {newer} runs 3.0, newer than 2.0" in message
    assert f"Image: {rig.url} has {len(IMAGE)} bytes, the OSVersion says {len(IMAGE) + 1}" in (
        message
    )
    validated = next(c for c in invalid.status.conditions if c.type == "Validated")
    assert validated.status == "False" and validated.reason == "PreChecksFailed"
    assert invalid.status.nodes == [] and rig.cordoned() == set()


def test_an_https_image_behind_a_private_ca_passes_the_image_check_only_with_that_ca(
    rig: Rig, player: Callable[..., AgentPlayer], tmp_path: Path
) -> None:
    """The controller trusts what the nodes trust (stook-agent --upgrade-ca-file): without the
    test CA the Image pre-check fails at once, naming the URL and why; with it the rollout runs."""
    ca, cert, key = ca_signed(tmp_path, ip="127.0.0.1")
    node = rig.node("tls")
    with serve_image(ImageServer(IMAGE, tls=(cert, key))) as server:
        untrusting = rig.start_controller()
        name = rig.upgrade(rig.os_version(url=server.url))

        message = rig.wait_phase(name, "Invalid").status.message
        assert (
            f"Image: {server.url} is not trusted: its TLS certificate does not verify against "
            "the system's CAs (unable to get local issuer certificate); a private CA? give "
            "stook-agent --upgrade-ca-file its certificate"
        ) in message, message
        others = ("NodeReady", "AgentHeartbeat", "BootState", "Version", "Space", "ControlPlane")
        assert not [check for check in others if f"{check}:" in message], message
        assert rig.cordoned() == set()

        untrusting.stop(drain_timeout=5)
        rig.controllers.remove(untrusting)
        player()
        rig.start_controller(ca_file=str(ca))
        done = rig.wait_phase(name, "Succeeded")
    assert [n.name for n in done.status.nodes] == [node]
    validated = next(c for c in done.status.conditions if c.type == "Validated")
    assert validated.status == "True" and "Image passed" in validated.message


def test_the_agents_upgrade_settings_reach_the_node_side_and_the_leaders_image_check(
    api: k8s.ApiClient, tmp_path: Path
) -> None:
    """The wiring: stook-agent's --upgrade-ca-file (AgentSettings) is what the rollout
    controller of the agent's manager trusts, not only the node side's downloads; its
    --upgrade-downloads is the node side's download folder."""
    ca, cert, key = ca_signed(tmp_path, ip="127.0.0.1")
    manager = Manager(api, ManagerSettings(metrics_port=0), cluster_api=api)
    settings = AgentSettings(
        node="n1", upgrade_ca_file=str(ca), upgrade_downloads=tmp_path / "downloads"
    )
    wired = upgrades.setup(manager, settings)
    downloads = wired.node.reconciler.side.downloads
    assert downloads.folder == tmp_path / "downloads" and downloads.ca_file == str(ca)
    rollout = wired.rollout
    assert rollout is not None
    reconciler = rollout.reconciler
    assert isinstance(reconciler, UpgradeReconciler)
    with serve_image(ImageServer(IMAGE, tls=(cert, key))) as server:
        image = OSImage(version="2.0", imageURL=server.url, sha256=SHA, size=len(IMAGE))
        assert reconciler.image_check(image) == ""


def test_one_node_at_a_time_control_plane_first_across_a_controller_restart(
    rig: Rig, player: Callable[..., AgentPlayer]
) -> None:
    worker_b = rig.node("w-b")
    server = rig.node("cp", control_plane=True)
    worker_a = rig.node("w-a")
    playing = player()
    first = rig.start_controller()
    name = rig.upgrade(rig.os_version())

    running = rig.wait_phase(name, "Running", "Succeeded")
    assert [n.name for n in running.status.nodes] == [server, worker_a, worker_b]
    validated = next(c for c in running.status.conditions if c.type == "Validated")
    assert validated.status == "True" and "Longhorn: not installed" in validated.message
    # Kill the controller once the second node is under way; a new one takes over.
    wait_until(
        lambda: (
            (s := {n.name: n.step for n in rig.get(name).status.nodes})[server] == "Succeeded"
            and s[worker_a] != "Pending"
        ),
        "the second node to be taken",
    )
    first.stop(drain_timeout=5)
    rig.controllers.remove(first)
    rig.start_controller()

    done = rig.wait_phase(name, "Succeeded", "Failed")
    assert done.status.phase == "Succeeded", done.status.message
    assert done.status.progress == "3/3" and rig.cordoned() == set()
    drained = [h.node for h in done.status.history if h.step == "Draining"]
    assert drained == [server, worker_a, worker_b]  # none repeated, none skipped
    assert sorted(playing.answered) == sorted([server, worker_a, worker_b])
    assert playing.most_cordoned == 1
    spans = [(n.times["Draining"], n.times["Succeeded"]) for n in done.status.nodes]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def printed(api: k8s.ApiClient, resource: Resource, name: str) -> dict[str, Any]:
    """The row ``kubectl get`` shows for one object: the API server's Table, by column."""
    request = api.param_serialize(
        "GET", resource.path(name=name), auth_settings=["BearerToken"],
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )  # fmt: skip
    reply = api.call_api(*request, _request_timeout=(5, 30))
    reply.read()
    table = json.loads(reply.data)
    names = [c["name"] for c in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


def controller_kubeconfig(api: k8s.ApiClient, cluster: KubeCluster, seconds: int = 600) -> Path:
    """A kubeconfig with a token of the chart's stook-controller ServiceAccount (its RBAC is
    real here), valid for *seconds*."""
    apply_chart(api)
    token = k8s.CoreV1Api(api).create_namespaced_service_account_token(
        "stook-controller", NAMESPACE, {"spec": {"audiences": [], "expirationSeconds": seconds}}
    )
    return cluster.token_kubeconfig("upgrade-controller", str(token.status.token))


def controller_credential(api: k8s.ApiClient, cluster: KubeCluster) -> k8s.ApiClient:
    """An API client as the chart's stook-controller ServiceAccount."""
    path = controller_kubeconfig(api, cluster)
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(path))
    return client


@pytest.mark.parametrize("credential", ["admin", "stook-controller"])
def test_a_blocking_budget_pauses_the_drain_naming_it_until_it_allows(
    rig: Rig, player: Callable[..., AgentPlayer], cluster: KubeCluster, credential: str
) -> None:
    """Also as the chart's stook-controller ServiceAccount: its ClusterRole grants every call
    of a rollout (cordon, evictions, budgets, Longhorn's absence, spec and status, finalizer)."""
    via = controller_credential(rig.api, cluster) if credential != "admin" else None
    node = rig.node("busy")
    namespace = "default"
    pod = f"app-{rig.run}"
    rig.client(POD).create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "namespace": namespace, "labels": {"app": rig.run}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
    })  # fmt: skip
    # Running, as its kubelet would report it (the eviction API lets Pending pods go freely).
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": now()}
    rig.client(POD).patch_status(f"{namespace}/{pod}", {"phase": "Running", "conditions": [ready]})
    budget = f"pdb-{rig.run}"
    budgets = rig.client(PDB)
    created = budgets.create({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": budget, "namespace": namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": rig.run}}},
    })  # fmt: skip

    def budget_allows(allowed: int) -> None:  # what the disruption controller would write
        budgets.patch_status(f"{namespace}/{budget}", {
            "observedGeneration": created["metadata"]["generation"],
            "disruptionsAllowed": allowed, "currentHealthy": 1, "desiredHealthy": 1 - allowed,
            "expectedPods": 1,
        })  # fmt: skip

    budget_allows(0)
    player()
    rig.start_controller(via)
    name = rig.upgrade(rig.os_version(), drain={"timeoutSeconds": 2})

    paused = rig.wait_phase(name, "Paused")
    assert f"refused by PodDisruptionBudget {namespace}/{budget}" in paused.status.message
    assert "timed out after 2 s" in paused.status.message
    assert rig.get(name).spec.paused is True and rig.cordoned() == {node}
    assert get_or_none(rig.client(POD), f"{namespace}/{pod}") is not None  # never forced

    budget_allows(1)
    rig.client(UPGRADE).patch(name, {"spec": {"paused": False}})
    done = rig.wait_phase(name, "Succeeded", "Failed")
    assert done.status.phase == "Succeeded", done.status.message
    assert get_or_none(rig.client(POD), f"{namespace}/{pod}") is None  # evicted
    assert rig.cordoned() == set()


def test_a_drain_lists_and_evicts_only_its_nodes_pods(
    rig: Rig, player: Callable[..., AgentPlayer], cluster: KubeCluster
) -> None:
    """The API server filters the pods (a field selector), so a drain never reads a whole
    cluster's pods; the audit log shows the requests the controller made."""
    require_tier(cluster.controllable, "a local test API server (its audit log)",
                 "unset STOOK_TEST_KUBECONFIG")  # fmt: skip
    node = rig.node("drained")
    elsewhere = f"elsewhere-{rig.run}"  # a node outside the upgrade (no Node object needed)
    pods = rig.client(POD)
    for name, on in ((f"app-{rig.run}", node), (f"other-{rig.run}", elsewhere)):
        pods.create({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": on, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
        })  # fmt: skip
    user = f"system:serviceaccount:{NAMESPACE}:stook-controller"
    before = len(cluster.audited(user))
    player()
    rig.start_controller(controller_credential(rig.api, cluster))
    done = rig.wait_phase(rig.upgrade(rig.os_version()), "Succeeded", "Failed")
    assert done.status.phase == "Succeeded", done.status.message

    assert get_or_none(pods, f"default/app-{rig.run}") is None  # evicted
    assert get_or_none(pods, f"default/other-{rig.run}") is not None
    requests = cluster.audited(user)[before:]
    lists = [e["requestURI"] for e in requests if e["verb"] == "list"]
    assert lists, [e["requestURI"] for e in requests]
    selector = f"fieldSelector={quote(f'spec.nodeName={node}', safe='')}"
    assert all(uri.startswith("/api/v1/pods?") and selector in uri for uri in lists), lists
    evicted = [e["objectRef"]["name"] for e in requests if e["verb"] == "create"]
    assert evicted == [f"app-{rig.run}"], evicted
    pods.delete(f"default/other-{rig.run}")


def test_the_first_failure_stops_it_then_retry_skip_and_abort(
    rig: Rig, player: Callable[..., AgentPlayer]
) -> None:
    first = rig.node("a")
    second = rig.node("b")
    third = rig.node("c")
    playing = player(fail={first}, hold={third})
    rig.start_controller()
    name = rig.upgrade(rig.os_version())

    failed = rig.wait_phase(name, "Failed")
    assert f"stopped at the first failure ({first})" in failed.status.message
    assert "fell back to slot A" in failed.status.message
    assert "stook-health-sshd.service failed" in failed.status.message
    assert failed.status.nodes[0].failed_check == "stook-health-sshd.service"
    assert "left cordoned for inspection" in failed.status.message
    # kubectl get: the API server's table names the failed node and its check.
    row = printed(rig.api, UPGRADE, name)
    assert (row["Phase"], row["Failed"]) == ("Failed", first), row
    assert row["Failed-Check"] == "stook-health-sshd.service", row
    assert printed(rig.api, NODE_UPGRADE, first)["Failed-Check"] == "stook-health-sshd.service"
    assert rig.cordoned() == {first}  # the others untouched
    assert [n.step for n in failed.status.nodes] == ["Failed", "Pending", "Pending"]

    # Retry: the node gets a new request (attempt 2), which its agent now carries out.
    playing.fail = {second}
    rig.client(UPGRADE).patch(name, {"spec": {"retry": 1}})
    failed = wait_until(
        lambda: (u := rig.get(name)).status.nodes[1].step == "Failed" and u,
        "the retried node to succeed and the next one to fail",
    )
    assert failed.status.nodes[0].step == "Succeeded" and failed.status.nodes[0].attempt == 2
    assert rig.cordoned() == {second}

    # Skip the failed node: the rollout goes on (the skipped node stays cordoned until the end).
    rig.client(UPGRADE).patch(name, {"spec": {"skipNodes": [second]}})
    wait_until(
        lambda: [n.step for n in rig.get(name).status.nodes][1:] == ["Skipped", "Upgrading"],
        "the third node to be taken (its agent is held)",
    )
    assert rig.cordoned() == {second, third}
    rig.client(UPGRADE).patch(name, {"spec": {"abort": True}})
    aborted = rig.wait_phase(name, "Aborted")
    assert rig.cordoned() == set(), aborted.status.message
    nodes, _ = rig.client(NODE).list_objects(label_selector=f"stook-test-run={rig.run}")
    assert not any(CORDONED_BY in (n["metadata"].get("annotations") or {}) for n in nodes)


def test_deleting_an_upgrade_mid_rollout_uncordons_its_node(rig: Rig) -> None:
    node = rig.node("held")  # no agent answers: it stays Upgrading
    rig.start_controller()
    name = rig.upgrade(rig.os_version())
    wait_until(
        lambda: rig.get(name).status.nodes and rig.get(name).status.nodes[0].step == "Upgrading",
        "the node to be handed to its agent",
    )
    assert rig.cordoned() == {node}
    rig.client(UPGRADE).delete(name)
    wait_until(lambda: get_or_none(rig.client(UPGRADE), name) is None, "the upgrade to go")
    assert rig.cordoned() == set()
