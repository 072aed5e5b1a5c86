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
from stook_core.net.bond import BOND_OPTIONS
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
    "join-check-by-mode",
    "join_check is what a joining node checks: create must not have it",
    reads=(f"{P}.mode", f"{P}.join_check"),
)
def _join_check_by_mode(spec: InstallSpec) -> Iterator[Problem]:
    if spec.mode == "create" and spec.join_check is not None:
        yield Problem.of(f"{P}.join_check", "is only used in mode join")


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


_SPECIAL = (
    (ipaddress.IPv4Network("0.0.0.0/8"), "in 0.0.0.0/8 (this host)"),
    (ipaddress.IPv4Network("127.0.0.0/8"), "a loopback address"),
    (ipaddress.IPv4Network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.IPv4Network("224.0.0.0/4"), "a multicast address"),
    (ipaddress.IPv4Network("240.0.0.0/4"), "a reserved address (240.0.0.0/4)"),
)


def special_use(network: ipaddress.IPv4Network) -> str | None:
    """What special-use range *network* overlaps, or None."""
    return next((name for special, name in _SPECIAL if network.overlaps(special)), None)


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
    elif net.address.network.prefixlen < 31 and net.gateway in (
        net.address.network.network_address,
        net.address.network.broadcast_address,
    ):
        yield Problem.of(
            f"{NET}.gateway",
            f"is the network or broadcast address of {net.address.network}",
            str(net.gateway),
        )


@rule(
    "addresses-unicast",
    "the node's subnet (static) or the VIP (DHCP) is not a special-use range",
    reads=(f"{NET}.address", f"{P}.vip"),
)
def _unicast(spec: InstallSpec) -> Iterator[Problem]:
    iface = spec.management_interface.address
    if iface is not None:  # the gateway and a static VIP lie in this subnet (rules above)
        kind = special_use(iface.network)
        if kind:
            yield Problem.of(f"{NET}.address", f"is {kind}, not a host address", str(iface))
    elif spec.vip is not None and spec.vip.address is not None:
        kind = special_use(ipaddress.IPv4Network(spec.vip.address))
        if kind:
            yield Problem.of(
                f"{P}.vip.address", f"is {kind}, not a host address", str(spec.vip.address)
            )


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


# --- bond -------------------------------------------------------------------------------------

BOND = f"{NET}.bond"


@rule(
    "bond-options-by-mode",
    "a bonding option the kernel refuses in the bond's mode is an error",
    reads=(f"{BOND}.mode", f"{BOND}.options"),
)
def _bond_modes(spec: InstallSpec) -> Iterator[Problem]:
    bond = spec.management_interface.bond
    for name, value in sorted(bond.options.items()):
        modes = BOND_OPTIONS[name].modes
        if modes and bond.mode not in modes:
            yield Problem.of(
                f"{BOND}.options.{name}",
                f"is only taken in bond mode {' or '.join(modes)} (mode is {bond.mode})",
                value,
            )


@rule(
    "bond-primary-port",
    "bond option primary names one of the management NICs",
    reads=(f"{BOND}.options", f"{NET}.nics"),
)
def _bond_primary(spec: InstallSpec) -> Iterator[Problem]:
    net = spec.management_interface
    primary = net.bond.options.get("primary")
    if primary is None or any(nic.name is None for nic in net.nics):
        return  # NICs given by MAC only: the preflight checks it against their names
    names = [nic.name for nic in net.nics]
    if primary not in names:
        yield Problem.of(
            f"{BOND}.options.primary",
            f"is not one of the management NICs ({', '.join(str(n) for n in names)})",
            primary,
        )


@rule(
    "bond-monitoring",
    "link monitoring options fit together as the kernel applies them",
    reads=(f"{BOND}.miimon", f"{BOND}.options"),
)
def _bond_monitoring(spec: InstallSpec) -> Iterator[Problem]:
    bond = spec.management_interface.bond
    options = bond.options
    grat, unsol = options.get("num_grat_arp"), options.get("num_unsol_na")
    if grat is not None and unsol is not None and grat != unsol:
        yield Problem.of(
            f"{BOND}.options.num_unsol_na",
            f"differs from num_grat_arp {grat}: the kernel has one setting for both",
            unsol,
        )
    arp = int(options.get("arp_interval", "0"))
    if arp and bond.miimon:
        yield Problem.of(
            f"{BOND}.options.arp_interval",
            "needs bond.miimon: 0 (with MII monitoring on, the kernel turns ARP monitoring off)",
            arp,
        )
    if arp and "arp_ip_target" not in options:
        yield Problem.of(f"{BOND}.options.arp_interval", "needs arp_ip_target", arp)
    if not bond.miimon:
        for name in ("updelay", "downdelay"):
            if int(options.get(name, "0")):
                yield Problem.of(
                    f"{BOND}.options.{name}",
                    "needs MII monitoring (bond.miimon > 0); the kernel ignores it otherwise",
                    int(options[name]),
                )


# --- cluster networks ---------------------------------------------------------------------------

POD_PREFIX_MAX = 24  # RKE2 gives each node a /24 of the pod CIDR
SERVICE_PREFIX_MIN = 12  # kube-apiserver refuses a larger service range


@rule(
    "cluster-cidr-sizes",
    "pod and service CIDRs are usable networks of a size RKE2 and Kubernetes accept",
    reads=(f"{P}.cluster",),
)
def _cidr_sizes(spec: InstallSpec) -> Iterator[Problem]:
    cluster = spec.cluster
    for name, cidr in (("pod_cidr", cluster.pod_cidr), ("service_cidr", cluster.service_cidr)):
        kind = special_use(cidr)
        if kind:
            yield Problem.of(f"{P}.cluster.{name}", f"overlaps {kind} range", str(cidr))
    if cluster.pod_cidr.prefixlen > POD_PREFIX_MAX:
        yield Problem.of(
            f"{P}.cluster.pod_cidr",
            f"is smaller than /{POD_PREFIX_MAX}, the block each node takes from it",
            str(cluster.pod_cidr),
        )
    if cluster.service_cidr.prefixlen < SERVICE_PREFIX_MIN:
        yield Problem.of(
            f"{P}.cluster.service_cidr",
            f"is larger than /{SERVICE_PREFIX_MIN}, the most kube-apiserver accepts",
            str(cluster.service_cidr),
        )


@rule(
    "cluster-dns-in-services",
    "the cluster DNS address is a free host address inside the service CIDR",
    reads=(f"{P}.cluster",),
)
def _cluster_dns(spec: InstallSpec) -> Iterator[Problem]:
    cluster = spec.cluster
    services = cluster.service_cidr
    if cluster.dns not in services:
        yield Problem.of(
            f"{P}.cluster.dns", f"is outside the service CIDR {services}", str(cluster.dns)
        )
    elif cluster.dns in (services.network_address, services.broadcast_address):
        yield Problem.of(
            f"{P}.cluster.dns",
            f"is the network or broadcast address of the service CIDR {services}",
            str(cluster.dns),
        )
    elif cluster.dns == services.network_address + 1:
        yield Problem.of(
            f"{P}.cluster.dns",
            f"is the first address of {services}, which the kubernetes Service takes",
            str(cluster.dns),
        )


@rule(
    "cidrs-disjoint",
    "pod, service and management networks do not overlap; VIP and DNS servers lie outside "
    "the cluster networks",
    reads=(f"{P}.cluster", f"{NET}.address", f"{P}.vip", f"{P}.dns_servers"),
)
def _cidrs_disjoint(spec: InstallSpec) -> Iterator[Problem]:
    cluster = spec.cluster
    if cluster.pod_cidr.overlaps(cluster.service_cidr):
        yield Problem.of(
            f"{P}.cluster.service_cidr",
            f"overlaps the pod CIDR {cluster.pod_cidr}",
            str(cluster.service_cidr),
        )
    cidrs = (("pod", cluster.pod_cidr), ("service", cluster.service_cidr))
    iface = spec.management_interface.address
    overlapped = []  # the cluster networks the node's subnet overlaps (said once, here)
    if iface is not None:
        for name, cidr in cidrs:
            if iface.network.overlaps(cidr):
                overlapped.append(cidr)
                yield Problem.of(
                    f"{NET}.address",
                    f"has the subnet {iface.network}, which overlaps the {name} CIDR {cidr}",
                    str(iface),
                )
    addresses: list[tuple[str, ipaddress.IPv4Address]] = []
    if spec.vip is not None and spec.vip.address is not None:
        addresses.append((f"{P}.vip.address", spec.vip.address))
    addresses += [
        (f"{P}.dns_servers[{index}]", server)
        for index, server in enumerate(spec.dns_servers)
        if isinstance(server, ipaddress.IPv4Address)
    ]
    for path, address in addresses:
        for name, cidr in cidrs:
            said = cidr in overlapped and iface is not None and address in iface.network
            if address in cidr and not said:
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
