"""Rules that relate several fields of an InstallConfig.

Each rule is a small generator registered with ``@rule``; ``RULES`` lists them so tests can check
that every rule has a passing and a failing case. Single-field rules are annotations in model.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stook_core.config.model import InstallConfig, InstallSpec
from stook_core.layout import STATE_MIN
from stook_core.problems import Problem
from stook_core.units import format_size

P = "install"
NET = f"{P}.management_interface"


@dataclass(frozen=True)
class Rule:
    """A cross-field rule; *reads* are the field paths it looks at."""

    name: str
    summary: str
    reads: tuple[str, ...]
    check: Callable[[InstallSpec], Iterator[Problem]]


RULES: list[Rule] = []


def rule(
    name: str, summary: str, reads: tuple[str, ...]
) -> Callable[[Callable[[InstallSpec], Iterator[Problem]]], Rule]:
    def register(check: Callable[[InstallSpec], Iterator[Problem]]) -> Rule:
        registered = Rule(name, summary, reads, check)
        RULES.append(registered)
        return registered

    return register


def overlaps(path: str, other: str) -> bool:
    """True when one field path is the other or lies inside it."""
    return (
        path == other
        or other.startswith((path + ".", path + "["))
        or path.startswith((other + ".", other + "["))
    )


def check_rules(config: InstallConfig, unreliable: frozenset[str] = frozenset()) -> list[Problem]:
    """Problems from every rule that reads none of the *unreliable* (already failed) paths."""
    return [
        problem
        for r in RULES
        if not any(overlaps(read, bad) for read in r.reads for bad in unreliable)
        for problem in r.check(config.install)
    ]


# --- mode and role ------------------------------------------------------------------------------


@rule(
    "server-url-by-mode",
    "join needs server_url; create must not have one",
    reads=(f"{P}.mode", f"{P}.server_url"),
)
def _server_url_by_mode(spec: InstallSpec) -> Iterator[Problem]:
    if spec.mode == "join" and spec.server_url is None:
        yield Problem.of(f"{P}.server_url", "is required in mode join", missing=True)
    if spec.mode == "create" and spec.server_url is not None:
        yield Problem.of(f"{P}.server_url", "must not be set in mode create", spec.server_url)


@rule(
    "vip-by-mode",
    "create needs a VIP; join must not have one (it joins server_url)",
    reads=(f"{P}.mode", f"{P}.vip"),
)
def _vip_by_mode(spec: InstallSpec) -> Iterator[Problem]:
    if spec.mode == "create" and spec.vip is None:
        yield Problem.of(f"{P}.vip", "is required in mode create", missing=True)
    if spec.mode == "join" and spec.vip is not None:
        yield Problem.of(f"{P}.vip", "must not be set in mode join: the cluster already has one")


@rule(
    "role-by-mode",
    "the first node (create) runs the control plane: role default or management",
    reads=(f"{P}.mode", f"{P}.role"),
)
def _role_by_mode(spec: InstallSpec) -> Iterator[Problem]:
    if spec.mode == "create" and spec.role in ("worker", "witness"):
        yield Problem.of(
            f"{P}.role", "needs mode join: the first node must be default or management", spec.role
        )


@rule(
    "login",
    "a password or an SSH key is required, or nobody can log in",
    reads=(f"{P}.password", f"{P}.ssh_authorized_keys"),
)
def _login(spec: InstallSpec) -> Iterator[Problem]:
    if spec.password is None and not spec.ssh_authorized_keys:
        yield Problem.of(
            f"{P}.password",
            "is required unless install.ssh_authorized_keys has a key",
            missing=True,
        )


# --- management network -------------------------------------------------------------------------


@rule(
    "nic-unique",
    "a NIC is listed once, by name and by MAC",
    reads=(f"{NET}.nics",),
)
def _nic_unique(spec: InstallSpec) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, nic in enumerate(spec.management_interface.nics):
        for key, value in (("name", nic.name), ("mac", nic.mac)):
            if value is None:
                continue
            first = seen.setdefault(f"{key}={value}", index)
            if first != index:
                yield Problem.of(
                    f"{NET}.nics[{index}].{key}", f"is already listed as nics[{first}]", value
                )


@rule(
    "static-needs-address",
    "static needs address and gateway; dhcp takes neither",
    reads=(f"{NET}.method", f"{NET}.address", f"{NET}.gateway"),
)
def _static_fields(spec: InstallSpec) -> Iterator[Problem]:
    net = spec.management_interface
    if net.method == "static":
        if net.address is None:
            yield Problem.of(f"{NET}.address", "is required for method static", missing=True)
        if net.gateway is None:
            yield Problem.of(f"{NET}.gateway", "is required for method static", missing=True)
    else:
        for name in ("address", "gateway"):
            value = getattr(net, name)
            if value is not None:
                yield Problem.of(f"{NET}.{name}", "is only used with method static", str(value))


@rule(
    "static-needs-dns",
    "a static address needs DNS servers (DHCP would have given them)",
    reads=(f"{NET}.method", f"{P}.dns_servers"),
)
def _static_dns(spec: InstallSpec) -> Iterator[Problem]:
    if spec.management_interface.method == "static" and not spec.dns_servers:
        yield Problem.of(
            f"{P}.dns_servers", "needs at least one server for method static", missing=True
        )


@rule(
    "address-is-host",
    "the node address is a host address, not the network or broadcast",
    reads=(f"{NET}.address",),
)
def _address_is_host(spec: InstallSpec) -> Iterator[Problem]:
    iface = spec.management_interface.address
    if iface is None or iface.network.prefixlen >= 31:
        return
    if iface.ip in (iface.network.network_address, iface.network.broadcast_address):
        yield Problem.of(
            f"{NET}.address", "is the network or broadcast address of its subnet", str(iface)
        )


@rule(
    "gateway-in-subnet",
    "the gateway is inside the node's subnet and is not the node",
    reads=(f"{NET}.address", f"{NET}.gateway"),
)
def _gateway(spec: InstallSpec) -> Iterator[Problem]:
    net = spec.management_interface
    if net.address is None or net.gateway is None:
        return
    if net.gateway not in net.address.network:
        yield Problem.of(
            f"{NET}.gateway",
            f"is outside the node's subnet {net.address.network}",
            str(net.gateway),
        )
    elif net.gateway == net.address.ip:
        yield Problem.of(f"{NET}.gateway", "is the node's own address", str(net.gateway))


# --- VIP ----------------------------------------------------------------------------------------


@rule(
    "vip-fields",
    "a static VIP needs an address; a DHCP VIP takes none",
    reads=(f"{P}.vip",),
)
def _vip_fields(spec: InstallSpec) -> Iterator[Problem]:
    vip = spec.vip
    if vip is None:
        return
    if vip.mode == "static" and vip.address is None:
        yield Problem.of(f"{P}.vip.address", "is required for a static VIP", missing=True)
    if vip.mode == "static" and vip.hw_addr is not None:
        yield Problem.of(f"{P}.vip.hw_addr", "is only used with a DHCP VIP", vip.hw_addr)
    if vip.mode == "dhcp" and vip.address is not None:
        yield Problem.of(f"{P}.vip.address", "must not be set for a DHCP VIP", str(vip.address))


@rule(
    "vip-placement",
    "the VIP is not the node IP and, for a static node, lies in its subnet",
    reads=(f"{P}.vip", f"{NET}.address", f"{NET}.gateway"),
)
def _vip_placement(spec: InstallSpec) -> Iterator[Problem]:
    vip, iface = spec.vip, spec.management_interface.address
    if vip is None or vip.address is None or iface is None:
        return
    if vip.address == iface.ip:
        yield Problem.of(f"{P}.vip.address", "is the node's own address", str(vip.address))
    elif vip.address not in iface.network:
        yield Problem.of(
            f"{P}.vip.address", f"is outside the node's subnet {iface.network}", str(vip.address)
        )
    elif vip.address in (iface.network.network_address, iface.network.broadcast_address):
        yield Problem.of(
            f"{P}.vip.address", "is the network or broadcast address", str(vip.address)
        )
    elif vip.address == spec.management_interface.gateway:
        yield Problem.of(f"{P}.vip.address", "is the gateway's address", str(vip.address))


# --- cluster networks ---------------------------------------------------------------------------


@rule(
    "cluster-dns-in-services",
    "the cluster DNS address is inside the service CIDR",
    reads=(f"{P}.cluster",),
)
def _cluster_dns(spec: InstallSpec) -> Iterator[Problem]:
    cluster = spec.cluster
    if cluster.dns not in cluster.service_cidr:
        yield Problem.of(
            f"{P}.cluster.dns",
            f"is outside the service CIDR {cluster.service_cidr}",
            str(cluster.dns),
        )


@rule(
    "cidrs-disjoint",
    "pod, service and management networks do not overlap",
    reads=(f"{P}.cluster", f"{NET}.address", f"{P}.vip"),
)
def _cidrs_disjoint(spec: InstallSpec) -> Iterator[Problem]:
    cluster = spec.cluster
    if cluster.pod_cidr.overlaps(cluster.service_cidr):
        yield Problem.of(
            f"{P}.cluster.service_cidr",
            f"overlaps the pod CIDR {cluster.pod_cidr}",
            str(cluster.service_cidr),
        )
    iface = spec.management_interface.address
    addresses: list[tuple[str, ipaddress.IPv4Address]] = []
    if iface is not None:
        addresses.append((f"{NET}.address", iface.ip))
    if spec.vip is not None and spec.vip.address is not None:
        addresses.append((f"{P}.vip.address", spec.vip.address))
    for path, address in addresses:
        for name, cidr in (("pod", cluster.pod_cidr), ("service", cluster.service_cidr)):
            if address in cidr:
                yield Problem.of(path, f"is inside the {name} CIDR {cidr}", str(address))


# --- disks --------------------------------------------------------------------------------------


@rule(
    "shared-disk-size",
    "a shared install+data disk needs persistent_size; a separate data disk takes none",
    reads=(f"{P}.data_disk", f"{P}.install_disk", f"{P}.persistent_size"),
)
def _persistent_size(spec: InstallSpec) -> Iterator[Problem]:
    shared = spec.data_disk is None or spec.data_disk == spec.install_disk
    if shared and spec.persistent_size is None:
        yield Problem.of(
            f"{P}.persistent_size",
            "is required when the install disk also holds the Longhorn data "
            "(data_disk omitted or equal to install_disk)",
            missing=True,
        )
    if not shared and spec.persistent_size is not None:
        yield Problem.of(
            f"{P}.persistent_size",
            "is only used when data shares the install disk; the state partition takes the rest "
            "of a separate install disk",
            spec.persistent_size,
        )
    if spec.persistent_size is not None and spec.persistent_size < STATE_MIN:
        yield Problem.of(
            f"{P}.persistent_size",
            f"is below the minimum {format_size(STATE_MIN)}",
            format_size(spec.persistent_size),
        )


@rule(
    "wipe-not-install",
    "wipe_disks lists other disks; the install disk is always wiped",
    reads=(f"{P}.wipe_disks", f"{P}.install_disk", f"{P}.data_disk"),
)
def _wipe(spec: InstallSpec) -> Iterator[Problem]:
    for index, match in enumerate(spec.wipe_disks):
        if match == spec.install_disk or (spec.data_disk is not None and match == spec.data_disk):
            yield Problem.of(
                f"{P}.wipe_disks[{index}]",
                "is the install or data disk, which the install wipes anyway",
                match.criteria(),
            )
