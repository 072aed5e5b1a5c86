"""Discovery against real loop devices and a real kube-apiserver: objects, identity, exclusion."""

from __future__ import annotations

import subprocess

from integration.agent.kubehelpers import wait_until
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
    skipped = disk_agent.agent.discovery.scanner.skipped
    assert skipped[os_disk.removeprefix("/dev/")] == "the OS disk (Stook partition labels)"
