"""The node side of an upgrade: this node's NodeUpgrade, kept by its agent alone.

The cluster controller asks by setting this node's step in an Upgrade's status to
``Upgrading`` (after cordon and drain); the agent, watching Upgrades, copies the request into
its NodeUpgrade's spec and works through it in a thread of its own (a download takes minutes,
a reconcile must not): download (resumable) -> Writing (``stook-os write-slot --no-set-next``,
then ``stook-os set-next`` only if the request still stands) -> Rebooting (the boot id is
recorded *before* ``systemctl reboot``) -> after the reboot Verifying -> Succeeded (the new
slot booted the new version and was marked good) or Failed (it fell back, with the failed
health check from the journal). An agent restart picks
the phase up from the status: a download resumes, a write starts again (the slot was
invalidated first), a reboot that did not happen is asked again.

Retries are safe by construction: write-slot only ever writes the *other* slot of the booted
one and refuses while the booted slot is on trial, so neither the running slot nor the good
fallback can be overwritten; a node already running the target version marked good is
Succeeded without writing anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stook_agent.api.meta import NODE_LABEL, ObjectMeta
from stook_agent.api.nodeupgrade import (
    BootReport,
    NodePhase,
    NodeUpgrade,
    NodeUpgradeSpec,
    NodeUpgradeStatus,
    SlotName,
)
from stook_agent.api.osversion import OSImage
from stook_agent.api.upgrade import Upgrade
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.controller import Reconciler, Result
from stook_agent.runtime.events import EventRecorder, EventType
from stook_agent.upgrades.bootinfo import read_boot_id, read_boot_report
from stook_agent.upgrades.download import Downloader, DownloadError, Stopped, shown
from stook_agent.upgrades.osactions import ActionError, OsActions
from stook_core import osimage
from stook_core.boot.slots import DEFAULT_ATTEMPTS

log = logging.getLogger(__name__)

ASKING = ("Upgrading", "Downloading", "Writing", "Rebooting", "Verifying")  # Upgrade steps
WORKING: tuple[NodePhase, ...] = ("Downloading", "Writing")
IDLE_RECHECK = 60.0
VERIFY_RECHECK = 5.0


def now_stamp(clock: Callable[[], datetime]) -> str:
    return clock().replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Request:
    upgrade: str
    key: str  # "<uid>/<attempt>"
    image: OSImage
    attempts: int = DEFAULT_ATTEMPTS  # boots of the new slot before GRUB falls back


def find_request(upgrades: list[Object], node: str) -> Request | None:
    """The request to this node: the oldest live Upgrade whose status asks it."""
    found: list[tuple[str, Request]] = []
    for obj in upgrades:
        try:
            upgrade = Upgrade.parse(obj)
        except ValueError:
            continue
        meta = upgrade.metadata
        if meta.deletion_timestamp or upgrade.spec.abort or upgrade.status.image is None:
            continue
        entry = next((n for n in upgrade.status.nodes if n.name == node), None)
        if entry is None or entry.step not in ASKING:
            continue
        key = f"{meta.uid}/{entry.attempt}"
        request = Request(meta.name, key, upgrade.status.image, upgrade.spec.boot_attempts)
        found.append((f"{meta.creation_timestamp}/{meta.name}", request))
    return min(found, key=lambda pair: pair[0])[1] if found else None


@dataclass(frozen=True)
class NodeSide:
    """Where the node side reads and writes on the host (injectable for tests)."""

    downloads: Downloader
    actions: OsActions
    boot_report: Callable[[], BootReport] = read_boot_report
    boot_id: Callable[[], str] = read_boot_id
    image_version: Callable[[Path], str] = osimage.read_os_version
    progress_every: float = 2.0  # seconds between progress writes
    retry_after: float = 5.0  # first back-off of a failed download attempt (doubles to 60 s)


class NodeUpgradeReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        node: str,
        upgrades: Callable[[], list[Object]],
        side: NodeSide,
        recorder: EventRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        synced: Callable[[], bool] = lambda: True,
    ) -> None:
        """*upgrades* lists the Upgrades (an informer's cache), *synced* says it is filled."""
        self.client = client
        self.node = node
        self.upgrades = upgrades
        self.synced = synced
        self.wake: Callable[[], None] = lambda: None  # queue this node's key (set by the wiring)
        self.side = side
        self.recorder = recorder
        self.clock = clock
        self._worker: Worker | None = None
        self._rebooted_for: str | None = None  # the request this process asked a reboot for
        self._lock = threading.Lock()

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, obj: Object) -> Result:
        current = NodeUpgrade.parse(obj)
        if current.metadata.name != self.node:
            return Result()
        if not self.synced():
            return Result(requeue_after=1.0)  # an empty cache would read as "no request"
        boot = self.side.boot_report()
        request = find_request(self.upgrades(), self.node)
        status = current.status
        if request is None:
            self.stop_worker()
            if status.phase in WORKING:
                return self._write(
                    obj, current, "Idle", "stopped: no Upgrade asks this node any more (aborted, "
                    "skipped or deleted); a partial download is kept for a resume", boot,
                )  # fmt: skip
        elif current.spec.request != request.key:
            return self._accept(obj, current, request, boot)
        elif status.phase == "Idle":  # asked again after a withdrawal: resume
            self._set_phase(obj, current, "Downloading", "resuming the download", boot)
            return Result(requeue_after=0.5)
        phase = status.phase
        if phase in WORKING and request is not None:
            self._ensure_worker(obj, current, request)
            return Result(requeue_after=VERIFY_RECHECK)
        if phase == "Rebooting":
            return self._rebooting(obj, current, boot)
        if phase == "Verifying":
            return self._verify(obj, current, boot)
        folder = str(self.side.downloads.folder)
        if status.booted != boot or (status.free_bytes, status.download_folder) != (
            self._free(),
            folder,
        ):
            self._patch(
                current, {"booted": boot.to_dict(), "freeBytes": self._free(),
                          "downloadFolder": folder},
            )  # fmt: skip
        return Result(requeue_after=IDLE_RECHECK)

    def absent(self, key: str) -> Result:
        if key != self.node:
            return Result()
        body = NodeUpgrade(
            metadata=ObjectMeta(name=self.node, labels={NODE_LABEL: self.node}),
            spec=NodeUpgradeSpec(node_name=self.node),
        ).body()
        try:
            self.client.create(body)
        except Exception as error:
            if not is_status(error, 409):
                raise
        return Result(requeue_after=0.5)

    def stop_worker(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop.set()
            worker.join(timeout=30)

    # -- steps -----------------------------------------------------------------------------

    def _accept(
        self, obj: Object, current: NodeUpgrade, request: Request, boot: BootReport
    ) -> Result:
        """A new request: record it in spec, start from the beginning (or end at once)."""
        self.stop_worker()
        self.client.patch(
            self.node,
            {"spec": {"upgrade": request.upgrade, "request": request.key,
                      "image": request.image.to_dict(), "bootAttempts": request.attempts}},
        )  # fmt: skip
        image = request.image
        stamp = now_stamp(self.clock)
        target: SlotName = "B" if boot.slot == "A" else "A" if boot.slot == "B" else "unknown"
        fresh = NodeUpgradeStatus(
            request=request.key, booted=boot, free_bytes=self._free(), total_bytes=image.size,
            target_slot=target, download_folder=str(self.side.downloads.folder),
        )  # fmt: skip
        if boot.version == image.version and boot.good and not boot.fell_back:
            fresh.phase, fresh.times = "Succeeded", {"Succeeded": stamp}
            fresh.message = f"already runs {image.version} (slot {boot.slot}, marked good)"
        elif boot.slot == "unknown" or not boot.good:
            fresh.phase, fresh.times = "Failed", {"Failed": stamp}
            state = "on trial" if boot.trial else "not marked good"
            fresh.message = (
                f"not started: the booted slot {boot.slot} is {state} "
                f"({boot.message or 'no boot status yet'}); writing the other slot would "
                "destroy its fallback"
            )
        else:
            fresh.phase, fresh.times = "Downloading", {"Downloading": stamp}
            fresh.message = f"downloading {shown(image.image_url)} ({image.size} bytes)"
        self._replace_status(current, fresh)
        self._event(obj, fresh.phase, fresh.message)
        return Result(requeue_after=0.5)

    def _ensure_worker(self, obj: Object, current: NodeUpgrade, request: Request) -> None:
        with self._lock:
            running = self._worker
            if running is not None and running.is_alive() and running.request.key == request.key:
                return
            worker = Worker(self, obj, request, current.status)
            self._worker = worker
        worker.start()

    def _rebooting(self, obj: Object, current: NodeUpgrade, boot: BootReport) -> Result:
        status = current.status
        if self.side.boot_id() != status.reboot_boot_id:
            message = "rebooted; waiting for the new slot's boot checks"
            self._set_phase(obj, current, "Verifying", message, boot)
            return Result(requeue_after=VERIFY_RECHECK)
        worker = self._worker
        if (worker is None or not worker.is_alive()) and self._rebooted_for != status.request:
            # This process restarted between recording the reboot and the node going down.
            self._rebooted_for = status.request
            try:
                self.side.actions.reboot()
            except ActionError as error:
                self._set_phase(obj, current, "Failed", str(error), boot)
        return Result(requeue_after=VERIFY_RECHECK)

    def _verify(self, obj: Object, current: NodeUpgrade, boot: BootReport) -> Result:
        image = current.spec.image
        target = current.status.target_slot
        if image is None:
            return self._write(obj, current, "Failed", "no image in the request", boot)
        want = image.version
        if boot.slot == target and boot.good:
            if boot.version == want:
                message = f"booted {want} from slot {target}, marked good"
                return self._write(obj, current, "Succeeded", message, boot)
            message = f"slot {target} booted but runs {boot.version}, not {want}"
            return self._write(obj, current, "Failed", message, boot)
        if boot.fell_back or boot.slot not in (target, "unknown"):
            failed = self.side.actions.failed_checks(-1)  # the boot before this one
            reason = failed.describe()
            message = (
                f"fell back to slot {boot.slot} ({boot.version}): slot {target} ({want}) was "
                f"never marked good"
                + (f"; the failed boot: {reason}" if reason else "; no failed check in the "
                   "journal of the boot before (journalctl -b -1)")
            )  # fmt: skip
            return self._write(obj, current, "Failed", message, boot, failedCheck=failed.check)
        if boot.health == "failed":
            failed = self.side.actions.failed_checks(0)
            check = boot.failed_check or failed.check
            reason = failed.describe() or f"{check or 'a boot check'} failed"
            message = f"slot {target} failed a required boot check ({reason}); {boot.message}"
            if message != current.status.message:
                self._write(obj, current, "Verifying", message, boot, failedCheck=check)
        return Result(requeue_after=VERIFY_RECHECK)

    # -- status writes ---------------------------------------------------------------------

    def _free(self) -> int | None:
        try:
            return self.side.downloads.free_bytes()
        except OSError:
            return None

    def _patch(self, current: NodeUpgrade, status: dict[str, Any]) -> None:
        del current
        self.client.patch_status(self.node, status)

    def _replace_status(self, current: NodeUpgrade, fresh: NodeUpgradeStatus) -> None:
        """Write *fresh* as the whole status: keys of the old one it lacks are removed."""
        patch: dict[str, Any] = fresh.to_dict()
        old = current.status.to_dict()
        for key in old.keys() - patch.keys():
            patch[key] = None
        old_times = old.get("times") or {}
        patch["times"] = dict.fromkeys(old_times) | dict(fresh.times)
        self.client.patch_status(self.node, patch)

    def _set_phase(
        self, obj: Object, current: NodeUpgrade, phase: NodePhase, message: str,
        boot: BootReport | None = None, **fields: Any,
    ) -> None:  # fmt: skip
        status: dict[str, Any] = {
            "phase": phase,
            "message": message[:4096],
            "times": {phase: now_stamp(self.clock)},
            **fields,
        }
        if boot is not None:
            status["booted"] = boot.to_dict()
        self.client.patch_status(self.node, status)
        if phase != current.status.phase:
            self._event(obj, phase, message)

    def _write(
        self, obj: Object, current: NodeUpgrade, phase: NodePhase, message: str,
        boot: BootReport, **fields: Any,
    ) -> Result:  # fmt: skip
        self._set_phase(obj, current, phase, message, boot, **fields)
        return Result(requeue_after=IDLE_RECHECK if phase != "Verifying" else VERIFY_RECHECK)

    def _event(self, obj: Object, phase: str, message: str) -> None:
        if self.recorder is not None:
            kind: EventType = "Warning" if phase == "Failed" else "Normal"
            self.recorder.record(obj, kind, f"Upgrade{phase}", message)


class Worker(threading.Thread):
    """Download, write and reboot for one request, writing progress as it goes."""

    def __init__(
        self, owner: NodeUpgradeReconciler, obj: Object, request: Request,
        status: NodeUpgradeStatus,
    ) -> None:  # fmt: skip
        super().__init__(name=f"upgrade-{owner.node}", daemon=True)
        self.owner = owner
        self.obj = obj
        self.request = request
        self.status = status
        self.stop = threading.Event()
        self._last_write = 0.0

    def run(self) -> None:
        try:
            self._run()
        except Stopped:
            log.info("upgrade work for %s stopped; it resumes from its status", self.request.key)
        except Exception as error:  # never leave the node's status silently stuck
            log.exception("upgrade work for %s failed", self.request.key)
            self._phase("Failed", f"unexpected failure: {type(error).__name__}: {error}")

    def _run(self) -> None:
        image = self.request.image
        path = self._download(image)
        if path is None:
            return
        found = self.owner.side.image_version(path)
        if found != image.version:
            self._phase(
                "Failed",
                f"the image's os-release says VERSION {found or '(none)'}, the OSVersion "
                f"{image.version}: refused, nothing written",
            )
            return
        self._phase("Writing", f"writing {image.version} into slot {self.status.target_slot}")
        try:
            written = self.owner.side.actions.write_slot(path, image.sha256, self._written)
        except ActionError as error:
            self._phase("Failed", str(error))
            return
        if self.stop.is_set():  # withdrawn meanwhile: the slot is written, not set next
            raise Stopped()
        try:
            self.owner.side.actions.set_next(written.slot, self.request.attempts)
        except ActionError as error:
            self._phase("Failed", str(error))
            return
        boot_id = self.owner.side.boot_id()
        self._phase(
            "Rebooting",
            f"slot {written.slot} holds {written.version} and is tried next boot; rebooting",
            bytesWritten=image.size,
            rebootBootId=boot_id,
        )
        self.owner._rebooted_for = self.request.key
        try:
            self.owner.side.actions.reboot()
        except ActionError as error:
            self._phase("Failed", str(error))

    def _download(self, image: OSImage) -> Path | None:
        delay = self.owner.side.retry_after
        while True:
            try:
                return self.owner.side.downloads.fetch(image, self._downloaded, self.stop)
            except DownloadError as error:
                if error.final:
                    self._phase("Failed", str(error))
                    return None
                self._progress({"message": f"{error}; retrying in {delay:.0f} s"}, force=True)
                if self.stop.wait(delay):
                    raise Stopped() from None
                delay = min(60.0, delay * 2)

    def _downloaded(self, done: int, total: int) -> None:
        self._progress({"bytesDownloaded": done, "totalBytes": total}, force=done == total)

    def _written(self, fraction: float) -> None:
        self._progress({"bytesWritten": int(fraction * self.request.image.size)})

    def _progress(self, fields: dict[str, Any], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.owner.side.progress_every:
            return
        self._last_write = now
        try:
            self.owner.client.patch_status(self.owner.node, fields)
        except Exception as error:  # progress is best effort; the phases are not
            log.warning("could not write upgrade progress: %s", type(error).__name__)

    def _phase(self, phase: NodePhase, message: str, **fields: Any) -> None:
        if self.stop.is_set() and phase != "Failed":
            raise Stopped()
        current = NodeUpgrade.parse(self.obj)
        current.status = self.status
        self.owner._set_phase(self.obj, current, phase, message, **fields)
        self.status = self.status.model_copy(update={"phase": phase})
        self.owner.wake()  # a status write does not trigger a reconcile: the next step is ours
