"""The management network: NICs (bonded), VLAN, DHCP or a static address, MTU."""

from __future__ import annotations

from typing import Any, get_args

from textual.app import ComposeResult
from textual.widgets import Input, Label, RadioSet, Select, SelectionList

from stook_core.config.model import BondMode
from stook_core.hardware import Nic
from stook_installer.tui.page import Page
from stook_installer.tui.widgets import (
    MarkedSelectionList,
    chosen,
    example,
    note,
    radio_set,
    row,
    text_input,
)

NET = "install.management_interface"
METHODS = (("dhcp", "DHCP"), ("static", "Static address"))


def nic_label(nic: Nic) -> str:
    link = "link up" if nic.link_up else "no link"
    speed = f" {nic.speed_mbps} Mb/s" if nic.speed_mbps else ""
    return f"{nic.name:<10} {nic.mac}  {link}{speed}"


def number_or_text(text: str) -> int | str:
    """Digits become a number; anything else goes to the model as typed (it says what's wrong)."""
    return int(text) if text.isdigit() else text


def refers_to(ref: Any, nic: Nic) -> bool:
    if isinstance(ref, str):
        return ref in (nic.name, nic.mac)
    if isinstance(ref, dict):
        return ref.get("name") in (None, nic.name) and ref.get("mac") in (None, nic.mac)
    return False


class NetworkPage(Page):
    heading = "Management network"
    help_text = "Space marks NICs (several make a bond); Tab moves between fields."
    owns = (NET,)

    def form(self) -> ComposeResult:
        nics = self.wizard.machine.nics
        refs = self.wizard.get(f"{NET}.nics")
        if refs is None:  # a first visit: offer the first NIC with a link
            up = [n for n in nics if n.link_up] or nics
            refs = [{"name": up[0].name}] if up else []
        if not nics:
            yield note("This machine has no network interface.")
        yield Label("NICs:")
        yield MarkedSelectionList(
            *(
                (nic_label(n), n.name, any(refers_to(r, n) for r in refs if r is not None))
                for n in nics
            ),
            id="nics",
            compact=True,
        )
        bond = self.wizard.get(f"{NET}.bond.mode") or "active-backup"
        modes = list(get_args(BondMode))
        yield row(
            "Bond mode",
            Select(
                [(m, m) for m in modes],
                value=bond if bond in modes else "active-backup",
                allow_blank=False,
                id="bond-mode",
                compact=True,
            ),
        )
        yield row("VLAN ID", self.text("vlan_id", "(empty: untagged, no VLAN)", "vlan"))
        yield Label("IPv4:")
        yield radio_set(METHODS, str(self.wizard.get(f"{NET}.method", "dhcp")), "method")
        address = self.text("address", example("192.168.1.10/24"), "address")
        yield row("Address", address, id="address-row")
        yield row(
            "Gateway", self.text("gateway", example("192.168.1.1"), "gateway"), id="gateway-row"
        )
        yield row("MTU", self.text("mtu", "(empty: the default, 1500)", "mtu"))

    def text(self, key: str, placeholder: str, id: str) -> Input:
        value = self.wizard.get(f"{NET}.{key}")
        shown = "" if value is None or (key == "mtu" and value == 0) else str(value)
        return text_input(shown, placeholder, id)

    def value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def store(self) -> None:
        selected = set(self.query_one("#nics", SelectionList).selected)
        nics = [n for n in self.wizard.machine.nics if n.name in selected]
        # An empty list (not a missing key) lets the model say "needs at least one NIC".
        self.wizard.set(f"{NET}.nics", [{"name": n.name, "mac": n.mac} for n in nics], keep=True)
        mode = self.query_one("#bond-mode", Select).value
        self.wizard.set(f"{NET}.bond.mode", None if mode == "active-backup" else mode)
        self.wizard.set(f"{NET}.vlan_id", number_or_text(self.value("vlan")))
        method = chosen(self.query_one("#method", RadioSet))
        self.wizard.set(f"{NET}.method", method)
        static = method == "static"
        for name in ("address", "gateway"):
            self.query_one(f"#{name}-row").display = static
            self.wizard.set(f"{NET}.{name}", self.value(name) if static else None)
        self.wizard.set(f"{NET}.mtu", number_or_text(self.value("mtu")))
