"""Inventory -> one validated InstallConfig per node, or every problem of the inventory at once.

Three passes, each on what the one before found valid, so one mistake does not hide another:
the variables against their types (inventory.py), the inventory as a whole (unique.py: one
create node, no hostname, address or MAC twice), then each node's rendered document through
the InstallConfig model and its rules (stook_core.config.validate), with every problem traced
back to the inventory variable it came from (origins.py). A problem that a cluster variable
causes on several nodes is said once, naming them all.

Layers of a node's document, later winning: built-in fleet defaults (unattended), the cluster's
``install``, the cluster's variables, the node's ``install``, the node's variables. Within one
level a field set both by a variable and under ``install`` is refused: one place for each thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from stook_core.config.checks import is_hostname
from stook_core.config.dump import to_document
from stook_core.config.model import (
    API_VERSION,
    KIND,
    KUBE_API_PORT,
    RKE2_SUPERVISOR_PORT,
    InstallConfig,
)
from stook_core.config.validate import problem_of, validate_document
from stook_core.fleet.inventory import CLUSTER_VAR, NODE_VAR, ClusterVars, NodeVars
from stook_core.fleet.origins import NODE_OVERRIDES, Origins
from stook_core.fleet.problems import FleetError, FleetProblem, secret_source
from stook_core.fleet.unique import Member, check_members
from stook_core.problems import child_path

NET = "install.management_interface"
# What a fleet install is unless the inventory says otherwise: unattended (consent to erase
# stays the operator's to give: stook_cluster.confirm_erase).
FLEET_DEFAULTS: dict[str, Any] = {"automatic": True}


@dataclass(frozen=True)
class FleetNode:
    """One node of a valid inventory: its inventory name, variables and validated config."""

    name: str
    variables: NodeVars = field(repr=False)
    config: InstallConfig

    @property
    def hostname(self) -> str:
        return self.config.install.hostname

    @property
    def macs(self) -> list[str]:
        return list(self.variables.macs)


@dataclass(frozen=True)
class Fleet:
    """A valid inventory: the cluster's variables and every node's config, in inventory order."""

    cluster: ClusterVars = field(repr=False)
    nodes: dict[str, FleetNode]

    def documents(self, *, reveal_secrets: bool = True) -> dict[str, dict[str, Any]]:
        """Each node's InstallConfig document, by inventory name. The token is revealed by
        default: the document is what the node installs from (serve it to that node only)."""
        return {
            name: to_document(node.config, reveal_secrets=reveal_secrets)
            for name, node in self.nodes.items()
        }


M = TypeVar("M", bound=BaseModel)

# Valid stand-ins for required variables that are missing or invalid, so the rest of a host or
# of the cluster is still checked (problems traced back to a stand-in are dropped).
_STAND_INS: dict[str, Any] = {"token": "stand-in", "macs": ["02:00:00:00:00:01"]}


def _typed(
    model: type[M], data: Any, source: str, host: str | None
) -> tuple[M | None, list[FleetProblem], frozenset[str]]:
    """The model of *data*, its problems, and the variables that were not valid (replaced by
    stand-ins or left out, so that what they feed is not judged)."""
    hosts = (host,) if host else ()
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        return (
            None,
            [FleetProblem.of(source, "is not a mapping of variables", hosts=hosts)],
            (frozenset()),
        )
    try:
        return model.model_validate(dict(data)), [], frozenset()
    except ValidationError as error:
        details = error.errors()
    problems = []
    for detail in details:
        path = source
        for part in detail["loc"]:
            path = child_path(path, part)
        found = problem_of(detail, model, secret=secret_source(path))
        problems.append(FleetProblem(path, found.message, hosts, None, found.value))
    bad = frozenset(str(d["loc"][0]) for d in details if d["loc"])
    valid = {key: value for key, value in data.items() if key not in bad}
    valid.update({key: value for key, value in _STAND_INS.items() if key in bad})
    try:
        return model.model_validate(valid), problems, bad
    except ValidationError:
        return None, problems, bad


def _hostname(name: str, variables: NodeVars, bad: frozenset[str]) -> tuple[str, bool]:
    """The node's hostname, and whether it is its own (not a stand-in)."""
    if variables.hostname is not None:
        return variables.hostname, True
    if is_hostname(name):
        return name, "hostname" not in bad
    return "stand-in", False


def _unnamed(name: str) -> FleetProblem:
    return FleetProblem.of(
        f"{NODE_VAR}.hostname",
        f"is not set, and the inventory name {name!r} is not a valid hostname (one "
        f"lowercase label, not an FQDN): set {NODE_VAR}.hostname",
        hosts=(name,),
    )


def join_server_url(
    cluster: ClusterVars, members: list[Member]
) -> tuple[str | None, list[FleetProblem]]:
    """The server the joining nodes register with: stook_cluster.server_url, else the static
    VIP, else the create node's static address."""
    if cluster.server_url is not None:
        return cluster.server_url, []
    if cluster.vip is not None and cluster.vip.address is not None:
        return f"https://{cluster.vip.address}:{RKE2_SUPERVISOR_PORT}", []
    create = [m for m in members if m.variables.mode == "create"]
    if len(create) == 1 and create[0].variables.address is not None:
        return f"https://{create[0].variables.address.ip}:{RKE2_SUPERVISOR_PORT}", []
    if len(create) != 1 or not any(m.variables.mode == "join" for m in members):
        return None, []  # no create node (said by unique.py), or nobody joins
    return None, [
        FleetProblem.of(
            f"{CLUSTER_VAR}.server_url",
            "is needed: the VIP is DHCP and the create node has no static address, so the "
            "joining nodes cannot know where to join (give it, a static vip, or "
            f"{NODE_VAR}.address on the create node)",
        )
    ]


def _clashes(
    layer: Mapping[str, Any], variables: Mapping[str, str], source: str, host: str | None
) -> Iterator[FleetProblem]:
    """Fields a level sets both by a variable (config path -> variable) and under its
    ``install``."""
    for path, variable in variables.items():
        here: Any = layer
        for part in path.removeprefix("install.").split("."):
            here = here.get(part) if isinstance(here, Mapping) else None
        if here is not None:
            yield FleetProblem.of(
                f"{source}.{path}",
                f"is also set by {source}.{variable}: set it in one place",
                hosts=(host,) if host else (),
            )


def _cluster_fields(cluster: ClusterVars, member: Member, server_url: str | None) -> dict[str, Any]:
    """Config path -> value for the cluster's variables that apply to *member*."""
    spec = cluster.model_dump(mode="json", exclude_none=True, context={"reveal_secrets": True})
    values: dict[str, Any] = {"install.token": spec["token"]}
    for name in ("dns_servers", "ntp_servers", "ssh_authorized_keys"):
        if spec.get(name):
            values[f"install.{name}"] = spec[name]
    if "password" in spec:
        values["install.password"] = spec["password"]
    if cluster.confirm_erase:
        values["install.confirm_erase"] = True
    if member.variables.mode == "create" and "vip" in spec:
        values["install.vip"] = spec["vip"]
    if member.variables.mode == "join":
        if server_url is not None:
            values["install.server_url"] = server_url
        values["install.join_check.wait"] = cluster.join_wait
        if cluster.vip is not None and cluster.vip.address is not None:
            values["install.join_check.api_url"] = f"https://{cluster.vip.address}:{KUBE_API_PORT}"
        if "api_token" in spec:
            values["install.join_check.api_token"] = spec["api_token"]
    if "gateway" in spec and member.variables.address is not None:
        values[f"{NET}.gateway"] = spec["gateway"]
    return values


def _node_fields(member: Member) -> dict[str, Any]:
    """Config path -> value for the node's own variables."""
    variables = member.variables
    spec = variables.model_dump(mode="json", exclude_none=True)
    values: dict[str, Any] = {
        "install.hostname": member.hostname,
        "install.mode": spec["mode"],
        "install.role": spec["role"],
    }
    for name in ("install_disk", "data_disk", "wipe_disks"):
        if name in spec:
            values[f"install.{name}"] = spec[name]
    if variables.address is not None:
        values[f"{NET}.method"] = "static"
        values[f"{NET}.address"] = spec["address"]
    if variables.gateway is not None:
        values[f"{NET}.gateway"] = spec["gateway"]
    return values


# Config path -> the variable that sets it, per level.
_CLUSTER_VARIABLES = {
    "install.token": "token",
    "install.vip": "vip",
    "install.server_url": "server_url",
    "install.dns_servers": "dns_servers",
    "install.ntp_servers": "ntp_servers",
    "install.password": "password",
    "install.ssh_authorized_keys": "ssh_authorized_keys",
    "install.confirm_erase": "confirm_erase",
    "install.join_check.wait": "join_wait",
    "install.join_check.api_url": "vip",
    "install.join_check.api_token": "api_token",
    f"{NET}.gateway": "gateway",
}
_NODE_VARIABLES = {
    "install.hostname": "hostname",
    "install.mode": "mode",
    "install.role": "role",
    "install.install_disk": "install_disk",
    "install.data_disk": "data_disk",
    "install.wipe_disks": "wipe_disks",
    f"{NET}.nics": "macs",
    f"{NET}.method": "address",
    f"{NET}.address": "address",
    f"{NET}.gateway": "gateway",
}
# Always set by a node, whether or not its variables name them.
_NODE_ALWAYS = {"hostname", "mode", "role", "macs"}


def _set(document: dict[str, Any], path: str, value: Any) -> bool:
    """Set the field at the dotted *path*; False (nothing set) when a parent on the way is not
    a mapping: an ``install`` override gave it another type, which the model then reports."""
    parts = path.split(".")
    here = document
    for part in parts[:-1]:
        here = here.setdefault(part, {})
        if not isinstance(here, dict):
            return False
    here[parts[-1]] = value
    return True


def render_member(
    cluster: ClusterVars, member: Member, server_url: str | None
) -> tuple[dict[str, Any], Origins]:
    """The raw document of *member* and where each of its fields came from."""
    origins = Origins()
    document: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "install": {}}
    install = document["install"]
    install.update(FLEET_DEFAULTS)
    for key in FLEET_DEFAULTS:
        origins.set(f"install.{key}", "(fleet default)", exact=True)
    origins.merge(install, cluster.install, "install", f"{CLUSTER_VAR}.install")
    for path, value in _cluster_fields(cluster, member, server_url).items():
        if _set(document, path, value):
            origins.set(path, f"{CLUSTER_VAR}.{_CLUSTER_VARIABLES[path]}")
    origins.merge(install, member.variables.install, "install", f"{NODE_VAR}.install")
    for path, value in _node_fields(member).items():
        if _set(document, path, value):
            origins.set(path, f"{NODE_VAR}.{_NODE_VARIABLES[path]}")
    nics = [{"mac": mac} for mac in member.variables.macs]
    if _set(document, f"{NET}.nics", nics):
        origins.set(f"{NET}.nics", f"{NODE_VAR}.macs")
        for index in range(len(nics)):
            origins.set(f"{NET}.nics[{index}]", f"{NODE_VAR}.macs[{index}]", exact=True)
    return document, origins


def _under(source: str, unreliable: frozenset[str]) -> bool:
    return any(source == bad or source.startswith((bad + ".", bad + "[")) for bad in unreliable)


def _render_problems(
    cluster: ClusterVars,
    members: list[Member],
    server_url: str | None,
    unreliable: frozenset[str],
) -> tuple[dict[str, InstallConfig], list[FleetProblem]]:
    """Each member's validated config, and the problems of those that fail, traced back to
    the inventory; problems traced to an *unreliable* (already reported) variable are dropped."""
    configs: dict[str, InstallConfig] = {}
    # (source, field, message, value) -> hosts: a cluster variable wrong for many nodes, once
    found: dict[tuple[str, str, str, str | None], list[str]] = defaultdict(list)
    unset: set[str] = set()  # sources guessed for a field nothing set
    for member in members:
        document, origins = render_member(cluster, member, server_url)
        config, problems = validate_document(document)
        if config is not None:
            configs[member.name] = config
        own = unreliable | {f"{NODE_VAR}.{name}" for name in member.unchecked}
        for problem in problems:
            source, known = origins.source_of(problem.path)
            if _under(source, own):
                continue
            if not known:
                unset.add(source)
            found[(source, problem.path, problem.message, problem.value)].append(member.name)
    everyone = len(members)
    fleet_problems = []
    for (source, path, message, value), hosts in found.items():
        overrides = source.startswith((NODE_OVERRIDES + ".", NODE_OVERRIDES + "["))
        if source in unset and overrides and len(hosts) == everyone > 1:
            source = f"{CLUSTER_VAR}.install" + source.removeprefix(NODE_OVERRIDES)  # set once
        fleet_problems.append(FleetProblem(source, message, tuple(hosts), path, value))
    return configs, fleet_problems


def _level_clashes(cluster: ClusterVars, members: list[Member]) -> list[FleetProblem]:
    given = cluster.model_fields_set | {"join_wait"}  # it has a default, set on every join
    chosen = {p: v for p, v in _CLUSTER_VARIABLES.items() if v in given}
    problems = list(_clashes(cluster.install, chosen, CLUSTER_VAR, None))
    for member in members:
        given = member.variables.model_fields_set | _NODE_ALWAYS
        chosen = {p: v for p, v in _NODE_VARIABLES.items() if v in given}
        problems += _clashes(member.variables.install, chosen, NODE_VAR, member.name)
    return problems


def _members(hosts: Any) -> tuple[list[Member], list[FleetProblem]]:
    members: list[Member] = []
    problems: list[FleetProblem] = []
    if not isinstance(hosts, Mapping):
        return [], [FleetProblem.of("(hosts)", "is not a mapping of host names to variables")]
    for key, data in hosts.items():
        name = str(key)
        variables, found, bad = _typed(NodeVars, data, NODE_VAR, name)
        problems += found
        if variables is None:
            continue
        hostname, own = _hostname(name, variables, bad)
        if not own and "hostname" not in bad:
            problems.append(_unnamed(name))
        unchecked = bad | ({"hostname"} if not own else set())
        members.append(Member(name, hostname, variables, frozenset(unchecked)))
    if not hosts:
        problems.append(FleetProblem.of("(hosts)", "is empty: the inventory names no node"))
    return members, problems


def _as_join(member: Member) -> Member:
    variables = member.variables.model_copy(update={"mode": "join"})
    return Member(member.name, member.hostname, variables, member.unchecked | {"mode"})


def load_inventory(hosts: Mapping[str, Any], cluster: Any) -> Fleet:
    """A valid Fleet from *hosts* (inventory name -> that host's ``stook_node`` variables) and
    *cluster* (the ``stook_cluster`` variables); FleetError listing every problem otherwise."""
    cluster_vars, problems, cluster_bad = _typed(ClusterVars, cluster, CLUSTER_VAR, None)
    members, found = _members(hosts)
    problems += found
    if cluster_vars is None:
        raise FleetError(problems)
    problems += check_members(cluster_vars, members)
    problems += _level_clashes(cluster_vars, members)
    server_url, found = join_server_url(cluster_vars, members)
    problems += found
    if cluster_vars.server_url is not None:  # a create node was refused above: judge it as join
        members = [_as_join(m) if m.variables.mode == "create" else m for m in members]
    unreliable = {f"{CLUSTER_VAR}.{name}" for name in cluster_bad}
    if found:
        unreliable.add(f"{CLUSTER_VAR}.server_url")
    configs, found = _render_problems(cluster_vars, members, server_url, frozenset(unreliable))
    problems += found
    if problems:
        raise FleetError(problems)
    nodes = {m.name: FleetNode(m.name, m.variables, configs[m.name]) for m in members}
    return Fleet(cluster_vars, nodes)


def render_inventory(hosts: Mapping[str, Any], cluster: Any) -> dict[str, dict[str, Any]]:
    """Each node's InstallConfig document (token included) by inventory name; FleetError
    listing every problem of the inventory when there is any. The Ansible filter's call."""
    return load_inventory(hosts, cluster).documents()
