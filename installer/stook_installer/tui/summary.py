"""The last look before anything is touched: the config, the disks to be erased, a confirmation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Button, Checkbox, Label, Static

from stook_core.config import InstallConfig, dump_yaml
from stook_core.problems import ConfigError
from stook_installer.engine.plan import Plan, build_plan
from stook_installer.tui.page import Page
from stook_installer.tui.state import describe_problem

CONFIRM = "Erase the disks listed above and install"


class SummaryPage(Page):
    heading = "Summary"
    next_label = "Install"
    # Everything: a seed may bring problems in fields no page asks about.
    owns = ("install", "apiVersion", "kind", "(document)")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.config: InstallConfig | None = None
        self.plan: Plan | None = None
        self.plan_problems: list[str] = []

    def form(self) -> ComposeResult:
        config, _problems = self.wizard.validate()
        self.config = config
        if config is None:
            yield Label("The answers are not complete: go Back (Esc) and fix the problems below.")
            return
        try:
            self.plan = build_plan(config, self.wizard.machine, self.wizard.image_path)
        except ConfigError as error:
            self.plan_problems = [describe_problem(p) for p in error.problems]
            yield Label("This machine cannot take this install:")
            return
        if self.wizard.dry_run:
            yield Label("Dry run: nothing will be written to any disk.", classes="hint")
        yield Static("\n".join(self.plan.erase_notice()), id="erase", markup=False)
        for warning in self.plan.warnings:
            yield Static(f"Warning: {describe_problem(warning)}", classes="warning", markup=False)
        yield Label("The install config (secrets hidden):")
        yield Static(dump_yaml(config), id="yaml", markup=False)

    def below_form(self) -> ComposeResult:
        yield Checkbox(CONFIRM, id="confirm", compact=True)

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
        if not self.query_one("#confirm", Checkbox).value:
            self.set_status(f"Tick '{CONFIRM}' first (Tab to it, then Space).")
            self.app.bell()
            return
        self.installer.start_install(self.config)
