"""The last look before anything is touched: the plan's disks to erase, the config, a confirmation.

The page builds the plan once; the confirmation is a Consent to that very Plan object, which is
what the progress page runs (engine.execute refuses any other).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Button, Checkbox, Label, Static

from stook_core.config import InstallConfig, dump_yaml
from stook_core.problems import ConfigError
from stook_installer.engine.consent import Consent
from stook_installer.engine.plan import Plan, build_plan
from stook_installer.tui.page import Confirmed, Page
from stook_installer.tui.state import describe_problem
from stook_installer.tui.widgets import MarkedCheckbox, note

CONFIRM = "Erase the disks listed above and install"
CONFIRM_DRY = "Go through a dry run (nothing is written)"


def logins(config: InstallConfig) -> str:
    """Who can log in, and how, in plain words."""
    keys = len(config.install.ssh_authorized_keys)
    password = config.install.password is not None
    console = "console and sudo with the password" if password else "no console login"
    ssh = f"SSH with {keys} key(s)" if keys else "no SSH key: no remote login"
    return f"Log in as user stook: {console}; {ssh}."


class SummaryPage(Page):
    heading = "Summary"
    next_label = "Install"
    # Everything: a seed may bring problems in fields no page asks about.
    owns = ("install", "apiVersion", "kind", "(document)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: InstallConfig | None = None
        self.plan: Plan | None = None
        self.plan_problems: list[str] = []

    def next_text(self) -> str:
        return "Dry run" if self.wizard.dry_run else self.next_label  # says what it does

    def form(self) -> ComposeResult:
        config, _problems = self.wizard.validate()
        self.config = config
        if config is None:
            yield note(
                "The answers are not complete: go Back (Esc) and fix the problems below.",
                hint=False,
            )
            return
        try:
            self.plan = build_plan(config, self.wizard.machine, self.wizard.image_path)
        except ConfigError as error:
            self.plan_problems = [describe_problem(p) for p in error.problems]
            yield note("This machine cannot take this install:", hint=False)
            return
        if self.wizard.dry_run:
            yield note("Dry run: nothing will be written to any disk.")
        yield Static("\n".join(self.plan.erase_notice()), id="erase", markup=False)
        for warning in self.plan.warnings:
            yield Static(f"Warning: {describe_problem(warning)}", classes="warning", markup=False)
        yield Static(logins(config), id="logins", markup=False)
        yield Label("The install config (secrets hidden):")
        yield Static(dump_yaml(config), id="yaml", markup=False)

    def below_form(self) -> ComposeResult:
        label = CONFIRM_DRY if self.wizard.dry_run else CONFIRM
        yield MarkedCheckbox(label, id="confirm", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#confirm", Checkbox).display = self.plan is not None
        self.query_one("#form").focus()

    def page_problems(self) -> list[str]:
        return self.plan_problems

    def revalidate(self) -> list[str]:
        problems = super().revalidate()
        confirmed = self.query_one("#confirm", Checkbox).value
        self.query_one("#next", Button).disabled = bool(problems) or not confirmed
        return problems

    async def action_next(self) -> None:
        if self.revalidate() or self.plan is None or self.config is None:
            self.app.bell()
            return
        confirm = self.query_one("#confirm", Checkbox)
        if not confirm.value:
            self.set_status(f"Tick '{confirm.label}' first (Tab to it, then Space).")
            self.app.bell()
            return
        self.post_message(Confirmed(self.plan, Consent.to(self.plan)))
