"""U1 and U2: cluster OS upgrades of two installed QEMU nodes (issue 12, docs/upgrades.md).

Both nodes boot copy-on-write overlays of the session's one live install (conftest
``installed``), each with its own hostname and its own node credentials
(CN=system:node:<name>, O=system:nodes, from the test API server's CA) for the test
kube-apiserver on this host, which a guest reaches as 10.0.2.2: their real stook-agent runs
the node side. The cluster side, the rollout controller, runs on this host as its own process
(support/rollout_process.py) with a token of the chart's stook-controller ServiceAccount. The
OS images are served over HTTP on this host's own address (guests reach it through QEMU's user
network, and the controller's Image pre-check reaches it as well). No kubelet runs: the test
makes the Node objects and their Ready condition, and plays the kubelet for the one pod
(``KubeletStandIn``: it deletes the pod once its eviction marked it terminating).

U1  v1 -> v2 (support/os_image.py: another VERSION): one node after the other (a watch of the
    Nodes sees never two cordoned at once), each boots v2 from its other slot and marks it
    good; the Upgrade ends Succeeded. A pod bound to node 1 with a PodDisruptionBudget goes
    through the Eviction API. The controller is SIGKILLed once, while node 1 reboots; the next
    process continues: no node repeated or skipped.
U2  (the same booted nodes, on v2) -> v3, a broken build whose kernel and userspace boot but
    whose required boot check stook-health-sshd.service fails: stook-boot-failed reboots, GRUB
    falls back to v2 by itself, the node's agent reports the check from the failed boot's
    journal, the Upgrade stops Failed naming it; node 2 is never cordoned and stays on v2; after
    the abort no node is cordoned.

The per-phase timeline (host clock, as first seen) is written to ``timeline.json`` in the
module's folder and to ``$STOOK_UPGRADE_TIMELINE`` if set (bench/upgrade_bench.py reads it).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch

from integration.agent.conftest import cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import get_or_none, install_crds
from integration.upgrades.test_rollout import controller_kubeconfig
from stook_agent.api import NodeUpgrade, Upgrade
from stook_agent.resources import NODE_STATUS
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.kinds import NODE
from stook_agent.runtime.resource import Resource
from stook_agent.upgrades.cluster import PDB
from stook_agent.upgrades.resources import NODE_UPGRADE, OS_VERSION, UPGRADE
from support.apiserver import KubeCluster
from support.chart import apply_chart
from support.live_install import PASSWORD, Installed
from support.node_vm import (
    NodeVm,
    boot_healthy,
    host_address,
    node_status,
    passwordless_sudo,
    serve_directory,
)
from support.os_image import V2, V3, V3_FAILED_CHECK, VERSION, Variant, derived_image, image_sha256
from support.qemu import Ssh, free_port, serial_tail
from support.rollout_process import RolloutProcess
from support.tiers import require_tier

# Longer than the tier's 900 s per test: U1's setup boots two nodes (and, run alone, makes the
# session's install first); under TCG on a loaded machine that is several minutes each.
pytestmark = pytest.mark.timeout(3600)
NODES = ("stook-u1", "stook-u2")  # the rollout takes them by name: u1 first
SELECTOR = "stook.io/e2e-upgrades"
AGENT_ARGS = "--heartbeat 5 --rescan-period 3600"  # fresh heartbeats for the health gate
NAMESPACE = "default"
APP = "e2e-upgrade-app"
AGENT_SECONDS = 240.0
ROLLOUT_SECONDS = 2400.0  # TCG, two nodes: download + write ~2 min, reboot ~2-4 min each
POLL = 0.5


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Node:
    name: str
    vm: NodeVm
    ssh: Ssh
    log: Path
    qemu: subprocess.Popen[bytes]

    def journal(self) -> str:
        """The agent's and the boot checks' last lines (when SSH answers)."""
        try:
            return self.ssh.run(
                "sudo -n journalctl -u stook-agent --no-pager -n 30; "
                "sudo -n journalctl -b -1 -u 'stook-*' --no-pager -n 20",
                timeout=20,
            ).stdout
        except subprocess.TimeoutExpired:
            return "(SSH did not answer)"


@dataclass
class Pair:
    api: k8s.ApiClient
    nodes: list[Node]
    images: str  # the image server's base URL
    controller: RolloutProcess
    folder: Path
    timeline: Timeline
    cordons: CordonWatch
    kubelet: KubeletStandIn
    clients: dict[str, ResourceClient] = field(default_factory=dict)

    def client(self, resource: Resource) -> ResourceClient:
        return self.clients.setdefault(resource.plural, ResourceClient(self.api, resource))

    def upgrade(self, name: str) -> Upgrade:
        return Upgrade.parse(self.client(UPGRADE).get(name))

    def report(self, node: str) -> NodeUpgrade | None:
        found = get_or_none(self.client(NODE_UPGRADE), node)
        return NodeUpgrade.parse(found) if found else None

    def cordoned(self) -> set[str]:
        nodes, _ = self.client(NODE).list_objects(label_selector=SELECTOR)
        return {n["metadata"]["name"] for n in nodes if (n.get("spec") or {}).get("unschedulable")}

    def explain(self, upgrade: str | None = None) -> str:
        parts = []
        if upgrade and (obj := get_or_none(self.client(UPGRADE), upgrade)):
            parts.append(json.dumps(obj.get("status"), indent=1)[-3000:])
        for node in self.nodes:
            report = self.report(node.name)
            parts.append(f"{node.name}: {report.status.model_dump_json() if report else None}")
            parts.append(f"{node.name} serial: {serial_tail(node.log, 1500)}")
            parts.append(f"{node.name} journal: {node.journal()[-2500:]}")
        parts.append(f"controller: {self.controller.tail(1500)}")
        return "\n".join(parts)

    def wait(self, check: Callable[[], Any], what: str, seconds: float, upgrade: str = "") -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                value = check()
            except Exception as error:  # the API server answers again next poll
                value, last = None, error
            else:
                last = None
            if value:
                return value
            dead = [n.name for n in self.nodes if n.qemu.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"QEMU of {dead} exited" if dead else f"timed out after {seconds:.0f} s"
                pytest.fail(f"{why} waiting for {what} (last error: {last})\n"
                            f"{self.explain(upgrade)}")  # fmt: skip
            time.sleep(POLL)


class CordonWatch(threading.Thread):
    """A watch of the test's Nodes: every change of spec.unschedulable is seen, so "never two
    cordoned at once" is what the API server served, not what a poll happened to catch."""

    def __init__(self, api: k8s.ApiClient) -> None:
        super().__init__(daemon=True, name="cordon-watch")
        self.core = k8s.CoreV1Api(api)
        self.stop = threading.Event()
        self.cordoned: dict[str, bool] = {}
        self.most = 0
        self.ever: set[str] = set()

    def reset(self) -> None:
        self.most = sum(self.cordoned.values())
        self.ever = {name for name, on in self.cordoned.items() if on}

    def run(self) -> None:
        while not self.stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    self.core.list_node, label_selector=SELECTOR, timeout_seconds=30
                ):
                    node = event["object"]
                    on = bool(node.spec.unschedulable) and event["type"] != "DELETED"
                    self.cordoned[node.metadata.name] = on
                    self.most = max(self.most, sum(self.cordoned.values()))
                    if on:
                        self.ever.add(node.metadata.name)
                    if self.stop.is_set():
                        break
            except Exception:  # reopened (the re-list reports the current state first)
                time.sleep(1)


class Timeline(threading.Thread):
    """When each step of each node (the Upgrade's status) and each phase of each node's agent
    (its NodeUpgrade) was first seen, on this host's clock."""

    def __init__(self, pair: Callable[[], Pair | None]) -> None:
        super().__init__(daemon=True, name="timeline")
        self.pair = pair
        self.stop = threading.Event()
        self.seen: dict[str, dict[str, dict[str, str]]] = {}  # upgrade -> "node/kind" -> step

    def run(self) -> None:
        while not self.stop.wait(POLL):
            pair = self.pair()
            if pair is None:
                continue
            try:
                self.tick(pair)
            except Exception:
                continue

    def tick(self, pair: Pair) -> None:
        upgrades, _ = pair.client(UPGRADE).list_objects()
        reports = {n.name: pair.report(n.name) for n in pair.nodes}
        for obj in upgrades:
            upgrade = Upgrade.parse(obj)
            record = self.seen.setdefault(upgrade.metadata.name, {})
            for entry in upgrade.status.nodes:
                record.setdefault(f"{entry.name}/controller", {}).setdefault(entry.step, stamp())
                report = reports.get(entry.name)
                if report is not None and report.spec.upgrade == upgrade.metadata.name:
                    phases = record.setdefault(f"{entry.name}/agent", {})
                    phases.setdefault(report.status.phase, stamp())

    def write(self, folder: Path) -> None:
        text = json.dumps(self.seen, indent=1, sort_keys=True)
        (folder / "timeline.json").write_text(text)
        if target := os.environ.get("STOOK_UPGRADE_TIMELINE"):
            Path(target).write_text(text)


class KubeletStandIn(threading.Thread):
    """What the node's kubelet would do for the test's pod, as no kubelet runs: once the pod is
    terminating (its eviction marked it), note how it was disrupted and remove it."""

    def __init__(self, api: k8s.ApiClient) -> None:
        super().__init__(daemon=True, name="kubelet-stand-in")
        self.core = k8s.CoreV1Api(api)
        self.stop = threading.Event()
        self.disrupted: dict[str, str] = {}  # pod -> the DisruptionTarget condition's reason

    def run(self) -> None:
        while not self.stop.wait(POLL):
            try:
                pods = self.core.list_namespaced_pod(NAMESPACE, label_selector=f"app={APP}")
                for pod in pods.items:
                    if pod.metadata.deletion_timestamp is None:
                        continue
                    conditions = pod.status.conditions or []
                    reason = next(
                        (c.reason for c in conditions if c.type == "DisruptionTarget"), "none"
                    )
                    self.disrupted[pod.metadata.name] = str(reason)
                    self.core.delete_namespaced_pod(
                        pod.metadata.name, NAMESPACE, grace_period_seconds=0
                    )
            except Exception:
                continue


def set_ready(pair_api: ResourceClient, name: str) -> None:
    now = stamp()
    condition = {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "set by the test (no kubelet runs)", "lastHeartbeatTime": now,
                 "lastTransitionTime": now}  # fmt: skip
    pair_api.patch_status(name, {"conditions": [condition]})


def give_credentials(node: Node, cluster: KubeCluster) -> None:  # noqa: F811
    """The node's own identity and credentials; the image's stook-agent.path starts the agent."""
    node.ssh.check(f"sudo -n hostnamectl set-hostname {node.name}")
    node.ssh.check(
        f"echo 'STOOK_AGENT_ARGS={AGENT_ARGS}' | "
        "sudo -n install -D -m 0644 /dev/stdin /etc/stook/agent/agent.env"
    )
    kubeconfig = cluster.node_kubeconfig(
        node.name, server=f"https://10.0.2.2:{cluster.port}", embed=True
    ).read_text()
    subprocess.run(
        node.ssh.argv("sudo -n install -D -m 0600 /dev/stdin /etc/stook/agent/kubeconfig"),
        input=kubeconfig, text=True, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pair(
    installed: Installed,
    cluster: KubeCluster,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """Both nodes booted (v1, slot A marked good), their agents reporting, the controller up."""
    require_tier(cluster.controllable, "a local test API server", "unset STOOK_TEST_KUBECONFIG")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    apply_chart(api)
    folder = tmp_path_factory.mktemp("upgrades")
    served = folder / "images"
    served.mkdir()
    for variant in (V2, V3):
        image = derived_image(variant)
        (served / image.name).symlink_to(image)
    nodes_api = ResourceClient(api, NODE)
    created: list[Pair] = []
    timeline = Timeline(lambda: created[0] if created else None)
    cordons = CordonWatch(api)
    kubelet = KubeletStandIn(api)
    with ExitStack() as stack:
        address = host_address()
        port = stack.enter_context(serve_directory(served, host=address))
        nodes = []
        for name in NODES:
            if get_or_none(nodes_api, name) is None:
                meta = {"name": name, "labels": {SELECTOR: "true"}}
                nodes_api.create({"apiVersion": "v1", "kind": "Node", "metadata": meta})
            set_ready(nodes_api, name)
            home = folder / name
            ssh_port = free_port()
            vm = NodeVm(installed.disks.overlay(home / "disks"), home, ssh_port, reboot=True)
            log = home / "serial.log"
            qemu = stack.enter_context(vm.booted(log))
            nodes.append(Node(name, vm, Ssh(port=ssh_port, key=installed.key), log, qemu))
        started = time.monotonic()
        for node in nodes:
            boot_healthy(node.ssh, node.qemu, node.log, f"{node.name}: first boot")
            passwordless_sudo(node.ssh, PASSWORD)
            give_credentials(node, cluster)
        controller = RolloutProcess(
            controller_kubeconfig(api, cluster, seconds=7200), folder / "controller.log"
        )
        made = Pair(api, nodes, f"http://{address}:{port}", controller, folder, timeline,
                    cordons, kubelet)  # fmt: skip
        created.append(made)
        for node in nodes:
            made.wait(
                lambda n=node.name: (r := made.report(n)) and r.status.booted.good
                and get_or_none(made.client(NODE_STATUS), n),
                f"{node.name}'s agent to report its booted slot", AGENT_SECONDS,
            )  # fmt: skip
        print(f"two nodes booted, agents reporting: {time.monotonic() - started:.0f} s")
        controller.start()
        stack.callback(controller.stop)
        for thread in (timeline, cordons, kubelet):
            thread.start()
            stack.callback(thread.stop.set)
        stack.callback(lambda: timeline.write(folder))
        yield made


def os_version(pair: Pair, variant: Variant) -> str:
    image = derived_image(variant)
    name = f"e2e-{variant.version.replace('.', '-')}"
    if get_or_none(pair.client(OS_VERSION), name) is None:
        pair.client(OS_VERSION).create({
            "apiVersion": OS_VERSION.api_version, "kind": OS_VERSION.kind,
            "metadata": {"name": name},
            "spec": {"version": variant.version, "imageURL": f"{pair.images}/{image.name}",
                     "sha256": image_sha256(image), "size": image.stat().st_size,
                     "minUpgradableVersion": VERSION},
        })  # fmt: skip
    return name


def create_upgrade(pair: Pair, version: str, **spec: Any) -> str:
    """The Upgrade of the test's nodes to OSVersion *version*, through the API."""
    name = f"to-{version}"
    body = {"version": version, "nodeSelector": {SELECTOR: "true"}} | spec
    pair.client(UPGRADE).create({"apiVersion": UPGRADE.api_version, "kind": UPGRADE.kind,
                                 "metadata": {"name": name}, "spec": body})  # fmt: skip
    return name


def start_upgrade(pair: Pair, version: str) -> str:
    """How U1's operator starts the upgrade: by clicking in the web console in Debian's
    chromium (a stook-console on this host against the test API server, signed in as a
    stook-upgrade-operator ServiceAccount: Upgrade to *version* for the test's nodes, the
    controller's pre-checks passed, "I have read the release notes", Start)."""
    from support.browser import start_upgrade_in_console

    return start_upgrade_in_console(pair.api, pair.folder, version, f"{SELECTOR}=true")


def pod_with_budget(pair: Pair, node: str) -> str:
    """A Running pod bound to *node* and a PodDisruptionBudget that allows one disruption."""
    pod = f"{APP}-1"
    core = k8s.CoreV1Api(pair.api)
    core.create_namespaced_pod(NAMESPACE, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "labels": {"app": APP}},
        "spec": {"nodeName": node,
                 "containers": [{"name": "app", "image": "registry.invalid/a:1"}]},
    })  # fmt: skip
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": stamp()}
    running = {"status": {"phase": "Running", "conditions": [ready]}}  # as its kubelet says
    core.patch_namespaced_pod_status(pod, NAMESPACE, running)
    budgets = pair.client(PDB)
    created = budgets.create({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{APP}-budget", "namespace": NAMESPACE},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": APP}}},
    })  # fmt: skip
    budgets.patch_status(f"{NAMESPACE}/{APP}-budget", {  # what the disruption controller writes
        "observedGeneration": created["metadata"]["generation"], "disruptionsAllowed": 1,
        "currentHealthy": 1, "desiredHealthy": 0, "expectedPods": 1,
    })  # fmt: skip
    return pod


def phase(pair: Pair, name: str, *phases: str) -> Upgrade:
    """The Upgrade once it is in one of *phases*."""
    found: Upgrade = pair.wait(
        lambda: (u := pair.upgrade(name)).status.phase in phases and u,
        f"upgrade {name} to be {' or '.join(phases)}", ROLLOUT_SECONDS, name,
    )  # fmt: skip
    return found


def booted(node: Node) -> dict[str, Any]:
    return node_status(node.ssh)


def test_u1_a_rolling_upgrade_to_v2_one_node_at_a_time_across_a_controller_kill(
    pair: Pair,
) -> None:
    first = pair.nodes[0]
    pod = pod_with_budget(pair, first.name)
    pair.cordons.reset()
    started = time.monotonic()
    name = start_upgrade(pair, os_version(pair, V2))

    def step_of(node: str) -> str | None:
        upgrade = pair.upgrade(name)
        if upgrade.status.phase == "Failed":
            pytest.fail(f"the upgrade failed: {upgrade.status.message}\n{pair.explain(name)}")
        return next((n.step for n in upgrade.status.nodes if n.name == node), None)

    pair.wait(lambda: step_of(first.name) == "Rebooting", f"{first.name} to reboot",
              ROLLOUT_SECONDS, name)  # fmt: skip
    pair.controller.kill()  # mid-rollout, while node 1 reboots; the next one takes over
    killed_at = step_of(first.name)
    pair.controller.start()
    done = phase(pair, name, "Succeeded", "Failed")
    print(f"U1 rollout: {time.monotonic() - started:.0f} s (controller killed at {killed_at})")
    pair.timeline.tick(pair)

    assert done.status.phase == "Succeeded", pair.explain(name)
    assert done.status.progress == "2/2" and pair.cordoned() == set()
    assert pair.cordons.most == 1 and pair.cordons.ever == set(NODES)  # one at a time, both
    drained = [h.node for h in done.status.history if h.step == "Draining"]
    assert drained == list(NODES)  # neither repeated nor skipped across the kill
    assert [n.attempt for n in done.status.nodes] == [1, 1]
    spans = [(n.times["Draining"], n.times["Succeeded"]) for n in done.status.nodes]
    assert spans[0][1] <= spans[1][0]  # node 2 taken only after node 1 passed its gate
    for node in pair.nodes:
        status = booted(node)
        assert (status["slot"], status["version"]) == ("B", V2.version), status
        assert status["slots"]["B"]["good"] and status["slots"]["A"]["good"], status
        assert not status["fell_back"], status
        report = pair.report(node.name)
        assert report is not None and report.status.phase == "Succeeded", report
        assert report.spec.request == f"{done.metadata.uid}/1"
        boots = node.log.read_text(errors="replace").count("Stook: chose slot B")
        assert boots == 1, f"{node.name} booted slot B {boots} times"  # written and booted once
    # The pod went through the Eviction API (which marks it; a delete would not), before the
    # node was handed to its agent, and the budget allowed it.
    assert pair.kubelet.disrupted == {pod: "EvictionByEvictionAPI"}, pair.kubelet.disrupted
    events = k8s.CoreV1Api(pair.api).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={name}"
    )
    reasons = {e.reason for e in events.items}
    assert {"UpgradeValidated", "UpgradeDraining", "UpgradeUpgrading", "UpgradeRebooting",
            "UpgradeSucceeded"} <= reasons, reasons  # fmt: skip


def test_u2_a_broken_v3_falls_back_by_itself_and_stops_the_rollout_naming_the_check(
    pair: Pair,
) -> None:
    first, second = pair.nodes
    pair.cordons.reset()
    started = time.monotonic()
    # One boot attempt of the new slot: a failed check falls back on the next boot.
    name = create_upgrade(pair, os_version(pair, V3), bootAttempts=1)
    failed = phase(pair, name, "Failed", "Succeeded")
    print(f"U2 to Failed: {time.monotonic() - started:.0f} s")
    pair.timeline.tick(pair)

    assert failed.status.phase == "Failed", pair.explain(name)
    assert f"stopped at the first failure ({first.name})" in failed.status.message
    assert "fell back to slot B" in failed.status.message
    assert f"{V3_FAILED_CHECK} failed" in failed.status.message, failed.status.message
    one, two = failed.status.nodes
    assert one.failed_check == V3_FAILED_CHECK and two.step == "Pending", failed.status.nodes
    report = pair.report(first.name)
    assert report is not None and report.status.failed_check == V3_FAILED_CHECK
    status = booted(first)  # back on v2, by itself
    assert (status["slot"], status["version"], status["fell_back"]) == ("B", V2.version, True)
    assert status["slots"]["A"] == {"good": False, "attempts_left": 0, "version": V3.version}
    assert pair.cordoned() == {first.name} and pair.cordons.ever == {first.name}
    untouched = booted(second)
    assert (untouched["slot"], untouched["version"]) == ("B", V2.version), untouched

    pair.client(UPGRADE).patch(name, {"spec": {"abort": True}})
    pair.wait(lambda: pair.upgrade(name).status.phase == "Aborted", "the abort", 120, name)
    pair.wait(lambda: pair.cordoned() == set(), "no node cordoned after the abort", 60, name)
    assert pair.cordons.ever == {first.name}
