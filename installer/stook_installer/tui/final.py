"""After the install: reboot into the node, power off, or drop to a shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, RadioSet, Static

from stook_installer.tui.start import chosen, radio_set

if TYPE_CHECKING:
    from stook_installer.tui.app import InstallerApp

CHOICES = (
    ("reboot", "Reboot into the installed node"),
    ("poweroff", "Power off"),
    ("shell", "Exit to a shell"),
)


class FinalPage(Screen[None]):
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+n", "next", "Go", priority=True),
    ]

    def __init__(self, *, failure: str | None, default: str, dry_run: bool) -> None:
        super().__init__()
        self.failure = failure
        self.installed = failure is None
        self.default = default if self.installed else "shell"
        self.dry_run = dry_run

    def compose(self) -> ComposeResult:
        mode = " [dry run]" if self.dry_run else ""
        yield Static(f"Stook installer{mode}  -  finished", id="title", markup=False)
        if not self.installed:
            text = f"The install failed: {self.failure}"
        elif self.dry_run:
            text = "The dry run finished: no disk was touched. Choose what a real install would do."
        else:
            text = "The node is installed. Remove the install medium before it boots."
        yield Static(text, id="help", markup=False)
        yield radio_set(CHOICES, self.default, "after")
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
        self.installer.exit_with(choice, installed=self.installed)

    @property
    def installer(self) -> InstallerApp:
        from stook_installer.tui.app import InstallerApp

        assert isinstance(self.app, InstallerApp)
        return self.app
