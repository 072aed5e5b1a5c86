"""VM IP discovery's decisions: which neighbours are VMs on a bridge, and when a write is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stook_agent.api.networknode import VMAddress
from stook_agent.networks.vmaddresses import observe, published
from stook_core.net.neighbours import Neighbour

NOW = datetime(2026, 12, 2, tzinfo=UTC)
KEEP, REFRESH = timedelta(minutes=10), timedelta(minutes=10)
VM1, VM2, GW = "52:54:00:00:00:01", "52:54:00:00:00:02", "00:11:22:33:44:55"


def test_neighbours_on_a_bridge_or_its_vlan_device_are_vms_with_their_vlan() -> None:
    seen = observe(
        [
            Neighbour("192.168.100.7", VM1, "vms-br.100"),
            Neighbour("fe80::1", VM1, "vms-br.100"),
            Neighbour("10.0.0.1", GW, "mgmt-br.10"),
            Neighbour("10.9.0.1", GW, "ens3"),  # the node's own uplink: no VM
            Neighbour("172.16.0.5", VM2, "storage-br"),
        ],
        {VM1: "vms-br", "52:54:00:00:00:03": "vms-br"},
    )
    assert seen[VM1].ips == ("192.168.100.7", "fe80::1") and seen[VM1].vlan_id == 100
    assert seen[VM1].bridge == "vms-br"
    assert (seen[VM2].bridge, seen[VM2].vlan_id) == ("storage-br", None)
    assert seen[GW].bridge == "mgmt-br" and seen[GW].ips == ("10.0.0.1",)
    assert seen["52:54:00:00:00:03"].ips == ()  # learned, no address yet


def _entry(mac: str, ips: list[str], seen: datetime) -> VMAddress:
    return VMAddress(mac=mac, ips=ips, bridge="vms-br", vlan_id=100,
                     last_seen=seen.strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip


def test_a_write_only_when_something_changed_or_is_old() -> None:
    seen = observe([Neighbour("192.168.100.7", VM1, "vms-br.100")], {})
    first = published(seen, [], NOW, KEEP, REFRESH)
    assert first is not None and [e.to_dict()["ips"] for e in first] == [["192.168.100.7"]]
    assert published(seen, first, NOW + timedelta(minutes=1), KEEP, REFRESH) is None
    assert published(seen, first, NOW + timedelta(minutes=10), KEEP, REFRESH) is not None
    moved = observe([Neighbour("192.168.100.8", VM1, "vms-br.100")], {})
    assert published(moved, first, NOW + timedelta(minutes=1), KEEP, REFRESH) is not None


def test_an_entry_not_seen_stays_for_a_while_then_goes() -> None:
    previous = [_entry(VM1, ["192.168.100.7"], NOW), _entry(VM2, ["192.168.100.9"], NOW)]
    seen = observe([Neighbour("192.168.100.7", VM1, "vms-br.100")], {})
    assert published(seen, previous, NOW + timedelta(minutes=5), KEEP, REFRESH) is None
    later = published(seen, previous, NOW + timedelta(minutes=11), KEEP, REFRESH)
    assert later is not None and [e.mac for e in later] == [VM1]
