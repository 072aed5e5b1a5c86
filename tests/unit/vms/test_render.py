"""The renderer: one VirtualServer -> KubeVirt's VM, CDI's DataVolume, a Service, claims."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.virtualserver import VirtualServer
from stook_agent.vms.kubevirt import VM_LABEL, vm_name
from stook_agent.vms.render import PassthroughVolume, RenderError, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "vms.md"
UID = "6f1c3a52-0d7e-4a8e-9a59-1d2c3b4a5e6f"


def example(**spec: Any) -> dict[str, Any]:
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text().split("## Example", 1)[1], re.S)
    assert block
    body = dict(yaml.safe_load(block.group(1)))
    body["metadata"] |= {"uid": UID}
    body["spec"].update(copy.deepcopy(spec))
    return body


def server(**spec: Any) -> VirtualServer:
    return VirtualServer.parse(example(**spec))


def root(**fields: Any) -> dict[str, Any]:
    return {"size": "10Gi", **fields}


def test_the_vm_name_is_the_name_and_a_hash_of_name_and_uid() -> None:
    name = vm_name("ubuntu", UID)
    assert re.fullmatch(r"ubuntu-[0-9a-f]{8}", name)
    assert vm_name("ubuntu", "another-uid") != name  # made again: a new VM, new disks
    long = vm_name("a" * 60 + "-b", UID)
    assert len(long) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", long)


def test_run_strategy_is_rendered_never_running() -> None:
    for strategy in ("Always", "RerunOnFailure", "Manual", "Halted"):
        vm = render(server(runStrategy=strategy), {}).vm
        assert vm["spec"]["runStrategy"] == strategy and "running" not in vm["spec"]


def test_rendering_is_pure() -> None:
    assert render(server(), {}) == render(server(), {})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"registry": {"url": "docker://quay.io/containerdisks/fedora:41"}},
         {"registry": {"url": "docker://quay.io/containerdisks/fedora:41"}}),
        ({"pvc": {"name": "golden"}}, {"pvc": {"name": "golden", "namespace": "demo"}}),
        ({"pvc": {"name": "golden", "namespace": "images"}},
         {"pvc": {"name": "golden", "namespace": "images"}}),
    ],
)  # fmt: skip
def test_each_root_source_is_a_datavolume_template(
    source: dict[str, Any], expected: dict[str, Any]
) -> None:
    vm = render(server(storage={"root": root(source=source)}), {}).vm
    (template,) = vm["spec"]["dataVolumeTemplates"]
    assert template["spec"]["source"] == expected
    assert template["spec"]["storage"] == {
        "resources": {"requests": {"storage": "10Gi"}},
        "volumeMode": "Filesystem",
        "accessModes": ["ReadWriteOnce"],
    }
    volumes = vm["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "root", "dataVolume": {"name": template["metadata"]["name"]}}


def test_an_ephemeral_root_discards_writes() -> None:
    registry = {"registry": {"url": "docker://quay.io/containerdisks/fedora:41"}}
    vm = render(server(storage={"root": root(source=registry, ephemeral=True)}), {}).vm
    assert vm["spec"]["template"]["spec"]["volumes"][0] == {
        "name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"},
    }  # fmt: skip
    assert "dataVolumeTemplates" not in vm["spec"]

    pvc = {"pvc": {"name": "golden"}}
    vm = render(server(storage={"root": root(source=pvc, ephemeral=True)}), {}).vm
    assert vm["spec"]["template"]["spec"]["volumes"][0]["ephemeral"] == {
        "persistentVolumeClaim": {"claimName": "golden", "readOnly": True}
    }

    http = {"http": {"url": "https://images.example/disk.qcow2"}}
    rendered = render(server(storage={"root": root(source=http, ephemeral=True)}), {})
    assert rendered.data_volume is not None  # imported once, owned by the VirtualServer
    claim = rendered.data_volume["metadata"]["name"]
    assert rendered.data_volume["metadata"]["ownerReferences"][0]["uid"] == UID
    volume = rendered.vm["spec"]["template"]["spec"]["volumes"][0]
    assert volume["ephemeral"]["persistentVolumeClaim"]["claimName"] == claim


def test_an_ephemeral_root_from_another_namespace_is_refused_naming_the_field() -> None:
    pvc = {"pvc": {"name": "golden", "namespace": "images"}}
    with pytest.raises(RenderError, match=r"spec\.storage\.root: an ephemeral root disk"):
        render(server(storage={"root": root(source=pvc, ephemeral=True)}), {})


def test_disks_volumes_interfaces_and_networks_match_by_name() -> None:
    spec = render(server(), {}).vm["spec"]["template"]["spec"]
    devices = spec["domain"]["devices"]
    named = [d["name"] for d in devices["disks"]] + [f["name"] for f in devices["filesystems"]]
    assert sorted(v["name"] for v in spec["volumes"]) == sorted(named)
    assert [i["name"] for i in devices["interfaces"]] == [n["name"] for n in spec["networks"]]


def test_config_maps_service_accounts_gpus_and_filesystems() -> None:
    storage = {
        "root": root(source={"pvc": {"name": "golden"}}),
        "additionalDisks": [
            {"name": "conf", "configMap": {"name": "app"}, "serial": "CONF1", "bus": "sata"},
            {"name": "token", "serviceAccount": {"serviceAccountName": "app"}},
        ],
        "filesystems": [{"name": "cfg", "configMap": {"name": "app"}}],
    }
    resources = {"memory": "8Gi", "gpu": {"type": "nvidia.com/A10", "count": 2}}
    spec = render(server(storage=storage, resources=resources), {}).vm["spec"]["template"]["spec"]
    disks = {d["name"]: d for d in spec["domain"]["devices"]["disks"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert disks["conf"] == {"name": "conf", "disk": {"bus": "sata"}, "serial": "CONF1"}
    assert volumes["conf"]["configMap"] == {"name": "app"}
    assert volumes["token"]["serviceAccount"] == {"serviceAccountName": "app"}
    assert spec["domain"]["devices"]["filesystems"] == [{"name": "cfg", "virtiofs": {}}]
    assert spec["domain"]["devices"]["gpus"] == [
        {"name": "gpu0", "deviceName": "nvidia.com/A10"},
        {"name": "gpu1", "deviceName": "nvidia.com/A10"},
    ]
    assert spec["domain"]["cpu"] == {"cores": 1}


def test_the_service_publishes_tcp_and_udp_ports_and_selects_the_vm() -> None:
    rendered = render(server(), {})
    assert rendered.service is not None
    assert rendered.service["metadata"]["name"] == "ubuntu"
    assert rendered.service["spec"]["selector"] == {VM_LABEL: rendered.vm["metadata"]["name"]}
    labels = rendered.vm["spec"]["template"]["metadata"]["labels"]
    assert labels[VM_LABEL] == rendered.vm["metadata"]["name"]  # the pod carries it
    assert [p["name"] for p in rendered.service["spec"]["ports"]] == [
        "tcp-22", "tcp-80", "udp-51820",
    ]  # fmt: skip
    assert render(server(network={"tcp": [], "udp": []}), {}).service is None


def test_a_passthrough_disk_binds_its_blockdevices_volume_in_block_mode() -> None:
    storage = {
        "root": root(source={"pvc": {"name": "golden"}}),
        "additionalDisks": [{"name": "fast", "blockDevice": {"name": "n1-abc"}, "serial": "P1"}],
    }
    volume = PassthroughVolume("n1-abc", "stook-passthrough", "1000204886016")
    rendered = render(server(storage=storage), {"fast": volume})
    (claim,) = rendered.claims
    assert claim["spec"] == {
        "volumeName": "n1-abc",
        "storageClassName": "stook-passthrough",
        "volumeMode": "Block",
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1000204886016"}},
    }
    volumes = {v["name"]: v for v in rendered.vm["spec"]["template"]["spec"]["volumes"]}
    assert volumes["fast"] == {
        "name": "fast", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }  # fmt: skip
    with pytest.raises(RenderError, match=r"additionalDisks\[fast\]\.blockDevice: BlockDevice"):
        render(server(storage=storage), {})


def test_cloud_init_from_a_secret() -> None:
    spec = render(server(cloudInit={"secretRef": {"name": "ubuntu-init"}}), {}).vm["spec"]
    volume = next(v for v in spec["template"]["spec"]["volumes"] if v["name"] == "cloudinit")
    assert volume["cloudInitNoCloud"] == {"secretRef": {"name": "ubuntu-init"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"storage": {"root": root(source={})}},
         r"storage\.root\.source.*exactly one of http, registry, pvc"),
        ({"storage": {"root": root(source={"http": {"url": "https://a/b"},
                                           "pvc": {"name": "x"}})}},
         r"exactly one of http, registry, pvc must be set \(got 2\)"),
        ({"storage": {"root": root(source={"pvc": {"name": "x"}}),
                      "additionalDisks": [{"name": "a", "configMap": {"name": "c"}},
                                          {"name": "a", "configMap": {"name": "d"}}]}},
         r"the name 'a' is used twice"),
        ({"storage": {"root": root(source={"pvc": {"name": "x"}}),
                      "additionalDisks": [{"name": "root", "configMap": {"name": "c"}}]}},
         r"reserved"),
        ({"network": {"tcp": [70000]}}, r"network\.tcp\.0: Input should be less than"),
        ({"network": {"macAddress": "02:00:00"}}, r"network\.macAddress: String should match"),
        ({"runStrategy": "Once"}, r"runStrategy: Input should be 'Always'"),
        ({"cloudInit": {"userData": "x", "secretRef": {"name": "s"}}},
         r"userData and secretRef exclude each other"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_the_rule(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidObjectError, match=message):
        server(**change)
