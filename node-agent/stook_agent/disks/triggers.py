"""What wakes a rescan. Every trigger only wakes the scan loop (level-triggered): the scan
reads the node's state afresh, so missed, merged or reordered events do no harm.

* ``UdevTrigger``: pyudev's netlink monitor of udev's block events (``source='udev'``, after
  udev has processed the device). What runs on nodes; needs /run/udev and the host network.
* ``RescanTrigger``: an explicit "rescan now" (the integration tier's stand-in on a host
  without udev, and SIGHUP for the agent process).
* The scan loop's own period covers anything both missed. A scan that fails (the API server
  unreachable while a disk changed) is retried after a short back-off, and at once when the
  API server answers again (``ScanLoop.wake``), not at the next period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from stook_agent.runtime.errors import describe

log = logging.getLogger(__name__)
RETRY_FIRST, RETRY_CAP = 0.5, 10.0  # seconds between attempts of a failed scan

Wake = Callable[[str], None]


class RescanTrigger:
    """Call ``rescan()`` to wake a scan: no udev involved."""

    def __init__(self) -> None:
        self._wake: Wake | None = None

    def start(self, wake: Wake) -> None:
        self._wake = wake

    def rescan(self, why: str = "rescan requested") -> None:
        if self._wake is not None:
            self._wake(why)

    def stop(self) -> None:
        self._wake = None


class UdevTrigger:
    """Wakes a scan on every udev add/remove/change event of a block device."""

    def __init__(self) -> None:
        self._observer: object | None = None

    def start(self, wake: Wake) -> None:
        import pyudev

        context = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context, source="udev")
        monitor.filter_by("block")

        def on_device(device: object) -> None:
            action = getattr(device, "action", "?")
            wake(f"udev {action} {getattr(device, 'sys_name', '?')}")

        # callback= (one argument, the device): the (action, device) form is deprecated.
        observer = pyudev.MonitorObserver(monitor, callback=on_device, name="udev-monitor")
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        observer = self._observer
        if observer is not None:
            observer.stop()  # type: ignore[attr-defined]
            self._observer = None


class ScanLoop:
    """Runs *scan* at start, whenever woken, and every *period* seconds; bursts merge.
    A Runnable of the manager."""

    name = "disk-scan"
    needs_leader = False

    def __init__(self, scan: Callable[[str], None], period: float) -> None:
        self._scan = scan
        self.failures = 0
        self._period = period
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reasons: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="disk-scan", daemon=True)

    def wake(self, why: str) -> None:
        with self._lock:
            self._reasons.append(why)
        self._wake.set()

    def start(self) -> None:
        self.wake("start")
        self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=max(0.1, drain_timeout))

    def healthy(self) -> bool:
        return self._stop.is_set() or self._thread.is_alive()

    def ready(self) -> bool:
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self._period
            if self.failures:
                wait = min(self._period, RETRY_CAP, RETRY_FIRST * 2 ** (self.failures - 1))
            woken = self._wake.wait(wait)
            if self._stop.is_set():
                return
            self._wake.clear()
            with self._lock:
                reasons, self._reasons = self._reasons, []
            why = ", ".join(reasons[:3]) + (" ..." if len(reasons) > 3 else "")
            if not woken:
                why = "retry" if self.failures else "periodic"
            try:
                self._scan(why)
                self.failures = 0
            except Exception as error:  # keep scanning: retried after a short back-off
                self.failures += 1
                log.warning("disk scan failed (%s); retrying", describe(error))
                log.debug("disk scan failure", exc_info=True)
