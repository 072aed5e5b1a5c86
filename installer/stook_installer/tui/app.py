"""The installer TUI: the pages (in the order flow.py gives), then the install, then what next.

``run_tui`` is what ``stook-installer`` calls on a console. Every answer goes into one
InstallConfig document (see state.py); the summary builds the Plan once and the engine runs
that Plan with the operator's Consent to it. The app only routes the pages' messages.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from stook_core.hardware import Machine
from stook_installer.tui.final import FinalPage
from stook_installer.tui.flow import FIRST, Flow
from stook_installer.tui.page import (
    Chosen,
    Confirmed,
    Finished,
    GoBack,
    GoNext,
    LeaveInstaller,
    Page,
    Remote,
)
from stook_installer.tui.progress import ProgressPage
from stook_installer.tui.state import Wizard, new_document

EXIT_INSTALLED, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3
MIN_WIDTH, MIN_HEIGHT = 60, 20

POWER_COMMANDS = {"reboot": ["systemctl", "reboot"], "poweroff": ["systemctl", "poweroff"]}


@dataclass(frozen=True)
class Outcome:
    """How the TUI ended: what the operator chose, whether it installed, and whether the
    operator left before installing (nothing written)."""

    choice: str
    installed: bool
    left: bool = False


class TooSmall(Screen[None]):
    """Covers the installer while the terminal is smaller than it needs."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.text = Static("", id="too-small", markup=False)
        self.show(width, height)

    def compose(self) -> ComposeResult:
        yield self.text

    def show(self, width: int, height: int) -> None:
        self.text.update(
            f"This terminal is {width}x{height}: too small for the installer, which needs at "
            f"least {MIN_WIDTH}x{MIN_HEIGHT}. Make the window larger (on a serial console: "
            "stty cols 80 rows 24), or install unattended (stook-installer --config FILE "
            "--automatic). Ctrl+Q quits."
        )


class InstallerApp(App[Outcome]):
    CSS_PATH = "styles.tcss"
    TITLE = "Stook installer"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        wizard: Wizard,
        *,
        remote: Remote | None = None,
        first_page: type[Page] = FIRST,
    ) -> None:
        """*first_page* starts later in the flow (the earlier answers must come in the seed)."""
        super().__init__()
        self.first_page = first_page
        self.wizard = wizard
        self.flow = Flow(wizard, remote or Remote())
        self.installing = False

    def on_mount(self) -> None:
        self.push_screen(self.flow.make(self.first_page))
        self.check_size(self.size.width, self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size.width, event.size.height)

    def check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        top = self.screen
        if small and isinstance(top, TooSmall):
            top.show(width, height)
        elif small:
            self.push_screen(TooSmall(width, height))
        elif isinstance(top, TooSmall):
            self.pop_screen()

    def go(self, screen: Screen[Any]) -> None:
        """Show *screen* in place of the current page, under the too-small cover if it is up
        (a server check or the install may finish while the terminal is small)."""
        if isinstance(self.screen, TooSmall):
            self.pop_screen()
            self.switch_screen(screen)
            self.push_screen(TooSmall(self.size.width, self.size.height))
        else:
            self.switch_screen(screen)

    # --- what the pages say; the flow decides where to go ---------------------------------------

    def on_go_next(self, message: GoNext) -> None:
        following = self.flow.after(message.page)
        if following is not None:
            self.go(self.flow.make(following))

    def on_go_back(self, message: GoBack) -> None:
        previous = self.flow.before(message.page)
        if previous is not None:
            self.go(self.flow.make(previous))

    def on_confirmed(self, message: Confirmed) -> None:
        """Run the plan the summary showed, with the consent given to it."""
        self.installing = True
        self.go(ProgressPage(message.plan, message.consent, dry_run=self.wizard.dry_run))

    def on_finished(self, message: Finished) -> None:
        self.installing = False
        config, _ = self.wizard.validate()
        default = config.install.after_install if config else "reboot"
        final = FinalPage(failure=message.failure, default=default, dry_run=self.wizard.dry_run)
        self.go(final)

    def on_leave_installer(self, message: LeaveInstaller) -> None:
        final = FinalPage(
            failure=None, default="shell", dry_run=self.wizard.dry_run, left=message.reason
        )
        self.go(final)

    def on_chosen(self, message: Chosen) -> None:
        self.exit(Outcome(message.choice, message.installed, message.left))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No quitting half-way through writing the disks."""
        return not (action == "quit" and self.installing)


def run_tui(
    *,
    machine: Machine,
    seed: dict[str, Any] | None,
    dry_run: bool,
    image: Path | None,
) -> int:
    """Ask, install, then reboot / power off / return to a shell. Returns the exit status."""
    wizard = Wizard(machine, dry_run=dry_run, image=image, document=new_document(seed))
    outcome = InstallerApp(wizard).run()
    if outcome is None or outcome.left:
        print("Installer left before installing: nothing was written.")
    if outcome is None:
        return EXIT_CANCELLED
    status = (
        EXIT_CANCELLED if outcome.left else EXIT_INSTALLED if outcome.installed else EXIT_FAILED
    )
    command = POWER_COMMANDS.get(outcome.choice)
    if command is None:
        return status
    if dry_run:
        print(f"Dry run: would run {' '.join(command)} now.")
        return status
    subprocess.run(command, check=False)
    return status
