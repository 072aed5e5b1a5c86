"""The node side's decisions that must never touch a slot: a node already on the target, a node
whose booted slot is on trial, and a request withdrawn while the slot is being written.

Test doubles at two boundaries, named so: ``RecordingClient`` (the API server: it applies merge
patches to one in-memory object) and ``RecordingActions`` (stook-os and systemctl: it records
the commands instead of running them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stook_agent.api import NodeUpgrade
from stook_agent.api.nodeupgrade import BootReport
from stook_agent.api.osversion import OSImage
from stook_agent.runtime.client import Object
from stook_agent.upgrades.download import Downloader
from stook_agent.upgrades.node import NodeSide, NodeUpgradeReconciler, Request, Worker
from stook_agent.upgrades.osactions import FailedChecks, OsActions, Written

IMAGE = OSImage(version="2.0", image_url="http://127.0.0.1:1/i.img", sha256="ab" * 32, size=10)


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class RecordingClient:
    def __init__(self, obj: Object) -> None:
        self.obj = obj

    def patch(self, key: str, patch: Object) -> Object:
        self.obj = merge(self.obj, patch)
        return self.obj

    def patch_status(self, key: str, status: Object, resource_version: str | None = None) -> Object:
        self.obj = merge(self.obj, {"status": status})
        return self.obj


class RecordingActions(OsActions):
    def __init__(self, during_write: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "during_write", during_write)

    def write_slot(self, image: Path, sha256: str, progress: Callable[[float], None]) -> Written:
        self.calls.append("write-slot")  # type: ignore[attr-defined]
        self.during_write()  # type: ignore[attr-defined]
        return Written("B", "2.0")

    def set_next(self, slot: str, attempts: int) -> None:
        self.calls.append(f"set-next {slot} --attempts {attempts}")  # type: ignore[attr-defined]

    def failed_checks(self, boot: int = -1) -> FailedChecks:
        self.calls.append(f"journal {boot}")  # type: ignore[attr-defined]
        return FailedChecks(("stook-health-sshd.service",),
                            ("stook-health: ssh.service is not active",))  # fmt: skip

    def reboot(self) -> None:
        self.calls.append("reboot")  # type: ignore[attr-defined]


def upgrade_asking(node: str) -> Object:
    return {
        "metadata": {"name": "u", "uid": "uid-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"version": "v2", "bootAttempts": 1},
        "status": {"image": IMAGE.to_dict(), "nodes": [{"name": node, "step": "Upgrading"}]},
    }


def reconciler(tmp_path: Path, boot: BootReport, actions: OsActions) -> NodeUpgradeReconciler:
    obj = NodeUpgrade.parse({"metadata": {"name": "n1"}, "spec": {"nodeName": "n1"}})
    side = NodeSide(
        Downloader(tmp_path), actions, boot_report=lambda: boot, boot_id=lambda: "boot-1",
        image_version=lambda _path: "2.0",
    )  # fmt: skip
    client = RecordingClient(obj.model_dump(by_alias=True, mode="json"))
    return NodeUpgradeReconciler(client, "n1", lambda: [upgrade_asking("n1")], side)  # type: ignore[arg-type]


def status_of(r: NodeUpgradeReconciler) -> NodeUpgrade:
    return NodeUpgrade.parse(r.client.obj)  # type: ignore[attr-defined]


def test_a_node_already_on_the_target_succeeds_without_writing(tmp_path: Path) -> None:
    actions = RecordingActions()
    boot = BootReport(slot="B", version="2.0", good=True, health="passed")
    r = reconciler(tmp_path, boot, actions)
    r.reconcile(r.client.obj)  # type: ignore[attr-defined]
    done = status_of(r)
    assert done.status.phase == "Succeeded" and "already runs 2.0" in done.status.message
    assert done.spec.request == "uid-1/1" and actions.calls == []  # type: ignore[attr-defined]


def test_a_node_on_trial_refuses_before_anything_is_written(tmp_path: Path) -> None:
    actions = RecordingActions()
    boot = BootReport(slot="A", version="1.0", good=False, trial=True)
    r = reconciler(tmp_path, boot, actions)
    r.reconcile(r.client.obj)  # type: ignore[attr-defined]
    refused = status_of(r)
    assert refused.status.phase == "Failed"
    assert "would destroy its fallback" in refused.status.message
    assert actions.calls == []  # type: ignore[attr-defined]


def test_a_request_withdrawn_during_the_write_never_sets_the_slot_next(tmp_path: Path) -> None:
    (tmp_path / f"{IMAGE.sha256}.img").write_bytes(b"0123456789")  # downloaded and verified
    boot = BootReport(slot="A", version="1.0", good=True, health="passed")
    stop = threading.Event()
    actions = RecordingActions(during_write=stop.set)  # the upgrade is aborted meanwhile
    r = reconciler(tmp_path, boot, actions)
    worker = Worker(r, r.client.obj, Request("u", "uid-1/1", IMAGE), status_of(r).status)  # type: ignore[attr-defined]
    worker.stop = stop
    worker.run()
    assert actions.calls == ["write-slot"]  # type: ignore[attr-defined]

    actions = RecordingActions()  # the same write, still asked for: set next, then reboot
    r = reconciler(tmp_path, boot, actions)
    worker = Worker(r, r.client.obj, Request("u", "uid-1/1", IMAGE, 1), status_of(r).status)  # type: ignore[attr-defined]
    worker.run()
    assert actions.calls == ["write-slot", "set-next B --attempts 1", "reboot"]  # type: ignore[attr-defined]
    assert status_of(r).status.phase == "Rebooting"
    assert status_of(r).status.reboot_boot_id == "boot-1"


def test_the_request_carries_the_upgrades_boot_attempts(tmp_path: Path) -> None:
    boot = BootReport(slot="A", version="1.0", good=True, health="passed")
    r = reconciler(tmp_path, boot, RecordingActions())
    r.reconcile(r.client.obj)  # type: ignore[attr-defined]
    accepted = status_of(r)
    r.stop_worker()
    assert accepted.spec.boot_attempts == 1 and accepted.status.phase == "Downloading"


def test_a_fallback_names_the_failed_boots_check_from_its_journal(tmp_path: Path) -> None:
    boot = BootReport(slot="A", version="1.0", good=True, fell_back=True, health="passed")
    actions = RecordingActions()
    r = reconciler(tmp_path, boot, actions)
    r.client.obj = merge(  # type: ignore[attr-defined]
        r.client.obj,  # type: ignore[attr-defined]
        {"spec": {"request": "uid-1/1", "image": IMAGE.to_dict()},
         "status": {"request": "uid-1/1", "phase": "Verifying", "targetSlot": "B"}},
    )  # fmt: skip
    r.reconcile(r.client.obj)  # type: ignore[attr-defined]
    failed = status_of(r).status
    assert failed.phase == "Failed" and failed.failed_check == "stook-health-sshd.service"
    assert failed.message == (
        "fell back to slot A (1.0): slot B (2.0) was never marked good; the failed boot: "
        "stook-health-sshd.service failed: ssh.service is not active"
    )
    assert actions.calls == ["journal -1"]  # type: ignore[attr-defined]


def test_an_idle_node_reports_the_free_space_of_its_configured_download_folder(
    tmp_path: Path,
) -> None:
    """What the controller's Space pre-check reads: the folder (--upgrade-downloads) and its
    filesystem's free bytes, before the folder exists."""
    folder = tmp_path / "images" / "upgrades"
    obj = NodeUpgrade.parse({"metadata": {"name": "n1"}, "spec": {"nodeName": "n1"}})
    boot = BootReport(slot="A", version="1.0", good=True, health="passed")
    side = NodeSide(Downloader(folder), RecordingActions(), boot_report=lambda: boot)
    client = RecordingClient(obj.model_dump(by_alias=True, mode="json"))
    r = NodeUpgradeReconciler(client, "n1", lambda: [], side)  # type: ignore[arg-type]
    r.reconcile(client.obj)
    status = status_of(r).status
    fs = os.statvfs(tmp_path)
    assert status.download_folder == str(folder) and status.phase == "Idle"
    assert status.free_bytes is not None
    assert abs(status.free_bytes - fs.f_bavail * fs.f_frsize) < 64 * (1 << 20)  # others write
