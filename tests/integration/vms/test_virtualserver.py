"""The VirtualServer controller against a real kube-apiserver holding KubeVirt's and CDI's CRDs
with their real schemas: every object it renders is validated by the API server.

No KubeVirt or CDI controller runs here (no virt-controller, virt-handler, importer): where
the tests need VM, VMI, DataVolume or claim states, they write them as those would.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import wait_until
from integration.vms.conftest import doc_example
from stook_agent.api.blockdevice import BlockDeviceSpec
from stook_agent.api.virtualserver import ACTION_ANNOTATION, VirtualServer
from stook_agent.disks.passthrough import PassthroughProvisioner
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.kinds import PERSISTENT_VOLUME
from stook_agent.vms.actions import TABLE
from stook_agent.vms.kubevirt import (
    DATA_VOLUME,
    FIELD_MANAGER,
    SERVER_LABEL,
    VIRTUAL_MACHINE,
    VIRTUAL_MACHINE_INSTANCE,
    VIRTUAL_SERVER,
    VM_LABEL,
    root_claim,
    vm_name,
)
from stook_agent.vms.render import render
from stook_core.hardware import Disk

Object = dict[str, Any]
GiB = 1024**3


def _server(namespace: str, name: str = "ubuntu", **spec: Any) -> Object:
    body = doc_example()
    body["metadata"] = {"name": name, "namespace": namespace}
    body["spec"].update(spec)
    return body


class Cluster:
    """The objects one test looks at."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.servers = ResourceClient(api, VIRTUAL_SERVER)
        self.vms = ResourceClient(api, VIRTUAL_MACHINE)
        self.vmis = ResourceClient(api, VIRTUAL_MACHINE_INSTANCE)
        self.dvs = ResourceClient(api, DATA_VOLUME)
        self.core = k8s.CoreV1Api(api)

    def key(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    def create(self, body: Object) -> Object:
        return self.servers.create(body)

    def server(self, name: str = "ubuntu") -> Object:
        return self.servers.get(self.key(name))

    def vm(self, server: Object) -> Object:
        meta = server["metadata"]
        name = vm_name(meta["name"], meta["uid"])
        return wait_until(lambda: self._get(self.vms, name), f"VirtualMachine {name}")

    def _get(self, client: ResourceClient, name: str) -> Object | None:
        try:
            return client.get(self.key(name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def request(self, action: str, name: str = "ubuntu") -> None:
        """What a user (or a UI) does to start, stop or restart a VirtualServer."""
        self.servers.patch(
            self.key(name), {"metadata": {"annotations": {ACTION_ANNOTATION: action}}}
        )

    def status_of(self, name: str = "ubuntu") -> Object:
        return self.server(name).get("status") or {}

    def condition(self, type_: str, name: str = "ubuntu") -> Object:
        found = [c for c in self.status_of(name).get("conditions", []) if c["type"] == type_]
        return found[0] if found else {}

    def running_vmi(self, vm: Object, node: str = "node-a", **status: Any) -> Object:
        """A VMI as virt-controller creates it from the VM's template and virt-handler reports
        it (this test writes it: nothing runs VMs here)."""
        labels = vm["spec"]["template"]["metadata"]["labels"]
        body = {
            "apiVersion": VIRTUAL_MACHINE_INSTANCE.api_version,
            "kind": VIRTUAL_MACHINE_INSTANCE.kind,
            "metadata": {"name": vm["metadata"]["name"], "namespace": self.namespace,
                         "labels": labels},
            "spec": copy.deepcopy(vm["spec"]["template"]["spec"]),
            "status": {"phase": "Running", "nodeName": node, **status},
        }  # fmt: skip
        return self.vmis.create(body)


@pytest.fixture
def kube(vm_api: k8s.ApiClient, namespace: str) -> Cluster:
    return Cluster(vm_api, namespace)


def test_the_docs_example_renders_into_objects_the_api_server_accepts(
    kube: Cluster, run_vms: Callable[[], Any]
) -> None:
    run_vms()
    server = kube.create(_server(kube.namespace))
    vm = kube.vm(server)
    spec = vm["spec"]
    assert spec["runStrategy"] == "Always" and "running" not in spec
    template = spec["template"]["spec"]
    example = doc_example()["spec"]
    # The root disk is imported over http into a DataVolume of the VM.
    (dv,) = spec["dataVolumeTemplates"]
    assert dv["metadata"]["name"] == root_claim(vm["metadata"]["name"])
    assert dv["spec"]["source"] == example["storage"]["root"]["source"]
    assert dv["spec"]["storage"]["resources"]["requests"]["storage"] == "20Gi"
    assert dv["spec"]["storage"]["storageClassName"] == "longhorn"
    # Disks, filesystems and interfaces each have their volume / network of the same name.
    devices = template["domain"]["devices"]
    disk_names = [d["name"] for d in devices["disks"]]
    fs_names = [f["name"] for f in devices["filesystems"]]
    assert disk_names == ["root", "data", "settings", "cloudinit"] and fs_names == ["shared"]
    assert sorted(v["name"] for v in template["volumes"]) == sorted(disk_names + fs_names)
    assert [d.get("serial") for d in devices["disks"]] == [None, "DATA01", None, None]
    assert devices["filesystems"][0]["virtiofs"] == {}
    interfaces = {i["name"]: i for i in devices["interfaces"]}
    networks = {n["name"]: n for n in template["networks"]}
    assert interfaces.keys() == networks.keys() == {"default", "storage"}
    assert interfaces["default"]["macAddress"] == "02:00:00:00:10:01"
    assert "masquerade" in interfaces["default"] and "bridge" in interfaces["storage"]
    assert networks["storage"]["multus"]["networkName"] == "vm-networks/storage-vlan20"
    assert template["dnsPolicy"] == "None"
    assert template["dnsConfig"]["nameservers"] == ["10.0.0.10"]
    assert template["domain"]["cpu"] == {"cores": 2, "model": "host-passthrough"}
    assert template["domain"]["memory"]["guest"] == "4Gi"
    cloud_init = next(v for v in template["volumes"] if v["name"] == "cloudinit")
    assert cloud_init["cloudInitNoCloud"]["userData"].startswith("#cloud-config")
    # Owned by the VirtualServer, which names it in its status.
    (owner,) = vm["metadata"]["ownerReferences"]
    assert owner["uid"] == server["metadata"]["uid"] and owner["controller"] is True
    wait_until(lambda: kube.status_of().get("vm", {}).get("name") == vm["metadata"]["name"],
               "status.vm.name")  # fmt: skip
    # The Service, named after the VirtualServer, selects the VM's pod.
    svc = kube.core.read_namespaced_service("ubuntu", kube.namespace)
    assert svc.spec.selector == {VM_LABEL: vm["metadata"]["name"]}
    assert sorted((p.protocol, p.port, p.target_port) for p in svc.spec.ports) == [
        ("TCP", 22, 22), ("TCP", 80, 80), ("UDP", 51820, 51820),
    ]  # fmt: skip
    assert svc.metadata.owner_references[0].uid == server["metadata"]["uid"]


def test_the_api_server_refuses_a_misspelt_field_in_a_rendered_vm(kube: Cluster) -> None:
    """The schemas are real: a VM with a field KubeVirt does not have is refused by name."""
    body = {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": "typo", "namespace": kube.namespace},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "domain": {"devices": {"disks": [{"name": "root", "disk": {"buss": "virtio"}}]},
                       "memory": {"guest": "1Gi"}},
            "volumes": [{"name": "root", "containerDisk": {"image": "quay.io/x/y"}}]}}},
    }  # fmt: skip
    with pytest.raises(ApiException) as refused:  # server-side apply, as the controller does
        kube.vms.apply(body, FIELD_MANAGER)
    assert ".disks[0].disk.buss: field not declared in schema" in refused.value.body
    objects = k8s.CustomObjectsApi(kube.api)
    with pytest.raises(ApiException) as strict:  # a plain create with strict field validation
        objects.create_namespaced_custom_object(
            "kubevirt.io", "v1", kube.namespace, "virtualmachines", body, field_validation="Strict"
        )
    message = json.loads(strict.value.body)["message"]
    assert strict.value.status == 400
    assert 'unknown field "spec.template.spec.domain.devices.disks[0].disk.buss"' in message
    good = copy.deepcopy(body)
    good["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"] = {"bus": "virtio"}
    kube.vms.apply(good, FIELD_MANAGER)  # the same VM, spelt right, is accepted


CASES = [(strategy, action) for strategy in TABLE for action in ("start", "stop", "restart")]


@pytest.mark.parametrize(("strategy", "action"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_each_run_strategy_and_action_does_what_the_table_says(
    kube: Cluster, run_vms: Callable[[], Any], strategy: str, action: str
) -> None:
    run_vms()
    server = kube.create(_server(kube.namespace, runStrategy=strategy))
    vm = kube.vm(server)
    after = TABLE[strategy][action]  # type: ignore[index]
    # A VM that runs where the strategy runs it; Manual/RerunOnFailure start from stopped.
    runs = strategy == "Always" or (strategy != "Halted" and action != "start")
    vmi = kube.running_vmi(vm) if runs else None
    wait_until(lambda: kube.status_of().get("vm"), "the first status")
    kube.request(action)
    last = wait_until(lambda: kube.status_of().get("lastAction"), f"the outcome of {action}")
    now = kube.server()
    assert ACTION_ANNOTATION not in (now["metadata"].get("annotations") or {})
    assert last["action"] == action
    vm = kube.vms.get(kube.key(vm["metadata"]["name"]))
    requests = (vm.get("status") or {}).get("stateChangeRequests")
    if after is None:
        assert last["accepted"] is False and "'-'" in last["message"], last
        assert now["spec"]["runStrategy"] == strategy and not requests
        return
    assert last["accepted"] is True, last
    assert now["spec"]["runStrategy"] == after
    wait_until(lambda: kube.vms.get(kube.key(vm["metadata"]["name"]))["spec"]["runStrategy"]
               == after, f"the VM's runStrategy {after}")  # fmt: skip
    stop = {"action": "Stop", "uid": vmi["metadata"]["uid"]} if vmi else None
    expected = {
        ("Always", "stop"): None,  # runStrategy Halted does it
        ("Halted", "start"): None,  # runStrategy Always does it
        ("Always", "restart"): [stop, {"action": "Start"}],
    }.get((strategy, action), {"start": [{"action": "Start"}], "stop": [stop],
                               "restart": [stop, {"action": "Start"}]}[action])  # fmt: skip
    assert requests == expected


def test_a_refused_action_names_the_reason_in_an_event(
    kube: Cluster, run_vms: Callable[[], Any]
) -> None:
    run_vms()
    kube.create(_server(kube.namespace, runStrategy="Halted"))
    wait_until(lambda: kube.status_of().get("vm"), "the first status")
    kube.request("reboot")
    last = wait_until(lambda: kube.status_of().get("lastAction"), "the outcome")
    assert last == {**last, "action": "reboot", "accepted": False}
    assert "unknown action 'reboot'" in last["message"]
    events = kube.core.list_namespaced_event(kube.namespace).items
    assert any(e.reason == "ActionRefused" and "reboot" in e.message for e in events)


def _write_status(client: ResourceClient, key: str, status: Object) -> None:
    client.patch_status(key, status)


def test_status_follows_the_datavolume_vm_and_vmi_that_kubevirt_and_cdi_would_write(
    kube: Cluster, run_vms: Callable[[], Any]
) -> None:
    run_vms()
    server = kube.create(_server(kube.namespace))
    vm = kube.vm(server)
    name = vm["metadata"]["name"]
    claim = root_claim(name)
    # As virt-controller does: the DataVolume from the template, owned by the VM.
    template = vm["spec"]["dataVolumeTemplates"][0]
    kube.dvs.create({
        "apiVersion": DATA_VOLUME.api_version, "kind": DATA_VOLUME.kind,
        "metadata": {"name": claim, "namespace": kube.namespace,
                     "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    })  # fmt: skip
    _write_status(kube.dvs, kube.key(claim), {"phase": "ImportInProgress", "progress": "45.5%"})
    wait_until(lambda: kube.status_of().get("importProgress") == "45.5%", "import progress")
    assert kube.condition("DataImported")["status"] == "False"
    assert kube.condition("DataImported")["reason"] == "ImportInProgress"
    assert kube.status_of()["printableStatus"] == "Provisioning"

    _write_status(kube.dvs, kube.key(claim), {"phase": "Succeeded", "progress": "100.0%"})
    wait_until(lambda: kube.condition("DataImported").get("status") == "True", "DataImported")

    # virt-controller starts the VMI; virt-handler reports node and addresses.
    kube.running_vmi(vm, node="node-b", interfaces=[
        {"name": "storage", "mac": "02:00:00:00:20:01", "ipAddress": "192.168.20.7"},
        {"name": "default", "mac": "02:00:00:00:10:01", "ipAddress": "10.42.0.17",
         "ipAddresses": ["10.42.0.17", "fd00::17"]},
    ])  # fmt: skip
    ready = {"type": "Ready", "status": "True", "reason": "", "message": ""}
    _write_status(kube.vms, kube.key(name), {"printableStatus": "Running", "ready": True,
                                             "conditions": [ready]})  # fmt: skip
    wait_until(lambda: kube.status_of().get("printableStatus") == "Running", "Running")
    wait_until(lambda: kube.condition("Ready").get("status") == "True", "Ready")
    status = kube.status_of()
    assert status["nodeName"] == "node-b"
    assert status["ips"] == ["10.42.0.17", "fd00::17", "192.168.20.7"]
    assert kube.condition("Failure")["status"] == "False"
    assert kube.condition("Paused")["status"] == "False"

    # kubectl get vs: the printer columns.
    reply = kube.api.call_api(
        "GET", f"{kube.api.configuration.host}/apis/stook.io/v1alpha1/namespaces/"
        f"{kube.namespace}/virtualservers",
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        _request_timeout=30,
    )  # fmt: skip
    reply.read()
    table = json.loads(reply.data)
    columns = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert columns == ["Name", "Status", "Node", "IP", "Age"]
    assert table["rows"][0]["cells"][:4] == ["ubuntu", "Running", "node-b", "10.42.0.17"]

    # Paused by the user in KubeVirt.
    paused = {"type": "Paused", "status": "True", "reason": "PausedByUser", "message": "paused"}
    _write_status(kube.vms, kube.key(name), {"printableStatus": "Paused",
                                             "conditions": [ready, paused]})  # fmt: skip
    wait_until(lambda: kube.condition("Paused").get("status") == "True", "Paused")
    assert kube.status_of()["printableStatus"] == "Paused"

    # CDI garbage-collects the finished DataVolume; its bound claim stands for it.
    kube.core.create_namespaced_persistent_volume_claim(kube.namespace, {
        "metadata": {"name": claim, "labels": {SERVER_LABEL: "ubuntu"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}},
                 "storageClassName": "longhorn"},
    })  # fmt: skip
    kube.core.patch_namespaced_persistent_volume_claim_status(
        claim, kube.namespace, {"status": {"phase": "Bound"}}
    )
    kube.dvs.delete(kube.key(claim))
    wait_until(lambda: kube.condition("DataImported").get("reason") == "ClaimBound",
               "DataImported from the claim")  # fmt: skip
    assert kube.condition("DataImported")["status"] == "True"

    # A failed import is a Failure.
    failure = {"type": "Failure", "status": "True", "reason": "FailedCreate",
               "message": "virt-launcher pod could not be created"}  # fmt: skip
    _write_status(kube.vms, kube.key(name), {"printableStatus": "CrashLoopBackOff",
                                             "conditions": [failure]})  # fmt: skip
    wait_until(lambda: kube.condition("Failure").get("status") == "True", "Failure")
    assert "could not be created" in kube.condition("Failure")["message"]
    assert kube.status_of()["printableStatus"] == "CrashLoopBackOff"


def test_the_service_follows_the_ports(kube: Cluster, run_vms: Callable[[], Any]) -> None:
    run_vms()
    kube.create(_server(kube.namespace))
    wait_until(lambda: _service_ports(kube), "the Service")
    network = {**doc_example()["spec"]["network"], "tcp": [443], "udp": []}
    kube.servers.patch(kube.key("ubuntu"), {"spec": {"network": network}})
    wait_until(lambda: _service_ports(kube) == [("TCP", 443)], "the Service with port 443 only")
    network["tcp"] = []
    kube.servers.patch(kube.key("ubuntu"), {"spec": {"network": network}})
    wait_until(lambda: _service_ports(kube) is None, "the Service gone with the last port")


def _service_ports(kube: Cluster) -> list[tuple[str, int]] | None:
    try:
        svc = kube.core.read_namespaced_service("ubuntu", kube.namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return sorted((p.protocol, p.port) for p in svc.spec.ports)


def test_a_passthrough_blockdevice_becomes_a_block_disk_of_the_vm(
    kube: Cluster, run_vms: Callable[[], Any]
) -> None:
    node = f"node-{kube.namespace[-8:]}"
    device = f"{node}-0123456789abcdef"
    blockdevices = ResourceClient(kube.api, BLOCK_DEVICE)
    spec = BlockDeviceSpec(node_name=node, dev_path="/dev/sdz", provision="passthrough")
    blockdevices.create({
        "apiVersion": BLOCK_DEVICE.api_version, "kind": BLOCK_DEVICE.kind,
        "metadata": {"name": device, "labels": {NODE_LABEL: node}},
        "spec": spec.to_dict(),
    })  # fmt: skip
    # The node agent's passthrough provisioner publishes the disk (a described disk: no udev).
    disk = Disk(name="sdz", path="/dev/sdz", size=100 * GiB,
                by_id=["/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"])  # fmt: skip
    outcome = PassthroughProvisioner(
        ResourceClient(kube.api, PERSISTENT_VOLUME), node, poll=0.1
    ).apply(device, disk, spec)
    assert outcome.done, outcome
    run_vms()
    body = _server(kube.namespace)
    body["spec"]["storage"]["additionalDisks"] = [
        {"name": "fast", "blockDevice": {"name": device}, "serial": "PASS01"}
    ]
    kube.create(body)
    # Until the agent reports it provisioned, the VirtualServer waits and says why.
    wait_until(lambda: kube.condition("Failure").get("reason") == "InvalidSpec", "the refusal")
    assert "has no passthrough PersistentVolume" in kube.condition("Failure")["message"]
    blockdevices.patch_status(device, {"provisionedAs": "passthrough", "state": "Active"})
    server = kube.server()
    vm = kube.vm(server)
    claim_name = f"{vm['metadata']['name']}-fast"
    claim = kube.core.read_namespaced_persistent_volume_claim(claim_name, kube.namespace)
    assert claim.spec.volume_name == device and claim.spec.volume_mode == "Block"
    assert claim.spec.storage_class_name == "stook-passthrough"
    assert claim.spec.resources.requests["storage"] == str(100 * GiB)
    template = vm["spec"]["template"]["spec"]
    fast = next(v for v in template["volumes"] if v["name"] == "fast")
    assert fast["persistentVolumeClaim"]["claimName"] == claim_name
    disk_entry = next(d for d in template["domain"]["devices"]["disks"] if d["name"] == "fast")
    assert disk_entry["serial"] == "PASS01"
    wait_until(lambda: kube.condition("Failure").get("status") == "False", "no failure")


VARIANTS = {
    "registry-ephemeral": {"storage": {"root": {"size": "5Gi", "ephemeral": True, "source": {
        "registry": {"url": "docker://quay.io/containerdisks/fedora:41"}}}}},
    "registry-imported": {"storage": {"root": {"size": "5Gi", "source": {
        "registry": {"url": "docker://quay.io/containerdisks/fedora:41"}}}}},
    "pvc-clone-block": {"storage": {"root": {"size": "5Gi", "volumeMode": "Block",
        "accessModes": ["ReadWriteMany"], "source": {"pvc": {"name": "golden",
                                                             "namespace": "images"}}}}},
    "pvc-ephemeral": {"storage": {"root": {"size": "5Gi", "ephemeral": True,
                                           "source": {"pvc": {"name": "golden"}}}}},
    "http-ephemeral": {"storage": {"root": {"size": "5Gi", "ephemeral": True, "source": {
        "http": {"url": "https://images.example/disk.qcow2"}}}}},
    "gpus-and-small-disks": {
        "resources": {"cpu": {"cores": 8}, "memory": "32Gi",
                      "gpu": {"type": "nvidia.com/GA102GL_A10", "count": 2}},
        "storage": {"root": {"size": "5Gi", "source": {"pvc": {"name": "golden"}}},
                    "additionalDisks": [
                        {"name": "conf", "configMap": {"name": "app"}, "bus": "sata"},
                        {"name": "token", "serviceAccount": {"serviceAccountName": "app"}},
                        {"name": "ro", "persistentVolumeClaim": {"claimName": "ref",
                                                                 "readOnly": True}}],
                    "filesystems": [{"name": "cfg", "configMap": {"name": "app"}},
                                    {"name": "sa", "serviceAccount": {"serviceAccountName": "x"}}]},
        "cloudInit": {"secretRef": {"name": "init"}},
        "network": {"dnsPolicy": "ClusterFirst", "dnsConfig": {"options": [{"name": "ndots",
                                                                           "value": "2"}]}},
    },
}  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_kind_of_rendered_object_is_accepted_by_the_real_schemas(
    kube: Cluster, variant: str
) -> None:
    """Each source, disk and option renders into objects KubeVirt's and CDI's schemas take
    (server-side apply refuses any field they do not declare)."""
    body = _server(kube.namespace, name=variant, **VARIANTS[variant])
    server = VirtualServer.parse(kube.create(body))
    rendered = render(server, {})
    kube.vms.apply(rendered.vm, FIELD_MANAGER)
    if rendered.data_volume is not None:
        kube.dvs.apply(rendered.data_volume, FIELD_MANAGER)
        assert variant == "http-ephemeral"
    stored = kube.vms.get(kube.key(rendered.vm["metadata"]["name"]))
    assert stored["spec"]["template"]["spec"]["volumes"] == rendered.vm["spec"]["template"][
        "spec"]["volumes"]  # fmt: skip
