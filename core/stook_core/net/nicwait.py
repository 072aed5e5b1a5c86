"""Waiting at boot for the NICs the saved cluster networks need, under their final names.

``stook-net apply-saved`` runs early: udev may still be renaming NICs (``eth2`` -> ``ens5``).
A network applied then would miss a NIC named by its final name, or enslave one by MAC under
its kernel name (the rename then fails: the kernel renames no link that is up). So the boot
first lets udev's queue drain (``udevadm settle``), then waits until every NIC each network
names is there and udev is done with it (its database entry, ``/run/udev/data/n<ifindex>``,
is what systemd-networkd waits for too), bounded: a NIC that never comes is reported by its
name or MAC and the other networks still come up.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from stook_core.net.cluster import LOOPBACK, ClusterNetworkSpec, NicSelector
from stook_core.net.links import Link

UDEV_DATA = Path("/run/udev/data")
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.5


def udev_settle(seconds: float) -> None:
    """``udevadm settle``: until udev's event queue is empty (at most *seconds*)."""
    # Failing to settle is no error: the polling after it bounds the wait and names the NIC.
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            ["udevadm", "settle", f"--timeout={max(1, round(seconds))}"],
            capture_output=True, timeout=seconds + 10, check=False,
        )  # fmt: skip


def udev_initialized(index: int, data: Path = UDEV_DATA) -> bool:
    """udev has processed link *index* (rules run, rename done)."""
    return (data / f"n{index}").exists()


@dataclass
class NicWait:
    """*links* reads the kernel's links; the rest are the boundaries (udev, clock)."""

    links: Callable[[], list[Link]]
    settle: Callable[[float], None] = udev_settle
    initialized: Callable[[int], bool] = udev_initialized
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def _missing(self, spec: ClusterNetworkSpec, links: list[Link]) -> list[NicSelector]:
        missing = []
        for selector in spec.nics:
            nic = selector.find(links)
            if nic is None or not self.initialized(nic.index):
                missing.append(selector)
        return missing

    def wait(
        self, specs: Iterable[ClusterNetworkSpec], seconds: float = WAIT_SECONDS
    ) -> dict[str, str]:
        """Wait until every NIC of *specs* is there, udev done with it; the networks whose NICs
        still are not at the deadline, each with the error naming them."""
        specs = list(specs)
        deadline = self.clock() + seconds
        self.settle(seconds)
        while True:
            links = self.links()
            missing = {spec.network: self._missing(spec, links) for spec in specs}
            missing = {network: nics for network, nics in missing.items() if nics}
            if not missing or self.clock() >= deadline:
                return {
                    network: self._error(nics, links, seconds) for network, nics in missing.items()
                }
            self.sleep(POLL_SECONDS)

    def _error(self, nics: list[NicSelector], links: list[Link], seconds: float) -> str:
        present = [link for link in links if link.kind is None and link.name != LOOPBACK]
        now = ", ".join(
            f"{n.name} {n.identity_mac}{'' if self.initialized(n.index) else ' (udev not done)'}"
            for n in present
        )
        return (
            f"NIC {', '.join(str(nic) for nic in nics)} not there under its final name after "
            f"{seconds:.0f} s (the node lacks it, or udev did not finish renaming it; NICs now: "
            f"{now or 'none'}): this network was not applied"
        )
