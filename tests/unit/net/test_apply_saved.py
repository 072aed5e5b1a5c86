"""``stook-net apply-saved`` at boot waits for udev's NIC renames (stook_core.net.nicwait):
FakeNetlink is the kernel's test double, a folder stands for udev's database (/run/udev/data)
and a fake clock for time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stook_core.net.cli import apply_all
from stook_core.net.cluster import ClusterNetworkSpec, NicSelector
from stook_core.net.links import Link
from stook_core.net.nicwait import NicWait, udev_initialized
from support.fake_clock import FakeClock
from unit.net.fake_netlink import FakeNetlink

MAC3, MAC4 = "52:54:00:5e:00:03", "52:54:00:5e:00:04"
SPEC = ClusterNetworkSpec("vms", (NicSelector(name="ens5"), NicSelector(mac=MAC4)), vlans=(100,))


class Booting(FakeNetlink):
    """NICs 3 and 4 appear as eth2/eth3; udev renames them (and records them in its database)
    on the *renamed_after*-th read of the links."""

    def __init__(self, udev: Path, renamed_after: int | None) -> None:
        super().__init__([Link("lo", 1, up=True), Link("eth2", 4, None, None, MAC3, MAC3),
                          Link("eth3", 5, None, None, MAC4, MAC4)])  # fmt: skip
        self.udev = udev
        self.renamed_after = renamed_after
        self.reads = 0

    def links(self) -> list[Link]:
        self.reads += 1
        if self.reads == self.renamed_after:
            for old, new in (("eth2", "ens5"), ("eth3", "ens6")):
                link = self._links.pop(old)
                self._links[new] = replace(link, name=new)
                (self.udev / f"n{link.index}").touch()
        return super().links()


def waiter(kernel: Booting, clock: FakeClock, settled: list[float]) -> NicWait:
    return NicWait(
        kernel.links,
        settle=settled.append,
        initialized=lambda index: udev_initialized(index, kernel.udev),
        clock=clock,
        sleep=clock.sleep,
    )


def test_the_saved_network_waits_for_udev_to_rename_its_nics(tmp_path: Path) -> None:
    kernel, clock, settled = Booting(tmp_path, renamed_after=4), FakeClock(), []
    assert apply_all(kernel, [SPEC], waiter(kernel, clock, settled), seconds=60) == 0
    assert settled == [60]
    assert [kernel.link(n).master for n in ("ens5", "ens6")] == ["vms-bo", "vms-bo"]
    assert kernel.port_vlans("vms-bo") == {1, 100}
    assert clock.now < 60


def test_a_nic_that_never_comes_is_named_and_the_wait_is_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, clock, settled = Booting(tmp_path, renamed_after=None), FakeClock(), []
    other = ClusterNetworkSpec("storage", (NicSelector(name="eth3"),))
    (tmp_path / "n5").touch()  # eth3 is done: only vms waits in vain
    assert apply_all(kernel, [SPEC, other], waiter(kernel, clock, settled), seconds=60) == 1
    assert 60 <= clock.now <= 61
    error = capsys.readouterr().err
    assert "cluster network vms: NIC ens5 not there under its final name after 60 s" in error
    assert "NICs now: eth2 52:54:00:5e:00:03 (udev not done), eth3 52:54:00:5e:00:04" in error
    assert "vms-bo" not in {link.name for link in kernel.links()}
    assert kernel.link("eth3").master == "storage-bo"  # the other network still came up
