"""The one table of Linux bonding options: what the kernel accepts, and how systemd-networkd
spells each option (Documentation/networking/bonding.rst; systemd.netdev(5) ``[Bond]``).

Values are kept in the kernel's canonical form (an enum's name even when its number was given,
integers as decimal text, ``arp_ip_target`` comma-separated). Only values both the kernel and
the node's systemd-networkd (252, Debian 12) accept pass: networkd ignores a line it cannot
parse, so the bond would silently come up with the kernel default instead.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

BondMode = Literal[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
]
BOND_MODES: tuple[str, ...] = get_args(BondMode)
ARP_IP_TARGETS_MAX = 16  # BOND_MAX_ARP_TARGETS
INT_MAX = 2**31 - 1
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

Kind = Literal["enum", "int", "ipv4-list", "ifname", "mac"]


class BondOptionError(ValueError):
    """A value the kernel or networkd refuses; the message reads after the value."""


@dataclass(frozen=True)
class BondOption:
    """One kernel bonding option.

    *choices*: an enum's names in the kernel's numbering (index = the number it also takes);
    *unsettable*: kernel values networkd cannot set; *networkd*: the ``[Bond]`` key (None: the
    option is rendered elsewhere, like ``primary`` as the port's ``PrimarySlave=``); *unit*: a
    suffix for networkd's time values; *modes*: the bond modes the kernel takes it in (empty:
    all)."""

    name: str
    kind: Kind
    networkd: str | None
    choices: tuple[str, ...] = ()
    unsettable: frozenset[str] = frozenset()
    low: int = 0
    high: int = INT_MAX
    unit: str = ""
    modes: tuple[str, ...] = ()

    def parse(self, value: object) -> str:
        """The canonical kernel value of *value* (text or a YAML number), or BondOptionError."""
        if isinstance(value, bool):
            raise BondOptionError(f"is a YAML boolean; {self.expects()}")
        if self.kind == "ipv4-list":
            return self._targets(value)
        if isinstance(value, int):
            text = str(value)
        elif isinstance(value, str):
            text = value.strip()
        else:
            raise BondOptionError(f"is not a single value; {self.expects()}")
        if self.kind == "enum":
            return self._choice(text)
        if self.kind == "int":
            return self._int(text)
        if self.kind == "mac":
            mac = text.lower().replace("-", ":")
            if not _MAC.match(mac) or mac == "00:00:00:00:00:00":
                raise BondOptionError(f"is not a MAC address; {self.expects()}")
            return mac
        if not _IFNAME.match(text) or text in (".", ".."):
            raise BondOptionError(f"is not an interface name; {self.expects()}")
        return text

    def expects(self) -> str:
        """What a valid value looks like, for messages and the docs."""
        if self.kind == "enum":
            settable = [c for c in self.choices if c not in self.unsettable]
            numbers = [str(self.choices.index(c)) for c in settable]
            aliases = "" if numbers == settable else f" (or {', '.join(numbers)})"
            return f"{self.name} takes {', '.join(settable)}{aliases}"
        if self.kind == "int":
            high = "" if self.high == INT_MAX else f"-{self.high}"
            bound = f"{self.low}{high}" if high else f">= {self.low}"
            return f"{self.name} takes a whole number {bound}"
        if self.kind == "ipv4-list":
            return f"{self.name} takes 1-{ARP_IP_TARGETS_MAX} IPv4 addresses, comma-separated"
        if self.kind == "mac":
            return f"{self.name} takes a MAC address such as 02:00:00:00:00:01"
        return f"{self.name} takes an interface name (one of the bond's NICs)"

    def _choice(self, text: str) -> str:
        name = self.choices[int(text)] if text.isdigit() and int(text) < len(self.choices) else text
        if name in self.unsettable:
            raise BondOptionError(
                f"is a kernel value the node's systemd-networkd cannot set; {self.expects()}"
            )
        if name not in self.choices:
            raise BondOptionError(f"is not allowed; {self.expects()}")
        return name

    def _int(self, text: str) -> str:
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise BondOptionError(f"is not a whole number; {self.expects()}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise BondOptionError(f"is out of range; {self.expects()}")
        return str(number)

    def _targets(self, value: object) -> str:
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",")]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [str(v).strip() for v in value]
        else:
            raise BondOptionError(f"is not a list of addresses; {self.expects()}")
        if not 1 <= len(items) <= ARP_IP_TARGETS_MAX:
            raise BondOptionError(f"has {len(items)} addresses; {self.expects()}")
        for item in items:
            try:
                address = ipaddress.IPv4Address(item)
            except ValueError:
                raise BondOptionError(f"has {item!r}, not an IPv4 address") from None
            if address.is_unspecified or address.is_multicast or address == _BROADCAST:
                raise BondOptionError(f"has {item}, which is not a unicast address")
        return ",".join(items)

    def networkd_value(self, value: str) -> str:
        """A canonical kernel value as networkd's ``[Bond]`` key takes it."""
        if self.kind == "ipv4-list":
            return " ".join(value.split(","))
        return f"{value}{self.unit}"


_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_AD = ("802.3ad",)
_ARP = ("balance-rr", "active-backup", "balance-xor", "broadcast")  # ARP monitoring
_FLAG = ("0", "1")


def _table(*options: BondOption) -> dict[str, BondOption]:
    return {option.name: option for option in options}


BOND_OPTIONS: Mapping[str, BondOption] = _table(
    BondOption("ad_actor_sys_prio", "int", "AdActorSystemPriority", low=1, high=65535, modes=_AD),
    BondOption("ad_actor_system", "mac", "AdActorSystem", modes=_AD),
    BondOption("ad_select", "enum", "AdSelect", ("stable", "bandwidth", "count"), modes=_AD),
    BondOption("ad_user_port_key", "int", "AdUserPortKey", high=1023, modes=_AD),
    BondOption("all_slaves_active", "enum", "AllSlavesActive", _FLAG),
    BondOption("arp_all_targets", "enum", "ARPAllTargets", ("any", "all")),
    BondOption("arp_interval", "int", "ARPIntervalSec", unit="ms", modes=_ARP),
    BondOption("arp_ip_target", "ipv4-list", "ARPIPTargets"),
    BondOption(
        "arp_validate",
        "enum",
        "ARPValidate",
        ("none", "active", "backup", "all", "filter", "filter_active", "filter_backup"),
        unsettable=frozenset({"filter", "filter_active", "filter_backup"}),
        modes=_ARP,
    ),
    BondOption("downdelay", "int", "DownDelaySec", unit="ms"),
    BondOption("fail_over_mac", "enum", "FailOverMACPolicy", ("none", "active", "follow")),
    BondOption("lacp_rate", "enum", "LACPTransmitRate", ("slow", "fast"), modes=_AD),
    BondOption("lp_interval", "int", "LearnPacketIntervalSec", low=1),
    BondOption("min_links", "int", "MinLinks"),
    BondOption("num_grat_arp", "int", "GratuitousARP", high=255),
    BondOption("num_unsol_na", "int", "GratuitousARP", high=255),
    BondOption("packets_per_slave", "int", "PacketsPerSlave", high=65535, modes=("balance-rr",)),
    BondOption("primary", "ifname", None, modes=("active-backup", "balance-tlb", "balance-alb")),
    BondOption(
        "primary_reselect", "enum", "PrimaryReselectPolicy", ("always", "better", "failure")
    ),
    BondOption("resend_igmp", "int", "ResendIGMP", high=255),
    BondOption(
        "tlb_dynamic_lb",
        "enum",
        "DynamicTransmitLoadBalancing",
        _FLAG,
        modes=("balance-tlb", "balance-alb"),
    ),
    BondOption("updelay", "int", "UpDelaySec", unit="ms"),
    # networkd has no key for use_carrier: only the kernel default (1) can be honoured.
    BondOption("use_carrier", "enum", None, _FLAG, unsettable=frozenset({"0"})),
    BondOption(
        "xmit_hash_policy",
        "enum",
        "TransmitHashPolicy",
        ("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac"),
        unsettable=frozenset({"vlan+srcmac"}),
    ),
)
# Options set by their own fields, not under options.
_OWN_FIELDS = {"mode": "bond.mode", "miimon": "bond.miimon"}


def parse_bond_option(name: str, value: object) -> str:
    """The canonical value of bonding option *name*; BondOptionError naming what is wrong."""
    option = BOND_OPTIONS.get(name)
    if option is None:
        if name in _OWN_FIELDS:
            raise BondOptionError(f"is set by {_OWN_FIELDS[name]}, not under options")
        close = difflib.get_close_matches(name, list(BOND_OPTIONS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        known = ", ".join(BOND_OPTIONS)
        raise BondOptionError(f"names {name!r}, not a bonding option{hint}; known options: {known}")
    return option.parse(value)
