"""The installer TUI: the pages in order, then the install, then what to do next.

``run_tui`` is what ``stook-installer`` calls on a console. Every answer goes into one
InstallConfig document (see state.py); the engine gets the validated config, the same as the
unattended mode's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding

from stook_core.config import InstallConfig
from stook_core.hardware import Machine
from stook_installer import remote
from stook_installer.tui.cluster import ServerPage, VipPage
from stook_installer.tui.disks import DisksPage
from stook_installer.tui.fields import DnsPage, HostnamePage, NtpPage, ProxyPage, TokenPage
from stook_installer.tui.final import FinalPage
from stook_installer.tui.login import PasswordPage, SshKeysPage
from stook_installer.tui.network import NetworkPage
from stook_installer.tui.page import Page
from stook_installer.tui.progress import ProgressPage
from stook_installer.tui.start import ModePage, RolePage
from stook_installer.tui.state import Wizard, new_document
from stook_installer.tui.summary import SummaryPage

EXIT_INSTALLED, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3

PAGES: tuple[type[Page], ...] = (
    ModePage,
    RolePage,
    DisksPage,
    NetworkPage,
    HostnamePage,
    DnsPage,
    VipPage,
    ServerPage,
    TokenPage,
    NtpPage,
    ProxyPage,
    SshKeysPage,
    PasswordPage,
    SummaryPage,
)

POWER_COMMANDS = {"reboot": ["systemctl", "reboot"], "poweroff": ["systemctl", "poweroff"]}


@dataclass(frozen=True)
class Outcome:
    """How the TUI ended: what the operator chose after the install, and whether it worked."""

    choice: str
    installed: bool


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
        server_check: Callable[[str], None] = remote.check_server,
        key_fetch: Callable[[str], remote.FetchedKeys] = remote.fetch_keys,
        first_page: type[Page] = PAGES[0],
    ) -> None:
        """*first_page* starts later in the flow (the earlier answers must come in the seed)."""
        super().__init__()
        self.first_page = first_page
        self.wizard = wizard
        self.server_check = server_check
        self.key_fetch = key_fetch
        self.installing = False

    def on_mount(self) -> None:
        self.push_screen(self.first_page(self.wizard))

    # --- navigation -----------------------------------------------------------------------------

    def wizard_pages(self) -> list[type[Page]]:
        return [page for page in PAGES if page.applies(self.wizard)]

    def position(self, page: type[Page]) -> tuple[int, int]:
        pages = self.wizard_pages()
        return (pages.index(page) + 1 if page in pages else 0), len(pages)

    def next_page(self, current: Page) -> None:
        pages = self.wizard_pages()
        index = pages.index(type(current)) if type(current) in pages else -1
        if index + 1 < len(pages):
            self.switch_screen(pages[index + 1](self.wizard))

    def previous_page(self, current: Page) -> None:
        pages = self.wizard_pages()
        index = pages.index(type(current)) if type(current) in pages else len(pages)
        if index > 0:
            self.switch_screen(pages[index - 1](self.wizard))

    def start_install(self, config: InstallConfig) -> None:
        self.installing = True
        self.switch_screen(ProgressPage(self.wizard, config))

    def show_final(self, failure: str | None) -> None:
        self.installing = False
        config, _ = self.wizard.validate()
        default = config.install.after_install if config else "reboot"
        self.switch_screen(FinalPage(failure=failure, default=default, dry_run=self.wizard.dry_run))

    def exit_with(self, choice: str, *, installed: bool) -> None:
        self.exit(Outcome(choice, installed))

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
    if outcome is None:
        print("Installer left before installing: nothing was written.")
        return EXIT_CANCELLED
    status = EXIT_INSTALLED if outcome.installed else EXIT_FAILED
    command = POWER_COMMANDS.get(outcome.choice)
    if command is None:
        return status
    if dry_run:
        print(f"Dry run: would run {' '.join(command)} now.")
        return status
    subprocess.run(command, check=False)
    return status
