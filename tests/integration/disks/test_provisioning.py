"""Provisioning real loop disks: Longhorn (and back, with the eviction wait), a refusal,
passthrough PersistentVolumes. No Longhorn controller runs: the test writes Longhorn's status."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from kubernetes import client as k8s

from integration.agent.kubehelpers import wait_until
from integration.disks.conftest import DiskAgent, LoopRig
from stook_agent.disks.longhorn import NAMESPACE
from stook_agent.disks.mounts import unit_name
from stook_agent.runtime.client import Object
from stook_agent.runtime.conditions import find_condition
from stook_core.diskid import filesystem_label

GiB = 1024**3


def _blkid(device: str, tag: str) -> str:
    done = subprocess.run(
        ["blkid", "-p", "-s", tag, "-o", "value", device], capture_output=True, text=True
    )
    return done.stdout.strip()


def _ready(obj: Object) -> dict[str, Any]:
    return find_condition(obj, "Ready") or {}


def _lh_disk(agent: DiskAgent, name: str) -> dict[str, Any] | None:
    disks: dict[str, Any] = (agent.longhorn_node().get("spec") or {}).get("disks") or {}
    return disks.get(name)


def _events(api: k8s.ApiClient, name: str) -> list[Any]:
    reply = k8s.CoreV1Api(api).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={name}"
    )
    return list(reply.items)


def test_longhorn_provisioning_and_back_waits_for_eviction(
    disk_agent: DiskAgent, loops: LoopRig
) -> None:
    device = loops.attach(loops.image("lh"))
    name = disk_agent.wait_object(device)["metadata"]["name"]
    host_path = f"/var/lib/stook/disks/{name}"
    local = disk_agent.host_root / host_path.lstrip("/")
    unit = disk_agent.host_root / "etc/systemd/system" / unit_name(host_path)

    disk_agent.devices.patch(name, {"spec": {"provision": "longhorn", "tags": ["fast"]}})
    entry = wait_until(lambda: _lh_disk(disk_agent, name), "the disk in Longhorn's spec.disks")
    assert entry == {
        "diskType": "filesystem", "path": host_path, "allowScheduling": True,
        "evictionRequested": False, "storageReserved": 0, "tags": ["fast"],
    }  # fmt: skip
    assert os.path.ismount(local)
    assert _blkid(device, "LABEL") == filesystem_label(name)
    uuid = _blkid(device, "UUID")
    assert f"What=/dev/disk/by-uuid/{uuid}\n" in unit.read_text()
    assert f"Where={host_path}\n" in unit.read_text()
    assert (unit.parent / "local-fs.target.wants" / unit.name).is_symlink()
    obj = wait_until(
        lambda: (
            (o := disk_agent.devices.get(name))["status"]["provisionPhase"] == "Provisioned" and o
        ),
        "phase Provisioned",
    )
    assert _ready(obj)["status"] == "True"

    disk_agent.devices.patch(name, {"spec": {"tags": ["fast", "ssd"]}})  # tags follow
    wait_until(
        lambda: (_lh_disk(disk_agent, name) or {}).get("tags") == ["fast", "ssd"], "new tags"
    )

    # Longhorn's part: a replica lives on the disk.
    disk_agent.longhorn.patch_status(f"{NAMESPACE}/{disk_agent.node}", {"diskStatus": {name: {
        "storageScheduled": GiB, "scheduledReplica": {"pvc-1-r-0a1b": GiB},
    }}})  # fmt: skip
    disk_agent.devices.patch(name, {"spec": {"provision": "none"}})
    waiting = wait_until(
        lambda: (
            _ready(o := disk_agent.devices.get(name)).get("reason") == "WaitingForEviction" and o
        ),
        "the agent to wait for Longhorn's eviction",
    )
    assert waiting["status"]["provisionPhase"] == "Unprovisioning"
    entry = _lh_disk(disk_agent, name)
    assert entry is not None
    assert (entry["allowScheduling"], entry["evictionRequested"]) == (False, True)
    assert os.path.ismount(local) and unit.exists()

    # Longhorn's part: the replica has moved elsewhere.
    disk_agent.longhorn.patch_status(f"{NAMESPACE}/{disk_agent.node}", {"diskStatus": {name: {
        "storageScheduled": 0, "scheduledReplica": None,
    }}})  # fmt: skip
    done = wait_until(
        lambda: (
            (o := disk_agent.devices.get(name))["status"]["provisionPhase"] == "Unprovisioned" and o
        ),
        "the disk to leave Longhorn",
    )
    assert _lh_disk(disk_agent, name) is None
    assert not os.path.ismount(local) and not unit.exists()
    assert _ready(done)["status"] == "True"


def test_a_disk_with_data_is_refused_unless_force_format(
    disk_agent: DiskAgent, disk_api: k8s.ApiClient, loops: LoopRig
) -> None:
    image = loops.image("precious")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "precious", str(image)], check=True)
    device = loops.attach(image)
    name = disk_agent.wait_object(device)["metadata"]["name"]

    disk_agent.devices.patch(name, {"spec": {"provision": "longhorn"}})
    refused = wait_until(
        lambda: _ready(o := disk_agent.devices.get(name)).get("reason") == "DiskHasData" and o,
        "the refusal",
    )
    ready = _ready(refused)
    assert ready["status"] == "False" and "forceFormat" in ready["message"]
    assert "ext4 filesystem" in ready["message"]
    assert refused["status"]["provisionPhase"] == "Failed"
    assert _blkid(device, "LABEL") == "precious"  # untouched
    assert _lh_disk(disk_agent, name) is None
    warnings = [e for e in _events(disk_api, name) if e.reason == "DiskHasData"]
    assert warnings and warnings[0].type == "Warning"

    disk_agent.devices.patch(name, {"spec": {"forceFormat": True}})
    wait_until(lambda: _lh_disk(disk_agent, name), "the forced disk in Longhorn")
    assert _blkid(device, "LABEL") == filesystem_label(name)


def test_passthrough_publishes_a_pv_and_deletes_it_only_when_unclaimed(
    disk_agent: DiskAgent, disk_api: k8s.ApiClient, loops: LoopRig
) -> None:
    core = k8s.CoreV1Api(disk_api)
    image = loops.image("vmdisk")
    device = loops.attach(image)
    name = disk_agent.wait_object(device)["metadata"]["name"]

    disk_agent.devices.patch(name, {"spec": {"provision": "passthrough"}})
    pv = wait_until(lambda: _pv(core, name), "the PersistentVolume")
    assert pv.spec.volume_mode == "Block" and pv.spec.local.path == device
    assert pv.spec.capacity == {"storage": str(64 * 1024 * 1024)}
    term = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0]
    assert (term.key, term.values) == ("kubernetes.io/hostname", [disk_agent.node])

    # The provisioned disk vanishes: Inactive, still Provisioned, PV kept; back elsewhere: Active.
    loops.detach(device)
    disk_agent.rescan()
    inactive = wait_until(
        lambda: (o := disk_agent.devices.get(name))["status"]["state"] == "Inactive" and o,
        "Inactive",
    )
    assert inactive["status"]["provisionPhase"] == "Provisioned"
    assert _pv(core, name) is not None
    loops.attach(loops.image("placeholder"))
    moved = loops.attach(image)
    assert moved != device
    assert disk_agent.wait_object(moved)["metadata"]["name"] == name

    # A VM claims it: going back to none is refused while the claim holds.
    core.patch_persistent_volume(
        name,
        {
            "spec": {
                "claimRef": {
                    "namespace": "default",
                    "name": "vm-disk",
                    "kind": "PersistentVolumeClaim",
                }
            }
        },
    )
    disk_agent.devices.patch(name, {"spec": {"provision": "none"}})
    refused = wait_until(
        lambda: (
            _ready(o := disk_agent.devices.get(name)).get("reason") == "PersistentVolumeBound" and o
        ),
        "the refusal to delete a claimed PV",
    )
    assert "default/vm-disk" in _ready(refused)["message"]
    assert _pv(core, name) is not None
    assert any(e.reason == "PersistentVolumeBound" for e in _events(disk_api, name))

    core.patch_persistent_volume(name, {"spec": {"claimRef": None}})
    wait_until(
        lambda: (pv := _pv(core, name)) is None or pv.metadata.deletion_timestamp is not None,
        "the unclaimed PV to be deleted",
    )
    if _pv(core, name) is not None:  # kube-controller-manager's part (pv-protection finalizer)
        core.patch_persistent_volume(name, {"metadata": {"finalizers": None}})
        wait_until(lambda: _pv(core, name) is None, "the PV to be gone")
    wait_until(
        lambda: disk_agent.devices.get(name)["status"]["provisionPhase"] == "Unprovisioned",
        "phase Unprovisioned",
    )


def _pv(core: k8s.CoreV1Api, name: str) -> Any:
    try:
        return core.read_persistent_volume(name)
    except k8s.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
