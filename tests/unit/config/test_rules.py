"""Every validation rule, each with a passing and a failing case.

A case is: start from a valid document, apply changes, and expect either no problems (pass) or
exactly one problem at *path* whose text contains *message* (fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from stook_core.config import validate_document
from stook_core.config.rules import RULES
from support.configs import create_document, ed25519_key, join_document
from support.docpath import DELETE, set_path

NET = "install.management_interface"
LACP = {"mode": "802.3ad"}


@dataclass
class Case:
    rule: str
    changes: dict[str, Any]
    path: str | None = None  # None: the case must pass
    message: str = ""
    base: str = "create"
    id: str = field(default="")

    def document(self) -> dict[str, Any]:
        document = create_document() if self.base == "create" else join_document()
        for path, value in self.changes.items():
            set_path(document, path, value)
        return document


def ok(rule: str, base: str = "create", **changes: Any) -> Case:
    return Case(rule, {k.replace("__", "."): v for k, v in changes.items()}, base=base)


def bad(rule: str, path: str, message: str, base: str = "create", **changes: Any) -> Case:
    return Case(rule, {k.replace("__", "."): v for k, v in changes.items()}, path, message, base)


def c(
    rule: str,
    changes: dict[str, Any],
    path: str | None = None,
    message: str = "",
    base: str = "create",
) -> Case:
    return Case(rule, changes, path, message, base)


FIELD_CASES = [
    c("api-version", {"apiVersion": "stook.io/v1beta1"}),
    c(
        "api-version",
        {"apiVersion": "stook.io/v1alpha1"},
        "apiVersion",
        "must be 'stook.io/v1beta1'",
    ),
    c("kind", {"kind": "Config"}, "kind", "must be 'InstallConfig'"),
    c("unknown-field", {"install.vlan": 3}, "install.vlan", "is not a known field"),
    c("mode", {"install.mode": "crate"}, "install.mode", "must be 'create' or 'join'"),
    c("role", {"install.role": "boss"}, "install.role", "must be 'default', 'management'"),
    c("hostname", {"install.hostname": "node-01"}),
    c("hostname", {"install.hostname": "Node_1"}, "install.hostname", "is not a valid hostname"),
    c("hostname", {"install.hostname": "node1.example.com"}, "install.hostname", "not an FQDN"),
    c("hostname", {"install.hostname": "a" * 64}, "install.hostname", "1-63"),
    c("hostname", {"install.hostname": DELETE}, "install.hostname", "is required"),
    c("password", {"install.password": "short"}, "install.password", "at least 8 characters"),
    c("password", {"install.password": "$y$j9T$abc$def"}, "install.password", "SHA-512 ($6$)"),
    c("password", {"install.password": "<redacted>"}, "install.password", "redaction placeholder"),
    c("ssh-key", {"install.ssh_authorized_keys": [f'from="10.0.0.0/8" {ed25519_key(3)}']}),
    c(
        "ssh-key",
        {"install.ssh_authorized_keys": ["ssh-rsa not-base64"]},
        "install.ssh_authorized_keys[0]",
        "has a key that is not valid base64",
    ),
    c(
        "ssh-key",
        {"install.ssh_authorized_keys": [ed25519_key().replace("ssh-ed25519", "ssh-rsa", 1)]},
        "install.ssh_authorized_keys[0]",
        "says ssh-rsa but its key is of type 'ssh-ed25519'",
    ),
    c("dns", {"install.dns_servers": "1.1.1.1,2606:4700::1111"}),
    c(
        "dns",
        {"install.dns_servers": ["1.1.1.300"]},
        "install.dns_servers[0]",
        "is not an IP address",
    ),
    c("ntp", {"install.ntp_servers": ["10.0.0.1", "time.example.com"]}),
    c(
        "ntp",
        {"install.ntp_servers": ["not a host"]},
        "install.ntp_servers[0]",
        "is not an IP address or DNS name",
    ),
    c(
        "proxy",
        {
            "install.proxy": {
                "http_proxy": "http://user:pw@proxy:3128",
                "no_proxy": "localhost,.svc",
            }
        },
    ),
    c(
        "proxy",
        {"install.proxy": {"http_proxy": "ftp://proxy"}},
        "install.proxy.http_proxy",
        "is not an http:// or https:// proxy URL",
    ),
    c("server-url", {"install.server_url": "10.0.0.5"}, base="join"),
    c(
        "server-url",
        {"install.server_url": "http://10.0.0.5"},
        "install.server_url",
        "must use https://",
        base="join",
    ),
    c(
        "server-url",
        {"install.server_url": "https://10.0.0.5:443"},
        "install.server_url",
        "port 9345",
        base="join",
    ),
    c(
        "server-url",
        {"install.server_url": "https://10.0.0.5/v1"},
        "install.server_url",
        "without path",
        base="join",
    ),
    c(
        "server-url",
        {"install.server_url": "https://"},
        "install.server_url",
        "needs a host",
        base="join",
    ),
    c("token", {"install.token": "!#%&*?@^~"}),
    c("token", {"install.token": "has space"}, "install.token", "printable ASCII without spaces"),
    c("token", {"install.token": "tök"}, "install.token", "printable ASCII"),
    c("token", {"install.token": "<redacted>"}, "install.token", "redaction placeholder"),
    c("token", {"install.token": DELETE}, "install.token", "is required"),
    c("vip", {"install.vip": "192.168.10.300"}, "install.vip.address", "is not an IPv4 address"),
    c("vip", {"install.vip.mode": "arp"}, "install.vip.mode", "must be 'static' or 'dhcp'"),
    c("disk-match", {"install.install_disk": "largest", "install.data_disk": "smallest"}),
    c("disk-match", {"install.install_disk": {}}, "install.install_disk", "needs at least one of"),
    c(
        "disk-match",
        {"install.install_disk": {"path": "sda"}},
        "install.install_disk.path",
        "must start with /dev/",
    ),
    c(
        "disk-match",
        {"install.data_disk": {"size": "biggest"}},
        "install.data_disk.size",
        "must be 'largest' or 'smallest'",
    ),
    c("disk-match", {"install.wipe_disks": [{}]}, "install.wipe_disks[0]", "needs at least one of"),
    c(
        "size",
        {"install.persistent_size": "lots"},
        "install.persistent_size",
        "is not a size",
        base="join",
    ),
    c("nics", {f"{NET}.nics": "eno1,52:54:00:AB:cd:EF"}),
    c("nics", {f"{NET}.nics": []}, f"{NET}.nics", "needs at least one NIC"),
    c("nics", {f"{NET}.nics": DELETE}, f"{NET}.nics", "is required"),
    c(
        "nics",
        {f"{NET}.nics": [{"name": "a-name-far-too-long"}]},
        f"{NET}.nics[0].name",
        "is not an interface name",
    ),
    c(
        "nics",
        {f"{NET}.nics": [{"mac": "zz:00:00:00:00:01"}]},
        f"{NET}.nics[0].mac",
        "is not a MAC address",
    ),
    c("nics", {f"{NET}.nics": [{}]}, f"{NET}.nics[0]", "needs a name or a mac"),
    c("bond", {f"{NET}.bond": {"mode": "802.3ad", "options": {"lacp_rate": "fast"}}}),
    c("bond", {f"{NET}.bond.mode": "lacp"}, f"{NET}.bond.mode", "must be 'balance-rr'"),
    c("bond", {f"{NET}.bond.miimon": -1}, f"{NET}.bond.miimon", "is outside 0-60000"),
    c(
        "bond",
        {f"{NET}.bond.options": {"speed": "fast"}},
        f"{NET}.bond.options.speed",
        "not a bonding option; known options: ad_actor_sys_prio, ad_actor_system",
    ),
    # YAML numbers are taken as they are; an enum also takes the kernel's number for it
    c("bond-option", {f"{NET}.bond": LACP | {"options": {"lacp_rate": 1, "updelay": 200}}}),
    c("bond-option", {f"{NET}.bond.options": {"arp_ip_target": ["192.168.10.1", "10.0.0.1"]}}),
    *[
        c(
            "bond-option",
            {f"{NET}.bond": LACP | {"options": {name: value}}},
            f"{NET}.bond.options.{name}",
            message,
        )
        for name, value, message in [
            (
                "lacp_rat",
                "fast",
                "\"fast\" names 'lacp_rat', not a bonding option (did you mean lacp_rate?)",
            ),
            ("lacp_rate", "medium", "lacp_rate takes slow, fast (or 0, 1)"),
            ("lacp_rate", 2, "2 is not allowed; lacp_rate takes slow, fast"),
            ("xmit_hash_policy", "layer5", "xmit_hash_policy takes layer2, layer3+4, layer2+3"),
            ("xmit_hash_policy", "vlan+srcmac", "systemd-networkd cannot set"),
            ("ad_select", "fastest", "ad_select takes stable, bandwidth, count"),
            ("updelay", -5, "-5 is out of range; updelay takes a whole number >= 0"),
            ("updelay", "soon", "is not a whole number"),
            ("updelay", True, "true is a YAML boolean"),
            ("resend_igmp", 256, "resend_igmp takes a whole number 0-255"),
            ("ad_user_port_key", 1024, "0-1023"),
            ("lp_interval", 0, "lp_interval takes a whole number >= 1"),
            ("arp_ip_target", "10.0.0.1,10.0.0.300", "has '10.0.0.300', not an IPv4 address"),
            ("arp_ip_target", ",".join(f"10.0.0.{i}" for i in range(1, 18)), "has 17 addresses"),
            ("arp_ip_target", "224.0.0.1", "not a unicast address"),
            ("arp_validate", "filter", "systemd-networkd cannot set"),
            ("primary", "eth/0", "is not an interface name"),
            ("ad_actor_system", "02:00:00:00:00", "is not a MAC address"),
            ("miimon", 50, "is set by bond.miimon, not under options"),
            ("mode", "802.3ad", "is set by bond.mode"),
            ("use_carrier", 0, "systemd-networkd cannot set; use_carrier takes 1"),
            ("all_slaves_active", "yes", "all_slaves_active takes 0, 1"),
            ("num_grat_arp", {"a": 1}, "is not a single value"),
        ]
    ],
    c("vlan", {f"{NET}.vlan_id": 4094}),
    c("vlan", {f"{NET}.vlan_id": 5000}, f"{NET}.vlan_id", "5000 is outside 1-4094"),
    c("vlan", {f"{NET}.vlan_id": 0}, f"{NET}.vlan_id", "0 is outside 1-4094"),
    c("vlan", {f"{NET}.vlan_id": "ten"}, f"{NET}.vlan_id", "is not a whole number"),
    c("method", {f"{NET}.method": "manual"}, f"{NET}.method", "must be 'dhcp' or 'static'"),
    c("address", {f"{NET}.address": "192.168.10.11"}, f"{NET}.address", "needs a prefix length"),
    c(
        "address",
        {f"{NET}.address": "192.168.10.300/24"},
        f"{NET}.address",
        "is not an IPv4 address with a prefix",
    ),
    c("gateway", {f"{NET}.gateway": "gw"}, f"{NET}.gateway", "is not an IPv4 address"),
    c("mtu", {f"{NET}.mtu": 0}),
    c("mtu", {f"{NET}.mtu": 9000}),
    c("mtu", {f"{NET}.mtu": 100}, f"{NET}.mtu", "is outside 576-9000"),
    c(
        "cidr",
        {"install.cluster.pod_cidr": "10.52.0.1/16"},
        "install.cluster.pod_cidr",
        "has host bits set; did you mean 10.52.0.0/16?",
    ),
    c(
        "cidr",
        {"install.cluster.service_cidr": "nonsense"},
        "install.cluster.service_cidr",
        "is not an IPv4 network",
    ),
    c("after-install", {"install.after_install": "poweroff"}),
    c(
        "after-install",
        {"install.after_install": "halt"},
        "install.after_install",
        "must be 'reboot' or 'poweroff'",
    ),
    c("bool", {"install.automatic": "true", "install.confirm_erase": "yes"}),
    c("join-check", {"install.join_check": {"api_url": "10.0.0.10", "wait": 600}}, base="join"),
    c(
        "join-check",
        {"install.join_check": {"api_url": "http://10.0.0.10:6443"}},
        "install.join_check.api_url",
        "must use https://",
        base="join",
    ),
    c(
        "join-check",
        {"install.join_check": {"api_url": "https://10.0.0.10:6443/api"}},
        "install.join_check.api_url",
        "without path",
        base="join",
    ),
    c(
        "join-check",
        {"install.join_check": {"wait": 90000}},
        "install.join_check.wait",
        "is outside 0-86400",
        base="join",
    ),
    c(
        "join-check",
        {"install.join_check": {"api_token": "two words"}},
        "install.join_check.api_token",
        "printable ASCII",
        base="join",
    ),
    c("bool", {"install.automatic": "maybe"}, "install.automatic", "is not true or false"),
]

CROSS_CASES = [
    c("join-check-by-mode", {"install.join_check": {"api_token": "abc"}}, base="join"),
    c(
        "join-check-by-mode",
        {"install.join_check": {}},
        "install.join_check",
        "is only used in mode join",
    ),
    c("server-url-by-mode", {}, base="join"),
    c(
        "server-url-by-mode",
        {"install.server_url": DELETE},
        "install.server_url",
        "is required in mode join",
        base="join",
    ),
    c(
        "server-url-by-mode",
        {"install.server_url": "10.0.0.5"},
        "install.server_url",
        "must not be set in mode create",
    ),
    c("vip-by-mode", {}),
    c("vip-by-mode", {"install.vip": DELETE}, "install.vip", "is required in mode create"),
    c(
        "vip-by-mode",
        {"install.vip": "dhcp"},
        "install.vip",
        "must not be set in mode join",
        base="join",
    ),
    c("role-by-mode", {"install.role": "management"}),
    c("role-by-mode", {"install.role": "witness"}, "install.role", "needs mode join"),
    c("login", {"install.password": DELETE}),
    c(
        "login",
        {"install.password": DELETE, "install.ssh_authorized_keys": []},
        "install.password",
        "is required unless",
    ),
    c(
        "nic-unique",
        {f"{NET}.nics": [{"name": "eno1", "mac": "52:54:00:00:00:01"}, {"name": "eno2"}]},
    ),
    c(
        "nic-unique",
        {f"{NET}.nics": ["eno1", "eno2", "eno1"]},
        f"{NET}.nics[2].name",
        "is already listed as nics[0]",
    ),
    c(
        "nic-unique",
        {f"{NET}.nics": ["52:54:00:00:00:01", "52-54-00-00-00-01"]},
        f"{NET}.nics[1].mac",
        "is already listed as nics[0]",
    ),
    c("static-needs-address", {}),
    c(
        "static-needs-address",
        {f"{NET}.address": DELETE},
        f"{NET}.address",
        "is required for method static",
    ),
    c(
        "static-needs-address",
        {f"{NET}.gateway": DELETE},
        f"{NET}.gateway",
        "is required for method static",
    ),
    c(
        "static-needs-address",
        {f"{NET}.address": "10.0.0.2/24"},
        f"{NET}.address",
        "is only used with method static",
        base="join",
    ),
    c(
        "static-needs-dns",
        {"install.dns_servers": []},
        "install.dns_servers",
        "needs at least one server for method static",
    ),
    c("static-needs-dns", {"install.dns_servers": []}, base="join"),
    c("address-is-host", {}),
    c(
        "address-is-host",
        {f"{NET}.address": "192.168.10.0/24"},
        f"{NET}.address",
        "is the network or broadcast address",
    ),
    c(
        "address-is-host",
        {f"{NET}.address": "192.168.10.255/24"},
        f"{NET}.address",
        "is the network or broadcast address",
    ),
    c("gateway-in-subnet", {}),
    c(
        "gateway-in-subnet",
        {f"{NET}.gateway": "192.168.11.1"},
        f"{NET}.gateway",
        "is outside the node's subnet 192.168.10.0/24",
    ),
    c(
        "gateway-in-subnet",
        {f"{NET}.gateway": "192.168.10.11"},
        f"{NET}.gateway",
        "is the node's own address",
    ),
    c("vip-fields", {"install.vip": {"mode": "dhcp", "hw_addr": "52:54:00:00:00:99"}}),
    c(
        "vip-fields",
        {"install.vip": {"mode": "static"}},
        "install.vip.address",
        "is required for a static VIP",
    ),
    c(
        "vip-fields",
        {"install.vip": {"mode": "dhcp", "address": "192.168.10.10"}},
        "install.vip.address",
        "must not be set for a DHCP VIP",
    ),
    c(
        "vip-fields",
        {"install.vip.hw_addr": "52:54:00:00:00:99"},
        "install.vip.hw_addr",
        "is only used with a DHCP VIP",
    ),
    c("vip-placement", {}),
    c(
        "vip-placement",
        {"install.vip": "192.168.10.11"},
        "install.vip.address",
        "is the node's own address",
    ),
    c(
        "vip-placement",
        {"install.vip": "192.168.99.10"},
        "install.vip.address",
        "is outside the node's subnet",
    ),
    c(
        "vip-placement",
        {"install.vip": "192.168.10.255"},
        "install.vip.address",
        "is the network or broadcast address",
    ),
    c(
        "vip-placement",
        {"install.vip": "192.168.10.1"},
        "install.vip.address",
        "is the gateway's address",
    ),
    c(
        "cluster-dns-in-services",
        {"install.cluster": {"service_cidr": "10.96.0.0/12", "dns": "10.96.0.10"}},
    ),
    c(
        "cluster-dns-in-services",
        {"install.cluster.dns": "10.52.0.10"},
        "install.cluster.dns",
        "is outside the service CIDR",
    ),
    c(
        "cidrs-disjoint",
        {"install.cluster.service_cidr": "10.52.128.0/17", "install.cluster.dns": "10.52.128.10"},
        "install.cluster.service_cidr",
        "overlaps the pod CIDR",
    ),
    c(
        "cidrs-disjoint",
        {"install.cluster.pod_cidr": "192.168.10.0/24"},
        f"{NET}.address",
        "has the subnet 192.168.10.0/24, which overlaps the pod CIDR 192.168.10.0/24",
    ),
    # the node IP is outside the service CIDR, but its subnet is not
    c(
        "cidrs-disjoint",
        {
            f"{NET}.address": "192.168.10.11/16",
            "install.cluster.service_cidr": "192.168.200.0/24",
            "install.cluster.dns": "192.168.200.10",
        },
        f"{NET}.address",
        "overlaps the service CIDR 192.168.200.0/24",
    ),
    c(
        "cidrs-disjoint",
        {"install.dns_servers": ["10.52.0.53"]},
        "install.dns_servers[0]",
        "is inside the pod CIDR 10.52.0.0/16",
    ),
    c(
        "cidrs-disjoint",
        {
            f"{NET}.method": "dhcp",
            f"{NET}.address": DELETE,
            f"{NET}.gateway": DELETE,
            "install.vip": "10.53.0.20",
        },
        "install.vip.address",
        "is inside the service CIDR",
    ),
    c(
        "cluster-dns-in-services",
        {"install.cluster.dns": "10.53.0.0"},
        "install.cluster.dns",
        "is the network or broadcast address of the service CIDR",
    ),
    c(
        "cluster-dns-in-services",
        {"install.cluster.dns": "10.53.255.255"},
        "install.cluster.dns",
        "is the network or broadcast address of the service CIDR",
    ),
    c(
        "cluster-dns-in-services",
        {"install.cluster.dns": "10.53.0.1"},
        "install.cluster.dns",
        "which the kubernetes Service takes",
    ),
    c("cluster-cidr-sizes", {"install.cluster.pod_cidr": "10.42.0.0/24"}),
    c(
        "cluster-cidr-sizes",
        {"install.cluster.pod_cidr": "10.52.0.0/25"},
        "install.cluster.pod_cidr",
        "is smaller than /24",
    ),
    c(
        "cluster-cidr-sizes",
        {"install.cluster.service_cidr": "172.0.0.0/11", "install.cluster.dns": "172.0.0.10"},
        "install.cluster.service_cidr",
        "is larger than /12",
    ),
    c(
        "cluster-cidr-sizes",
        {"install.cluster.pod_cidr": "127.0.0.0/16"},
        "install.cluster.pod_cidr",
        "overlaps a loopback address range",
    ),
    c(
        "gateway-in-subnet",
        {f"{NET}.gateway": "192.168.10.255"},
        f"{NET}.gateway",
        "is the network or broadcast address of 192.168.10.0/24",
    ),
    c(
        "gateway-in-subnet",
        {f"{NET}.gateway": "192.168.10.0"},
        f"{NET}.gateway",
        "is the network or broadcast address",
    ),
    c(
        "addresses-unicast",
        {
            f"{NET}.address": "172.16.8.7/12",
            f"{NET}.gateway": "172.16.0.1",
            "install.vip": "172.16.8.6",
            "install.dns_servers": ["172.16.0.1"],
        },
    ),
    c(
        "addresses-unicast",
        {
            f"{NET}.address": "127.0.0.11/24",
            f"{NET}.gateway": "127.0.0.1",
            "install.vip": "127.0.0.10",
            "install.dns_servers": ["127.0.0.1"],
        },
        f"{NET}.address",
        "is a loopback address, not a host address",
    ),
    c(
        "addresses-unicast",
        {
            f"{NET}.method": "dhcp",
            f"{NET}.address": DELETE,
            f"{NET}.gateway": DELETE,
            "install.vip": "169.254.1.10",
        },
        "install.vip.address",
        "is a link-local address",
    ),
    c("bond-options-by-mode", {f"{NET}.bond": LACP | {"options": {"lacp_rate": "fast"}}}),
    c(
        "bond-options-by-mode",
        {f"{NET}.bond.options": {"lacp_rate": "fast"}},
        f"{NET}.bond.options.lacp_rate",
        "is only taken in bond mode 802.3ad (mode is active-backup)",
    ),
    c(
        "bond-options-by-mode",
        {f"{NET}.bond": LACP | {"options": {"primary": "eno1"}}},
        f"{NET}.bond.options.primary",
        "is only taken in bond mode active-backup or balance-tlb or balance-alb",
    ),
    c("bond-primary-port", {f"{NET}.bond.options": {"primary": "eno2"}}),
    c(
        "bond-primary-port",
        {f"{NET}.bond.options": {"primary": "eno3"}},
        f"{NET}.bond.options.primary",
        "is not one of the management NICs (eno1, eno2)",
    ),
    c(
        "bond-monitoring",
        {
            f"{NET}.bond": {
                "miimon": 0,
                "options": {"arp_interval": 100, "arp_ip_target": "192.168.10.1"},
            }
        },
    ),
    c(
        "bond-monitoring",
        {f"{NET}.bond.options": {"arp_interval": 100, "arp_ip_target": "192.168.10.1"}},
        f"{NET}.bond.options.arp_interval",
        "needs bond.miimon: 0",
    ),
    c(
        "bond-monitoring",
        {f"{NET}.bond": {"miimon": 0, "options": {"arp_interval": 100}}},
        f"{NET}.bond.options.arp_interval",
        "needs arp_ip_target",
    ),
    c(
        "bond-monitoring",
        {f"{NET}.bond.options": {"num_grat_arp": 2, "num_unsol_na": 3}},
        f"{NET}.bond.options.num_unsol_na",
        "the kernel has one setting for both",
    ),
    c(
        "bond-monitoring",
        {f"{NET}.bond": {"miimon": 0, "options": {"updelay": 200}}},
        f"{NET}.bond.options.updelay",
        "needs MII monitoring",
    ),
    c("cidrs-disjoint", {"install.cluster.pod_cidr": "10.42.0.0/16"}),
    c("shared-disk-size", {"install.data_disk": DELETE, "install.persistent_size": "100Gi"}),
    c(
        "shared-disk-size",
        {"install.data_disk": DELETE},
        "install.persistent_size",
        "is required when the install disk also holds",
    ),
    c(
        "shared-disk-size",
        {"install.data_disk": {"path": "/dev/sda"}},
        "install.persistent_size",
        "is required when the install disk also holds",
    ),
    c(
        "shared-disk-size",
        {"install.persistent_size": "100Gi"},
        "install.persistent_size",
        "is only used when data shares",
    ),
    c(
        "shared-disk-size",
        {"install.persistent_size": "8Gi"},
        "install.persistent_size",
        "is below the minimum 32Gi",
        base="join",
    ),
    c("wipe-not-install", {"install.wipe_disks": ["/dev/sdc"]}),
    c(
        "wipe-not-install",
        {"install.wipe_disks": ["/dev/sdb"]},
        "install.wipe_disks[0]",
        "wipes anyway",
    ),
]


def _case_id(case: Case) -> str:
    return f"{case.rule}-{'fail' if case.path else 'pass'}-{case.path or ''}"


@pytest.mark.parametrize("case", FIELD_CASES + CROSS_CASES, ids=_case_id)
def test_rule(case: Case) -> None:
    config, problems = validate_document(case.document())
    if case.path is None:
        assert problems == [], [str(p) for p in problems]
        assert config is not None
        return
    assert config is None
    assert [p.path for p in problems] == [case.path], [str(p) for p in problems]
    assert case.message in str(problems[0])


def test_every_cross_field_rule_has_a_passing_and_a_failing_case() -> None:
    for registered in RULES:
        cases = [case for case in CROSS_CASES if case.rule == registered.name]
        assert any(case.path is None for case in cases), f"{registered.name}: no passing case"
        assert any(case.path is not None for case in cases), f"{registered.name}: no failing case"


def test_every_field_rule_has_a_failing_case_and_the_base_documents_pass() -> None:
    for base in (create_document(), join_document()):
        assert validate_document(base)[1] == []
    assert len({case.rule for case in FIELD_CASES if case.path}) == len(
        {case.rule for case in FIELD_CASES}
    )
