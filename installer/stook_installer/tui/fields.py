"""Pages that are a few text fields: hostname, DNS, NTP, proxy, token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input

from stook_installer.tui.page import Page
from stook_installer.tui.widgets import MarkedCheckbox, example, note, row, split_list, text_input


@dataclass(frozen=True)
class TextField:
    path: str
    label: str
    placeholder: str = ""  # shown as "e.g. ..." (an example) unless it starts with "("
    is_list: bool = False
    secret: bool = False

    @property
    def hint(self) -> str:
        return self.placeholder if self.placeholder.startswith("(") else example(self.placeholder)

    @property
    def id(self) -> str:
        return self.path.replace(".", "-")


class FieldsPage(Page):
    fields: ClassVar[tuple[TextField, ...]] = ()

    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.fields)

    def form(self) -> ComposeResult:
        for field in self.fields:
            current = self.wizard.get(field.path)
            if isinstance(current, list):
                text = ", ".join(str(v) for v in current)
            else:
                text = "" if current is None else str(current)
            yield row(field.label, text_input(text, field.hint, field.id, password=field.secret))

    def store(self) -> None:
        for field in self.fields:
            text = self.query_one(f"#{field.id}", Input).value.strip()
            self.wizard.set(field.path, split_list(text) if field.is_list else text)


class HostnamePage(FieldsPage):
    heading = "Hostname"
    help_text = "The node's name in the cluster: lowercase letters, digits and '-', no dots."
    fields = (TextField("install.hostname", "Hostname", "node1"),)


class DnsPage(FieldsPage):
    heading = "DNS servers"
    help_text = (
        "Name servers, separated by commas or spaces. Optional with DHCP (it provides them), "
        "required with a static address."
    )
    fields = (TextField("install.dns_servers", "DNS servers", "192.0.2.53, 192.0.2.54", True),)


class NtpPage(FieldsPage):
    heading = "NTP servers"
    help_text = "Time servers (names or addresses), separated by commas or spaces. Optional."
    fields = (TextField("install.ntp_servers", "NTP servers", "0.pool.ntp.org", True),)


class ProxyPage(FieldsPage):
    heading = "Proxy"
    help_text = "An HTTP proxy for pulling images and updates. Leave empty for a direct connection."
    fields = (
        TextField("install.proxy.http_proxy", "HTTP proxy", "http://proxy.example:3128"),
        TextField("install.proxy.https_proxy", "HTTPS proxy", "http://proxy.example:3128"),
        TextField("install.proxy.no_proxy", "No proxy for", "localhost, 10.0.0.0/8", True),
    )


class TokenPage(FieldsPage):
    heading = "Cluster token"
    fields = (TextField("install.token", "Token", "(the cluster's shared secret)", secret=True),)

    def form(self) -> ComposeResult:
        if self.wizard.mode == "create":
            text = "The shared secret other nodes need to join this cluster. Keep a copy."
        else:
            text = "The token of the cluster to join (on a server: the install config's token)."
        yield note(text)
        yield from super().form()
        with Horizontal(classes="row"):
            yield MarkedCheckbox("Show the token", id="show", compact=True)
            if self.wizard.mode == "create":
                yield Button("Generate one", id="generate", compact=True)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#install-token", Input).password = not event.value

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "generate":
            self.query_one("#install-token", Input).value = secrets.token_hex(24)
            self.query_one("#show", Checkbox).value = True
            return
        await super().on_button_pressed(event)
