"""Discovery against real loop devices and a real kube-apiserver: objects, identity, exclusion."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from integration.agent.kubehelpers import TcpProxy, wait_until
from integration.disks.conftest import DiskAgent, LoopRig
from stook_agent.resources import NODE_LABEL


def test_a_new_disk_becomes_a_blockdevice_with_its_details(
    disk_agent: DiskAgent, loops: LoopRig
) -> None:
    image = loops.image("data")
    device = loops.attach(image)

    obj = disk_agent.wait_object(device)

    assert obj["metadata"]["labels"] == {NODE_LABEL: disk_agent.node}
    assert obj["metadata"]["name"].startswith(f"{disk_agent.node}-")
    assert obj["spec"]["nodeName"] == disk_agent.node and obj["spec"]["provision"] == "none"
    status = obj["status"]
    assert status["deviceStatus"]["capacity"] == 64 * 1024 * 1024
    assert status["deviceStatus"]["details"]["identitySource"] == "backingFile"
    assert status["deviceStatus"]["details"]["bus"] == "loop"
    assert status["provisionPhase"] == "Unprovisioned"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "NotProvisioned")


def _table(disk_agent: DiskAgent, name: str) -> dict[str, Any]:
    """What ``kubectl get bd <name>`` shows: the API server's Table of the printer columns."""
    api = disk_agent.devices.api
    reply = api.call_api(
        "GET", f"{api.configuration.host}/apis/stook.io/v1alpha1/blockdevices/{name}",
        header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        _request_timeout=30,
    )  # fmt: skip
    reply.read()
    table = json.loads(reply.data)
    names = [column["name"] for column in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


def test_kubectl_get_shows_node_path_capacity_in_gib_and_state(
    disk_agent: DiskAgent, loops: LoopRig
) -> None:
    device = loops.attach(loops.image("big", size=3 * 1024**3 // 2))  # sparse: 1.5 GiB
    name = disk_agent.wait_object(device)["metadata"]["name"]
    row = wait_until(lambda: (r := _table(disk_agent, name))["Ready"] == "True" and r, "Ready")
    assert row["Node"] == disk_agent.node and row["Path"] == device
    assert row["GiB"] == 1.5
    assert (row["Provision"], row["Provisioned"], row["Phase"], row["State"]) == (
        "none", "none", "Unprovisioned", "Active",
    )  # fmt: skip


def test_a_disk_keeps_its_object_across_a_path_change_and_turns_inactive_meanwhile(
    disk_agent: DiskAgent, loops: LoopRig
) -> None:
    image = loops.image("moving")
    first = loops.attach(image)
    name = disk_agent.wait_object(first)["metadata"]["name"]

    loops.detach(first)
    disk_agent.rescan()
    gone = wait_until(
        lambda: (o := disk_agent.devices.get(name))["status"]["state"] == "Inactive" and o,
        "the vanished disk's object to turn Inactive",
    )
    assert gone["status"]["deviceStatus"]["devPath"] == first  # where it was last seen

    placeholder = loops.attach(loops.image("placeholder"))  # takes the old number
    assert placeholder == first
    second = loops.attach(image)
    assert second != first

    again = disk_agent.wait_object(second)
    assert again["metadata"]["name"] == name  # the same object, not a new one
    names = sorted(o["metadata"]["name"] for o in disk_agent.objects())
    assert len(names) == 2 and name in names  # the disk and the placeholder, nothing else


def test_the_os_disk_is_not_a_blockdevice(disk_agent: DiskAgent, loops: LoopRig) -> None:
    os_image = loops.image("os")
    subprocess.run(
        ["sgdisk", "-n1:0:+2M", "-c1:STOOK_EFI", "-n2:0:+8M", "-c2:STOOK_A",
         "-n3:0:0", "-c3:STOOK_STATE", str(os_image)],
        capture_output=True, check=True,
    )  # fmt: skip
    os_disk = loops.attach(os_image)
    plain = loops.attach(loops.image("plain"))

    disk_agent.wait_object(plain)  # the scan that found the plain disk saw the OS disk too

    paths = [o["status"]["deviceStatus"]["devPath"] for o in disk_agent.objects()]
    assert paths == [plain]
    skipped = disk_agent.agent.disks.discovery.scanner.skipped
    assert skipped[os_disk.removeprefix("/dev/")] == "the OS disk (Stook partition labels)"


def test_a_disk_seen_while_the_api_server_is_away_appears_soon_after_it_returns(
    disk_agent_via_proxy: DiskAgent, loops: LoopRig, proxy: TcpProxy
) -> None:
    agent = disk_agent_via_proxy
    image = loops.image("outage")
    proxy.cut()  # the API server is unreachable from the agent
    device = loops.attach(image)
    scan_loop = agent.agent.disks.scan_loop
    agent.agent.disks.rescan.rescan("test")  # what udev's event would do
    wait_until(lambda: scan_loop.failures >= 1, "the scan to fail while the API server is away")
    proxy.restore()
    # Not at the next periodic rescan (600 s here): within a few seconds of the API's return.
    wait_until(lambda: agent.by_path(device), f"an Active BlockDevice for {device}", timeout=20)
