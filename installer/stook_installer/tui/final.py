"""After the install (or when leaving without one): reboot, power off, or drop to a shell."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, RadioSet, Static

from stook_installer.tui.page import Chosen
from stook_installer.tui.widgets import chosen, radio_set

CHOICES = (
    ("reboot", "Reboot into the installed node"),
    ("poweroff", "Power off"),
    ("shell", "Exit to a shell"),
)


class FinalPage(Screen[None]):
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+n", "next", "Go", priority=True),
    ]

    def __init__(
        self, *, failure: str | None, default: str, dry_run: bool, left: str | None = None
    ) -> None:
        """*left* says why the operator leaves before installing (then nothing was written)."""
        super().__init__()
        self.failure = failure
        self.left = left
        self.installed = failure is None and left is None
        self.default = default if failure is None else "shell"
        self.dry_run = dry_run

    def compose(self) -> ComposeResult:
        mode = " [dry run]" if self.dry_run else ""
        yield Static(f"Stook installer{mode}  -  finished", id="title", markup=False)
        if self.left is not None:
            text = f"{self.left}\nLeave the installer: nothing was written to any disk."
        elif self.failure is not None:
            text = f"The install failed: {self.failure}"
        elif self.dry_run:
            text = "The dry run finished: no disk was touched. Choose what a real install would do."
        else:
            text = "The node is installed. Remove the install medium before it boots."
        yield Static(text, id="help", markup=False)
        # Only a finished install has a node to reboot into (labels tell what happens).
        choices = CHOICES if self.installed else (("reboot", "Reboot"), *CHOICES[1:])
        yield radio_set(choices, self.default, "after")
        yield Static("", id="status", markup=False)
        with Horizontal(id="buttons"):
            yield Button("Go", id="next", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#after", RadioSet).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next()

    def action_next(self) -> None:
        choice = chosen(self.query_one("#after", RadioSet)) or self.default
        self.post_message(Chosen(choice, installed=self.installed, left=self.left is not None))
