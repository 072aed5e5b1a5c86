"""Rules of the inventory as a whole, checked before any node boots.

Exactly one node creates the cluster, unless ``stook_cluster.server_url`` names an existing
one (then every node joins it); no two nodes share a hostname, a static address or a MAC; the
VIP is nobody's address or MAC. Each of these would otherwise show only once the second node
is up: two nodes fighting over one name, address or DHCP lease.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from stook_core.fleet.inventory import CLUSTER_VAR, NODE_VAR, ClusterVars, NodeVars
from stook_core.fleet.problems import FleetProblem


@dataclass(frozen=True)
class Member:
    """A host of the inventory: its name, node hostname and variables; *unchecked* names the
    variables that were invalid (stand-ins now), which no rule here judges again."""

    name: str
    hostname: str
    variables: NodeVars
    unchecked: frozenset[str] = frozenset()


def _repeated(owners: dict[str, list[str]], source: str, what: str) -> Iterator[FleetProblem]:
    for value, names in owners.items():
        if len(names) > 1:
            yield FleetProblem.of(
                source,
                f"is the {what} of {len(names)} nodes ({', '.join(names)}): each needs its own",
                value,
                hosts=names,
            )


def _create_count(cluster: ClusterVars, members: list[Member]) -> Iterator[FleetProblem]:
    create = [m.name for m in members if m.variables.mode == "create"]
    if cluster.server_url is not None:
        if create:
            yield FleetProblem.of(
                f"{NODE_VAR}.mode",
                f"must be join: {CLUSTER_VAR}.server_url names an existing cluster to join",
                "create",
                hosts=create,
            )
    elif not create and members:
        yield FleetProblem.of(
            f"{NODE_VAR}.mode",
            "is create on no node: exactly one node must create the cluster (or set "
            f"{CLUSTER_VAR}.server_url to join an existing one)",
        )
    elif len(create) > 1:
        yield FleetProblem.of(
            f"{NODE_VAR}.mode",
            f"is given to {len(create)} nodes ({', '.join(create)}): exactly one node creates "
            "the cluster, the others join it",
            "create",
            hosts=create,
        )


def check_members(cluster: ClusterVars, members: list[Member]) -> list[FleetProblem]:
    """Every inventory-wide problem of *members* (hosts whose own variables are valid)."""
    problems = list(_create_count(cluster, members))
    hostnames: dict[str, list[str]] = defaultdict(list)
    addresses: dict[str, list[str]] = defaultdict(list)
    macs: dict[str, list[str]] = defaultdict(list)
    for member in members:
        if "hostname" not in member.unchecked:
            hostnames[member.hostname].append(member.name)
        if member.variables.address is not None:
            addresses[str(member.variables.address.ip)].append(member.name)
        if "macs" not in member.unchecked:  # a MAC twice in one node: the model's rule
            for mac in dict.fromkeys(member.variables.macs):
                macs[mac].append(member.name)
    problems += _repeated(hostnames, f"{NODE_VAR}.hostname", "hostname")
    problems += _repeated(addresses, f"{NODE_VAR}.address", "address")
    problems += _repeated(macs, f"{NODE_VAR}.macs", "MAC")
    vip = cluster.vip
    if vip is not None and vip.address is not None and str(vip.address) in addresses:
        owners = addresses[str(vip.address)]
        problems.append(
            FleetProblem.of(
                f"{CLUSTER_VAR}.vip",
                f"is the address of {', '.join(owners)}: the VIP must be an address of its own",
                str(vip.address),
                hosts=owners,
            )
        )
    if vip is not None and vip.hw_addr is not None and vip.hw_addr in macs:
        owners = macs[vip.hw_addr]
        problems.append(
            FleetProblem.of(
                f"{CLUSTER_VAR}.vip.hw_addr",
                f"is a MAC of {', '.join(owners)}: the VIP's DHCP lease needs a MAC of its own",
                vip.hw_addr,
                hosts=owners,
            )
        )
    return problems
