"""The node side's network reconcilers (stook_agent.networks.node, .mgmt) without an API server
(a recording client) and without a kernel: FakeNetlink (tests/unit/net/fake_netlink.py) and
FakeHost (tests/unit/net/test_checkpoint.py) are the doubles at the netlink and systemd
boundaries. The real kernel, systemd and API server: tests/e2e/test_networks.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from stook_agent.networks.mgmt import ManagementChangeReconciler, MgmtSettings
from stook_agent.networks.node import NodeHost, NodeNetworkReconciler
from stook_agent.runtime.errors import ApiError
from stook_core.hardware import Nic
from stook_core.net.checkpoint import Paths, Trial
from stook_core.net.links import Netlink
from unit.net.fake_netlink import FakeNetlink
from unit.net.test_checkpoint import BEFORE, FakeHost
from unit.net.test_cluster import NIC3_MAC, NIC4_MAC, node

NODE = "n1"
Object = dict[str, Any]


class RecordingClient:
    def __init__(self, objects: dict[str, Object] | None = None) -> None:
        self.objects = objects or {}
        self.status_patches: list[Object] = []
        self.created: list[Object] = []

    def get(self, key: str) -> Object:
        if key not in self.objects:
            raise ApiError(404, "Not Found")
        return self.objects[key]

    def create(self, obj: Object) -> Object:
        self.created.append(obj)
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    def patch_status(self, key: str, status: Object) -> Object:
        self.status_patches.append(status)
        return {}


class FakeNodeHost(NodeHost):
    def __init__(self, kernel: FakeNetlink, tmp: Path) -> None:
        sysfs = tmp / "sys"
        for link in kernel.links():
            if link.kind is None and link.name != "lo":
                (sysfs / link.name / "device").mkdir(parents=True)
        super().__init__(tmp / "saved", sysfs)
        self.kernel = kernel

    @contextmanager
    def _open(self) -> Iterator[tuple[Netlink, str | None]]:
        yield self.kernel, "10.0.2.2"


def nodenetwork(status: Object | None = None) -> Object:
    return {"metadata": {"name": NODE, "generation": 1}, "spec": {"nodeName": NODE},
            "status": status or {}}  # fmt: skip


def uplink(name: str, nics: list[Object], network: str = "vms") -> Object:
    return {"metadata": {"name": name}, "spec": {"clusterNetwork": network,
            "nodeSelector": {"rack": "a"}, "nics": nics}}  # fmt: skip


def test_an_uplink_config_becomes_bond_bridge_vlans_and_is_removed_with_its_config(
    tmp_path: Path,
) -> None:
    kernel = node()
    client, inventories = RecordingClient(), RecordingClient()
    nodes = RecordingClient({NODE: {"metadata": {"labels": {"rack": "a"}}}})
    configs = [uplink("rack-a", [{"mac": NIC3_MAC}, {"mac": NIC4_MAC}])]
    networks = [{"metadata": {"name": "vms"}, "status": {"vlanIds": [100, 200]}}]
    host = FakeNodeHost(kernel, tmp_path)
    reconciler = NodeNetworkReconciler(
        client, inventories, nodes, NODE, lambda: configs, lambda: networks, host,  # type: ignore[arg-type]
        clock=lambda: "2026-12-02T00:00:00Z",
    )  # fmt: skip
    reconciler.reconcile(nodenetwork())
    status = client.status_patches[-1]
    (report,) = status["networks"]
    assert (report["clusterNetwork"], report["ready"], report["vlanIds"]) == (
        "vms",
        True,
        [100, 200],
    )
    assert report["nics"] == ["ens5", "ens6"]
    assert report["conditions"][0]["reason"] == "Applied"
    assert status["management"]["nics"] == ["ens3", "ens4"]
    assert "lastChange" not in status["management"]  # the change controller's part
    assert kernel.port_vlans("vms-bo") == {1, 100, 200}
    assert (tmp_path / "saved" / "vms.json").exists()  # re-applied at boot
    used = {n["name"]: n.get("usedBy") for n in inventories.status_patches[-1]["nics"]}
    assert used == {"ens3": "mgmt", "ens4": "mgmt", "ens5": "vms", "ens6": "vms"}
    configs.clear()
    reconciler.reconcile(nodenetwork())
    assert client.status_patches[-1]["networks"] == []
    assert not (tmp_path / "saved" / "vms.json").exists()
    assert all(kernel.link(n).up and kernel.link(n).master is None for n in ("ens5", "ens6"))


def test_a_management_nic_in_an_uplink_config_is_refused_with_a_condition(tmp_path: Path) -> None:
    kernel = node()
    client = RecordingClient()
    nodes = RecordingClient({NODE: {"metadata": {"labels": {"rack": "a"}}}})
    configs = [uplink("takes-mgmt", [{"name": "ens4"}])]
    reconciler = NodeNetworkReconciler(
        client, RecordingClient(), nodes, NODE, lambda: configs, lambda: [],  # type: ignore[arg-type]
        FakeNodeHost(kernel, tmp_path),
    )  # fmt: skip
    reconciler.reconcile(nodenetwork())
    (report,) = client.status_patches[-1]["networks"]
    condition = report["conditions"][0]
    assert (report["ready"], condition["reason"]) == (False, "NicInUse")
    assert "management network (mgmt-bo): never taken" in condition["message"]
    assert kernel.link("ens4").master == "mgmt-bo"
    assert "vms-bo" not in {link.name for link in kernel.links()}


INSTALLED = {"install": {"management_interface": {"nics": ["52:54:00:5e:00:01"]},
                         "dns_servers": ["10.0.2.3"]}}  # fmt: skip


def change(name: str, spec: Object, request: str = "uid-1/1", phase: str = "Applying") -> Object:
    return {"metadata": {"name": name, "uid": "uid-1"}, "spec": spec,
            "status": {"nodes": [{"name": NODE, "phase": phase, "request": request}]}}  # fmt: skip


def mgmt_reconciler(
    tmp_path: Path, changes: list[Object], alive: bool = True
) -> tuple[ManagementChangeReconciler, RecordingClient, FakeHost]:
    networkd = tmp_path / "network"
    networkd.mkdir(exist_ok=True)
    for name, text in BEFORE.items():
        (networkd / name).write_text(text)
    (tmp_path / "install-config.yaml").write_text(yaml.safe_dump(INSTALLED))
    host = FakeHost()
    paths = Paths(run=tmp_path / "run", state=tmp_path / "state", networkd=networkd)
    host.trial = Trial(host, paths, runner=lambda probe: alive)
    settings = MgmtSettings(
        install_config=tmp_path / "install-config.yaml", committed=tmp_path / "committed.yaml",
        api_server=("10.0.2.2", 6443), trial=host.trial, gateway=lambda: "10.0.2.2",
        nics=lambda: [Nic(name="ens3", mac="52:54:00:5e:00:01", permanent_mac="52:54:00:5e:00:01")],
    )  # fmt: skip
    client = RecordingClient()
    return ManagementChangeReconciler(client, NODE, lambda: changes, settings), client, host  # type: ignore[arg-type]


def test_a_good_management_change_commits_once_and_becomes_the_base(tmp_path: Path) -> None:
    reconciler, client, _ = mgmt_reconciler(tmp_path, [change("mtu", {"mtu": 1400})])
    reconciler.reconcile(nodenetwork())
    phases = [p["management"]["lastChange"]["phase"] for p in client.status_patches]
    assert phases == ["Applying", "Committed"]
    last = client.status_patches[-1]["management"]["lastChange"]
    assert last["probes"] == ["gateway", "dns", "apiserver"]
    assert "MTUBytes=1400" in (tmp_path / "network" / "10-mgmt-br.netdev").read_text()
    committed = yaml.safe_load((tmp_path / "committed.yaml").read_text())
    assert committed["install"]["management_interface"]["mtu"] == 1400
    reconciler.reconcile(nodenetwork({"management": {"lastChange": last}}))
    assert len(client.status_patches) == 2  # acted on once


def test_a_trial_left_by_a_dead_agent_is_the_timers_and_is_reported_once_it_fired(
    tmp_path: Path,
) -> None:
    changes = [change("cut", {"vlanId": 99})]
    reconciler, client, host = mgmt_reconciler(tmp_path, changes, alive=False)
    assert host.trial is not None
    host.trial.begin("uid-1-1", {"10-x.netdev": "x"}, [], 30)  # the dead agent's trial
    reconciler.reconcile(nodenetwork())
    last = client.status_patches[-1]["management"]["lastChange"]
    assert last["phase"] == "Applied" and "checkpoint decides" in last["message"]
    assert not any(c.startswith("start") for c in host.calls)  # the agent does not roll back
    host.trial.rollback("uid-1-1")  # the timer fires
    reconciler.reconcile(nodenetwork({"management": {"lastChange": last}}))
    last = client.status_patches[-1]["management"]["lastChange"]
    assert last["phase"] == "RolledBack"
    assert last["message"].startswith("rolled back by the checkpoint's timer")


def test_a_change_the_node_cannot_take_fails_naming_why_and_changes_nothing(tmp_path: Path) -> None:
    reconciler, client, host = mgmt_reconciler(
        tmp_path, [change("static", {"static": {"addresses": {"other": "10.0.0.5/24"}}})]
    )
    reconciler.reconcile(nodenetwork())
    last = client.status_patches[-1]["management"]["lastChange"]
    assert last["phase"] == "Failed"
    assert "static.addresses has no address for node n1" in last["message"]
    assert host.calls == []
