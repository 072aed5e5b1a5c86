"""The install running: a progress bar per step and a scrolling log, fed by the engine's events.

It runs the Plan the summary showed, with the operator's Consent to it, and nothing else.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, ProgressBar, RichLog, Static

from stook_installer.engine.consent import Consent
from stook_installer.engine.events import Event
from stook_installer.engine.join import check_join
from stook_installer.engine.plan import Plan
from stook_installer.engine.runner import InstallFailed, execute
from stook_installer.tui.page import Finished


class StepRow(Horizontal):
    """One step: its name, its bar, and how it ended. Events may arrive before it is mounted."""

    def __init__(self, step: str) -> None:
        super().__init__(classes="step")
        self.step = step
        self.percent = 0.0
        self.state = ""

    def compose(self) -> ComposeResult:
        yield Label(self.step, classes="step-name", markup=False)
        yield ProgressBar(total=100, show_eta=False, classes="step-bar")
        yield Label("", classes="step-state")

    def on_mount(self) -> None:
        self.apply()

    def show(self, event: Event) -> None:
        if event.phase == "progress" and event.fraction is not None:
            self.percent = 100 * event.fraction
        elif event.phase == "finish":
            self.percent, self.state = 100, "done"
        elif event.phase == "fail":
            self.state = "FAILED"
            self.add_class("failed")
        self.apply()

    def apply(self) -> None:
        try:
            bar = self.query_one(ProgressBar)
            state = self.query_one(".step-state", Label)
        except NoMatches:  # not composed yet: on_mount applies it
            return
        bar.update(progress=self.percent)
        state.update(self.state)


class ProgressPage(Screen[None]):
    """Runs the engine in a worker thread; events come back through ``call_from_thread``."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+n", "next", "Continue", priority=True),
    ]

    def __init__(self, plan: Plan, consent: Consent, *, dry_run: bool) -> None:
        super().__init__()
        self.plan, self.consent, self.dry_run = plan, consent, dry_run
        self.rows: dict[str, StepRow] = {}
        self.done = False
        self.failure: str | None = None

    def compose(self) -> ComposeResult:
        mode = " [dry run]" if self.dry_run else ""
        yield Static(f"Stook installer{mode}  -  installing", id="title", markup=False)
        yield VerticalScroll(id="steps")
        yield RichLog(id="log", wrap=True, markup=False, auto_scroll=True)
        doing = (
            "Dry run: going through the steps, nothing is written."
            if self.dry_run
            else "Installing: do not power off the machine."
        )
        yield Static(doing, id="status", markup=False)
        with Horizontal(id="buttons"):
            yield Button("Continue", id="next", variant="primary", compact=True, disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self.run_engine, thread=True, exclusive=True, group="install")

    def run_engine(self) -> None:
        def sink(event: Event) -> None:
            self.app.call_from_thread(self.show, event)

        try:
            if not self.dry_run:  # a joining node checks its cluster before any disk is touched
                check_join(self.plan.config.install, sink)
            execute(self.plan, self.consent, sink, dry_run=self.dry_run)
        except InstallFailed as error:
            self.app.call_from_thread(self.finish, str(error))
        except Exception as error:  # the operator must see it, not a crashed screen
            self.app.call_from_thread(self.finish, f"unexpected {error!r}")
        else:
            self.app.call_from_thread(self.finish, None)

    def show(self, event: Event) -> None:
        row = self.rows.get(event.step)
        if row is None:
            row = self.rows[event.step] = StepRow(event.step)
            steps = self.query_one("#steps", VerticalScroll)
            steps.mount(row)
            steps.scroll_end(animate=False)
        row.show(event)
        mark = {"start": "->", "progress": "  ", "finish": "ok", "fail": "!!"}[event.phase]
        if event.message or event.phase != "progress":
            text = f"{mark} {event.step}" + (f": {event.message}" if event.message else "")
            self.query_one("#log", RichLog).write(text)

    def finish(self, failure: str | None) -> None:
        self.done = True
        self.failure = failure
        if failure is None:
            what = (
                "Dry run finished: nothing was written."
                if self.dry_run
                else ("The node is installed.")
            )
        else:
            what = f"The install failed: {failure}"
            self.query_one("#status").add_class("failed")
        self.query_one("#status", Static).update(f"{what} Press Enter to continue.")
        button = self.query_one("#next", Button)
        button.disabled = False
        button.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next()

    def action_next(self) -> None:
        if self.done:
            self.post_message(Finished(self.failure))
