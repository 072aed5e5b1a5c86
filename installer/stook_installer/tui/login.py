"""How the operator logs in to the node: SSH keys (fetched from a URL or pasted) and a password."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, TextArea

from stook_installer.remote import RemoteError
from stook_installer.tui.fields import row
from stook_installer.tui.page import Page

KEYS = "install.ssh_authorized_keys"
PASSWORD = "install.password"


def key_lines(text: str) -> list[str]:
    """The key lines of pasted text: blank lines and # comments are not keys."""
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


class SshKeysPage(Page):
    heading = "SSH keys"
    help_text = (
        "Keys that may log in as root, one per line. Fetch them from a URL (for example "
        "https://github.com/USER.keys) or paste them. Optional if you set a password."
    )
    owns: ClassVar[tuple[str, ...]] = (KEYS,)

    def form(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("Keys URL", classes="label")
            yield Input(placeholder="https://github.com/USER.keys", id="keys-url", compact=True)
            yield Button("Fetch", id="fetch", compact=True)
        keys = self.wizard.get(KEYS, [])
        text = "\n".join(keys) if isinstance(keys, list) else str(keys)
        yield Label("Keys, one per line:")
        yield TextArea(text, id="keys", soft_wrap=True)

    def store(self) -> None:
        self.wizard.set(KEYS, key_lines(self.query_one("#keys", TextArea).text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "keys-url":
            self.fetch()
        else:
            super().on_input_submitted(event)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "fetch":
            self.fetch()
            return
        await super().on_button_pressed(event)

    def fetch(self) -> None:
        url = self.query_one("#keys-url", Input).value.strip()
        if not url:
            self.set_status("Type the URL of a key list first.")
            return
        self.busy = True
        self.revalidate()
        self.set_status(f"Fetching {url} ...")
        self.run_worker(self.download(url), exclusive=True, group="fetch-keys")

    async def download(self, url: str) -> None:
        try:
            fetched = await asyncio.to_thread(self.installer.key_fetch, url)
        except RemoteError as error:
            self.set_status(f"No keys fetched: {error}")
            self.app.bell()
        else:
            area = self.query_one("#keys", TextArea)
            present = key_lines(area.text)
            new = [key for key in fetched.keys if key not in present]
            area.load_text("\n".join([*present, *new]))
            status = f"Added {len(new)} key(s) from {url}."
            if fetched.rejected:
                bad = "; ".join(f"line {n}: {msg}" for n, _line, msg in fetched.rejected[:3])
                status += f" {len(fetched.rejected)} line(s) were not keys and were left out: {bad}"
            self.set_status(status)
        finally:
            self.busy = False
            self.revalidate()


class PasswordPage(Page):
    heading = "Password"
    help_text = "The root password of the node (console and SSH). Optional if you gave SSH keys."
    owns = (PASSWORD,)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # A password from a seed config (often a $6$ hash) is kept unless a new one is typed.
        self.given = self.wizard.get(PASSWORD)

    def form(self) -> ComposeResult:
        yield row("Password", Input(password=True, id="password", compact=True))
        yield row("Again", Input(password=True, id="confirm", compact=True))
        if self.given:
            yield Label(
                "A password came with the install config; leave empty to keep it.", classes="hint"
            )

    def typed(self) -> tuple[str, str]:
        return (
            self.query_one("#password", Input).value,
            self.query_one("#confirm", Input).value,
        )

    def store(self) -> None:
        password, _confirm = self.typed()
        self.wizard.set(PASSWORD, password or self.given)

    def page_problems(self) -> list[str]:
        password, confirm = self.typed()
        if password and password != confirm:
            return ["The two passwords differ: type the same password twice."]
        return []
