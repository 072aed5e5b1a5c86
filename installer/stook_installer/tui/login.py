"""How the operator logs in to the node: as the admin user ``stook``, over SSH with keys only
(fetched from a URL or pasted), on the console and for sudo with the password."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Static, TextArea

from stook_installer.remote import RemoteError
from stook_installer.tui.page import Page
from stook_installer.tui.widgets import example, row, text_input

KEYS = "install.ssh_authorized_keys"
PASSWORD = "install.password"


def key_lines(text: str) -> list[str]:
    """The key lines of pasted text: blank lines and # comments are not keys."""
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


class SshKeysPage(Page):
    heading = "SSH keys"
    help_text = (
        "SSH keys of the admin user 'stook' (SSH takes keys only, never a password; root "
        "cannot log in over SSH). Fetch them from a URL or paste them, one per line. "
        "Without a key the node takes no remote login: only the console."
    )
    owns: ClassVar[tuple[str, ...]] = (KEYS,)

    def form(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("Keys URL", classes="label")
            yield text_input("", example("https://github.com/you.keys"), "keys-url")
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
            fetched = await asyncio.to_thread(self.context.remote.fetch_keys, url)
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
    help_text = (
        "The password of the admin user 'stook', for the console and for sudo. SSH never "
        "accepts it (keys only)."
    )
    owns = (PASSWORD,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A password given before (the seed's, often a $6$ hash, or one typed on an earlier
        # visit) is kept unless a new one is typed.
        self.given = self.wizard.get(PASSWORD)

    def form(self) -> ComposeResult:
        yield row("Password", text_input("", "", "password", password=True))
        yield row("Again", text_input("", "", "confirm", password=True))
        yield Static(self.what_it_means(), id="meaning", classes="hint", markup=False)

    def what_it_means(self) -> str:
        if not self.given:
            lead = ""
        elif self.given == self.wizard.seeded_password:
            lead = "A password came with the install config; leave empty to keep it. "
        else:
            lead = "A password was typed before; leave empty to keep it. "
        if self.wizard.get(KEYS):
            return lead + (
                "Optional with an SSH key: without a password, stook cannot log in on the "
                "console and sudo asks for none."
            )
        return lead + (
            "No SSH key was given: this node takes no remote login; this password on the "
            "console is the only way in."
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
