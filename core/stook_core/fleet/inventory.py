"""The fleet inventory as typed models: what a whole cluster shares, and what each node adds.

These are the Ansible variables ``stook_cluster`` (group vars) and ``stook_node`` (host vars).
Every field reuses the InstallConfig field's own type (model.py), so a value is checked by the
same rule wherever it is written; ``install`` takes any other InstallConfig ``install.`` field
as it is written there (the cluster's for every node, a node's over the cluster's). The
documents are built in render.py; docs/fleet.md describes the variables.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from stook_core.config.checks import Check, within
from stook_core.config.model import (
    Address,
    AnyAddress,
    AuthorizedKey,
    DiskMatch,
    Host,
    HostInterface,
    Hostname,
    MacAddress,
    PasswordHash,
    ServerUrl,
    Strict,
    Token,
    Vip,
    WholeNumber,
    as_csv_list,
    as_list,
)

CLUSTER_VAR = "stook_cluster"
NODE_VAR = "stook_node"
# In a rack every node PXE-boots at once, and the first node needs minutes before its server
# answers: a joining node waits this long for it by default.
DEFAULT_JOIN_WAIT = 1800


class ClusterVars(Strict):
    """What every node of the cluster shares (``stook_cluster``)."""

    token: Token = Field(description="the cluster's shared secret (ansible-vault it)")
    vip: Vip | None = Field(
        None, description="the cluster VIP, served by the create node; an IP or dhcp"
    )
    server_url: ServerUrl | None = Field(
        None,
        description="an existing cluster's server: then every node joins it; omitted, the "
        "joining nodes use https://<vip>:9345 (or the create node's address)",
    )
    dns_servers: Annotated[list[AnyAddress], BeforeValidator(as_csv_list)] = Field(
        default_factory=list
    )
    ntp_servers: Annotated[list[Host], BeforeValidator(as_csv_list)] = Field(default_factory=list)
    gateway: Address | None = Field(None, description="default gateway of static nodes")
    password: PasswordHash | None = None
    ssh_authorized_keys: Annotated[list[AuthorizedKey], BeforeValidator(as_list)] = Field(
        default_factory=list
    )
    api_token: Token | None = Field(
        None,
        description="a bearer token that may get nodes: joining nodes check with it that their "
        "hostname is not a node yet (install.join_check.api_token)",
    )
    join_wait: Annotated[WholeNumber, within(0, 86400)] = Field(
        DEFAULT_JOIN_WAIT,
        description="seconds a joining node waits for its server to answer before it gives up",
    )
    confirm_erase: bool = Field(
        False,
        description="consent for every node of the inventory to erase the disks it installs to",
    )
    install: dict[str, Any] = Field(
        default_factory=dict, repr=False, description="any other install.* field, for every node"
    )


class NodeVars(Strict):
    """One node (``stook_node``): its identity, NICs, disks and address."""

    hostname: Hostname | None = Field(None, description="default: the inventory host name")
    mode: Literal["create", "join"] = "join"
    role: Literal["default", "management", "worker", "witness"] = "default"
    macs: Annotated[
        list[MacAddress],
        BeforeValidator(as_csv_list),
        Check(lambda v: len(v) > 0, "needs at least one MAC", {"minItems": 1}),
    ] = Field(description="the management NICs' permanent MACs; the PXE server knows it by them")
    address: HostInterface | None = Field(None, description="static a.b.c.d/nn; omitted: DHCP")
    gateway: Address | None = None
    install_disk: DiskMatch | None = None
    data_disk: DiskMatch | None = None
    wipe_disks: Annotated[list[DiskMatch], BeforeValidator(as_csv_list)] | None = None
    install: dict[str, Any] = Field(
        default_factory=dict,
        repr=False,
        description="any other install.* field, over the cluster's",
    )
