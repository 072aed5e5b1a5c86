"""The node side of an upgrade, end to end on this host: the agent's NodeUpgrade controller
against the real kube-apiserver, the image from a real HTTP server on 127.0.0.1, written by the
real ``stook-os write-slot`` into the passive slot of a real GPT loop disk whose "ESP" is
mounted where stook-os looks (as tests/integration/boot/test_write_slot_loop.py). Two
boundaries are test doubles, named so: the reboot (a recorder instead of systemctl reboot) and
the boot itself (the test does what GRUB and the next boot's mark-good would: it picks the slot
with the real grub_pick, swaps the fake /proc/cmdline and boot id, and runs stook-os mark-good).

The test plays the cluster controller's part by writing the Upgrade's status (the request).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from integration.agent.kubehelpers import get_or_none, wait_until
from stook_agent.api import NodeUpgrade
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from stook_agent.upgrades.bootinfo import read_boot_id, read_boot_report
from stook_agent.upgrades.download import Downloader
from stook_agent.upgrades.node import NodeSide
from stook_agent.upgrades.nodefeature import NodeUpgrades, NodeUpgradeSettings
from stook_agent.upgrades.osactions import OsActions
from stook_agent.upgrades.resources import NODE_UPGRADE, UPGRADE
from stook_core.boot import slots
from support.fake_node import FAKE_CMDLINE_A, FAKE_CMDLINE_B, FakeNode, booted_a
from support.imageserver import ImageServer, serve_image
from support.install_engine import loop_disks, partition_ab
from support.tiers import require_commands, require_root

MiB = 1 << 20


def make_image(folder: Path, version: str) -> bytes:
    root = folder / f"tree-{version}"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(f'NAME="Stook OS"\nVERSION="{version}"\n')
    (root / "payload").write_bytes(os.urandom(3 * MiB))  # incompressible: several MiB
    image = folder / f"{version}.squashfs"
    subprocess.run(["mksquashfs", str(root), str(image), "-noappend", "-quiet"], check=True)
    return image.read_bytes()


@dataclass
class Rig:
    node: str
    fake: FakeNode
    boot_id: Path
    reboots: Path
    side: NodeSide
    api: k8s.ApiClient
    work: Path

    def boot(self) -> None:
        """What a reboot does: GRUB picks (and records) a slot, the kernel gets a new boot id,
        the new boot's checks pass and stook-os mark-good publishes the status."""
        env = slots.grub_pick(self.fake.env()).env
        self.fake.store.save(env.to_grubenv())
        booted = env.booted
        self.fake.cmdline.write_text((FAKE_CMDLINE_B if booted == "B" else FAKE_CMDLINE_A) + "\n")
        version = env.slot(booted or "A").version
        self.fake.os_release.write_text(f'NAME="Stook OS"\nVERSION="{version}"\n')
        self.boot_id.write_text(str(uuid.uuid4()))
        self.fake.status_file.unlink(missing_ok=True)
        assert self.fake.run("mark-good") == 0


@pytest.fixture
def rig(tmp_path: Path, api: k8s.ApiClient, node: str) -> Iterator[Rig]:
    require_root()
    require_commands("losetup", "sgdisk", "partprobe", "mksquashfs", "unsquashfs", "mkfs.ext4")
    esp = tmp_path / "esp"
    esp.mkdir()
    with loop_disks(tmp_path, [64 * MiB]) as (disk,):
        partition_ab(disk, 24)
        subprocess.run(["mkfs.ext4", "-q", f"{disk}p1"], check=True)
        subprocess.run(["mount", f"{disk}p1", str(esp)], check=True)
        try:
            fake = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
            assert fake.run("mark-good") == 0  # this boot's checks passed: status published
            boot_id = tmp_path / "boot_id"
            boot_id.write_text(str(uuid.uuid4()))
            reboots = tmp_path / "reboots"
            actions = OsActions(
                stook_os=(sys.executable, "-m", "stook_core.boot.cli", *fake.options()),
                reboot_command=("sh", "-c", f"echo reboot >> {reboots}"),  # the recorder
            )
            side = NodeSide(
                Downloader(tmp_path / "downloads"),
                actions,
                boot_report=lambda: read_boot_report(fake.status_file),
                boot_id=lambda: read_boot_id(boot_id),
                progress_every=0.2,
                retry_after=0.2,
            )
            yield Rig(node, fake, boot_id, reboots, side, api, tmp_path)
            upgrades = ResourceClient(api, UPGRADE)
            if get_or_none(upgrades, f"up-{node}") is not None:  # one Upgrade at a time
                upgrades.delete(f"up-{node}")
        finally:
            subprocess.run(["umount", str(esp)], check=False)


def start_agent(rig: Rig) -> NodeUpgrades:
    feature = NodeUpgrades(
        ResourceClient(rig.api, NODE_UPGRADE),
        ResourceClient(rig.api, UPGRADE),
        NodeUpgradeSettings(rig.node),
        Metrics(),
        EventRecorder(rig.api, "stook-agent-test", rig.node),
        side=rig.side,
    )
    feature.start()
    return feature


def ask(api: k8s.ApiClient, node: str, data: bytes, url: str, sha256: str | None = None) -> str:
    """As the cluster controller does after draining: the Upgrade's status asks the node."""
    upgrades = ResourceClient(api, UPGRADE)
    name = f"up-{node}"
    upgrades.create({
        "apiVersion": UPGRADE.api_version, "kind": UPGRADE.kind,
        "metadata": {"name": name}, "spec": {"version": "v2"},
    })  # fmt: skip
    image = {"version": "2.0", "imageURL": url, "size": len(data),
             "sha256": sha256 or hashlib.sha256(data).hexdigest()}  # fmt: skip
    upgrades.patch_status(
        name, {"phase": "Running", "image": image, "nodes": [{"name": node, "step": "Upgrading"}]}
    )
    return name


def node_upgrade(api: k8s.ApiClient, node: str) -> NodeUpgrade | None:
    obj = get_or_none(ResourceClient(api, NODE_UPGRADE), node)
    return NodeUpgrade.parse(obj) if obj else None


def phase_is(api: k8s.ApiClient, node: str, *phases: str) -> Any:
    current = node_upgrade(api, node)
    return current if current is not None and current.status.phase in phases else None


def test_download_resumes_after_an_agent_restart_then_write_reboot_and_report(rig: Rig) -> None:
    data = make_image(rig.work, "2.0")
    with serve_image(ImageServer(data, hold_after=MiB)) as server:
        ask(rig.api, rig.node, data, server.url)
        agent = start_agent(rig)
        try:
            wait_until(
                lambda: (n := node_upgrade(rig.api, rig.node)) and n.status.bytes_downloaded >= MiB,
                "the first MiB to be downloaded and reported",
            )
        finally:
            agent.stop()  # the agent restarts mid-download
        part = rig.work / "downloads" / f"{hashlib.sha256(data).hexdigest()}.part"
        kept = part.stat().st_size
        assert kept >= MiB and rig.fake.env().b == slots.SlotState()  # nothing written yet
        server.hold_after = None
        server.release.set()
        agent = start_agent(rig)
        try:
            done = wait_until(
                lambda: phase_is(rig.api, rig.node, "Rebooting", "Failed"), "the reboot request"
            )
            assert done.status.phase == "Rebooting", done.status.message
            assert server.requests[-1]["Range"] == f"bytes={kept}-"
            # The phase is written before the reboot is asked for (the boot id must be on
            # record first), so the recorder may lag the status by a moment.
            wait_until(rig.reboots.exists, "the reboot command to run")
            assert rig.reboots.read_text() == "reboot\n"
            env = rig.fake.env()
            assert env.b.version == "2.0" and env.order == ("B", "A") and not env.b.ok
            assert env.a.ok  # the good fallback is untouched
            assert done.spec.request and done.spec.request.endswith("/1")
            assert done.status.bytes_written == len(data) == done.status.bytes_downloaded
            assert done.status.reboot_boot_id == rig.boot_id.read_text()

            rig.boot()  # slot B boots and passes its checks
            done = wait_until(
                lambda: phase_is(rig.api, rig.node, "Succeeded", "Failed"),
                "the boot's verdict",
                explain=lambda: str(node_upgrade(rig.api, rig.node)),
            )
        finally:
            agent.stop()
    assert done.status.phase == "Succeeded", done.status.message
    assert done.status.booted.slot == "B" and done.status.booted.version == "2.0"
    assert done.status.booted.good and done.status.target_slot == "B"
    assert {"Downloading", "Writing", "Rebooting", "Verifying", "Succeeded"} <= set(
        done.status.times
    )
    assert rig.reboots.read_text() == "reboot\n"  # asked once, across the restart


def test_a_fallback_is_reported_failed_and_a_wrong_checksum_writes_nothing(rig: Rig) -> None:
    data = make_image(rig.work, "2.0")
    with serve_image(ImageServer(data)) as server:
        agent = start_agent(rig)
        try:
            ask(rig.api, rig.node, data, server.url)
            wait_until(lambda: phase_is(rig.api, rig.node, "Rebooting"), "the reboot request")
            # Slot B never passes its checks: GRUB spends its attempts, then boots A again.
            env = rig.fake.env()
            spent = env.with_slot("B", slots.SlotState(ok=False, left=0, version="2.0"))
            rig.fake.store.save(spent.to_grubenv())
            rig.boot()
            failed = wait_until(lambda: phase_is(rig.api, rig.node, "Failed"), "the fallback")
            assert "fell back to slot A (1.0): slot B (2.0) was never marked good" in (
                failed.status.message
            )
            assert failed.status.booted.slot == "A" and failed.status.booted.fell_back
        finally:
            agent.stop()

    env = rig.fake.env()
    assert env.a.ok and env.a.version == "1.0"
    with serve_image(ImageServer(data)) as server:
        agent = start_agent(rig)
        try:
            ResourceClient(rig.api, UPGRADE).delete(f"up-{rig.node}")
            ask(rig.api, rig.node, data, server.url, sha256="0" * 64)
            failed = wait_until(
                lambda: (
                    (n := phase_is(rig.api, rig.node, "Failed"))
                    and "SHA-256" in n.status.message
                    and n
                ),
                "the checksum refusal",
            )
        finally:
            agent.stop()
    assert "refused, nothing written" in failed.status.message
    assert rig.fake.env() == env  # no slot invalidated, nothing written
