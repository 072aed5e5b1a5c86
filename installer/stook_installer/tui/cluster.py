"""The cluster's address: a VIP when creating, the server to join (checked first) when joining."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import TypeAdapter
from textual.app import ComposeResult
from textual.widgets import Input, RadioSet

from stook_core.config.model import ServerUrl, expand_vip
from stook_installer.remote import RemoteError
from stook_installer.tui.page import GoNext, Page
from stook_installer.tui.widgets import chosen, example, note, radio_set, row, text_input

_SERVER_URL = TypeAdapter(ServerUrl)
VIP_MODES = (("static", "A fixed address"), ("dhcp", "An address from DHCP"))


class VipPage(Page):
    heading = "Cluster address (VIP)"
    help_text = (
        "The virtual IP the cluster answers on; it moves between management nodes. "
        "Not the node's own address."
    )
    owns = ("install.vip",)

    def form(self) -> ComposeResult:
        vip: Any = expand_vip(self.wizard.get("install.vip"))  # a seed may use the shorthand
        vip = vip if isinstance(vip, dict) else {}
        yield radio_set(VIP_MODES, str(vip.get("mode", "static")), "vip-mode")
        address = str(vip.get("address") or "")
        yield row(
            "VIP address",
            text_input(address, example("192.168.1.5"), "vip-address"),
            id="address-row",
        )
        hw_addr = str(vip.get("hw_addr") or "")
        yield row(
            "MAC for DHCP",
            text_input(hw_addr, example("52:54:00:12:34:56 (optional)"), "vip-hw-addr"),
            id="hw-addr-row",
        )

    def store(self) -> None:
        mode = chosen(self.query_one("#vip-mode", RadioSet))
        static = mode == "static"
        self.query_one("#address-row").display = static
        self.query_one("#hw-addr-row").display = not static
        address = self.query_one("#vip-address", Input).value.strip()
        hw_addr = self.query_one("#vip-hw-addr", Input).value.strip()
        vip: dict[str, str] = {"mode": mode} if mode else {}
        if static and address:
            vip["address"] = address
        if not static and hw_addr:
            vip["hw_addr"] = hw_addr
        self.wizard.set("install.vip", vip, keep=True)


class ServerPage(Page):
    heading = "Server to join"
    help_text = (
        "The address of a management node (or the VIP) of the cluster. Next checks that its "
        "RKE2 supervisor answers on port 9345 with the cluster CA the token names."
    )
    owns = ("install.server_url",)
    trusted: tuple[str, tuple[str, ...]] | None = None  # a warning Next was pressed again on

    def form(self) -> ComposeResult:
        url = str(self.wizard.get("install.server_url") or "")
        yield row("Server URL", text_input(url, example("https://192.168.1.5:9345"), "server-url"))
        yield note("A bare host name or address is fine: https:// and :9345 are added.")

    def store(self) -> None:
        self.wizard.set("install.server_url", self.query_one("#server-url", Input).value.strip())

    async def action_next(self) -> None:
        if self.busy or self.revalidate():
            self.app.bell()
            return
        url = self.normalized_url()
        self.busy = True
        self.revalidate()
        self.set_status(f"Checking that {url} answers ...")
        token = str(self.wizard.get("install.token") or "")
        self.run_worker(self.check(url, token), exclusive=True, group="server-check")

    def normalized_url(self) -> str:
        """The server URL as the model normalises it (the rest of the config may be unfinished)."""
        return _SERVER_URL.validate_python(self.wizard.get("install.server_url"))

    async def check(self, url: str, token: str) -> None:
        try:
            warnings = await asyncio.to_thread(self.context.remote.check_server, url, token)
        except RemoteError as error:
            self.set_status(f"The server did not answer as expected: {error}")
            self.app.bell()
        else:
            if warnings and self.trusted != (url, warnings):
                self.trusted = (url, warnings)  # the same answer again: the operator accepts it
                self.set_status(f"Warning: {'; '.join(warnings)}. Next again trusts it.")
                self.app.bell()
                return
            self.set_status("")
            self.post_message(GoNext(type(self)))
        finally:
            self.busy = False
            if self.is_mounted:
                self.revalidate()
