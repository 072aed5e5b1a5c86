"""The frame every wizard page shares: title, form, the model's problems inline, Back and Next.

A page writes its widgets into the wizard's document on every change (``store``), then shows the
problems the model reports for the field paths the page owns (``paths``). Next stays disabled
while there are any; Next is also refused (not just greyed out) by ``action_next``.

Pages are leaves: they know neither the app nor each other. A page says what happened with a
message (``GoNext``, ``GoBack``, ...) and the app, through the flow (flow.py), decides what
comes next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    RadioSet,
    Select,
    SelectionList,
    Static,
    TextArea,
)

from stook_installer import remote
from stook_installer.engine.consent import Consent
from stook_installer.engine.plan import Plan
from stook_installer.tui.state import Wizard, describe_problem
from stook_installer.tui.widgets import shown

# --- what a page tells the app ------------------------------------------------------------------


@dataclass
class GoNext(Message):
    """The page's answers are complete: go to the next page of the flow."""

    page: type[Page]


@dataclass
class GoBack(Message):
    page: type[Page]


@dataclass
class Confirmed(Message):
    """The operator confirmed *plan* as shown: run exactly it, with *consent*."""

    plan: Plan
    consent: Consent


@dataclass
class Finished(Message):
    """The install ended (``failure`` None when it worked)."""

    failure: str | None


@dataclass
class LeaveInstaller(Message):
    """Leave the installer before installing (no usable disk): *reason* says why."""

    reason: str


@dataclass
class Chosen(Message):
    """What to do at the end: reboot, poweroff or shell; *left* when nothing was installed."""

    choice: str
    installed: bool
    left: bool = False


# --- what a page gets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    """The network checks some pages make (replaceable in tests by local servers)."""

    check_server: Callable[[str, str], tuple[str, ...]] = remote.check_server
    fetch_keys: Callable[[str], remote.FetchedKeys] = remote.fetch_keys


def _first_of_one(_page: type[Page]) -> tuple[int, int]:
    return 1, 1


@dataclass(frozen=True)
class Context:
    """The answers, the remote checks, and where a page stands in the flow (asked afresh, as
    an answer such as the mode changes the number of pages)."""

    wizard: Wizard
    remote: Remote = field(default_factory=Remote)
    position: Callable[[type[Page]], tuple[int, int]] = _first_of_one


class Page(Screen[None]):
    """One step of the wizard. Subclasses fill in ``form``, ``store`` and ``owns``."""

    heading: ClassVar[str] = ""
    help_text: ClassVar[str] = ""
    owns: ClassVar[tuple[str, ...]] = ()
    next_label: ClassVar[str] = "Next"

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.wizard = context.wizard
        self.problems: list[str] = []
        self.busy = False

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self.title_line(), id="title", markup=False)
        if self.help_text:
            yield Static(self.help_text, id="help", markup=False)
        with VerticalScroll(id="form"):
            yield from self.form()
        yield from self.below_form()
        yield Static("", id="status", markup=False)
        yield Static("", id="problems", markup=False)
        with Horizontal(id="buttons"):
            yield Button("Back", id="back", compact=True)
            yield Button(self.next_text(), id="next", variant="primary", compact=True)
        yield Footer()

    def title_line(self) -> str:
        number, total = self.context.position(type(self))
        mode = " [dry run]" if self.wizard.dry_run else ""
        return f"Stook installer{mode}  -  step {number} of {total}: {self.heading}"

    def next_text(self) -> str:
        return self.next_label

    def form(self) -> ComposeResult:
        yield from ()

    def below_form(self) -> ComposeResult:
        """Widgets that stay visible under the scrolling form (a confirmation)."""
        yield from ()

    def on_mount(self) -> None:
        self.revalidate()
        first = next((w for w in self.query("#form *") if w.focusable), None)
        if first is not None:
            first.focus()

    # --- answers and problems -------------------------------------------------------------------

    def store(self) -> None:
        """Write the widgets' values into the wizard's document."""

    def paths(self) -> tuple[str, ...]:
        return self.owns

    def page_problems(self) -> list[str]:
        """Checks that are not config rules (a confirmation field matching), as lines."""
        return []

    def revalidate(self) -> list[str]:
        self.store()
        # The answers may change what the title says (the mode changes the number of steps).
        self.query_one("#title", Static).update(self.title_line())
        self.query_one("#back", Button).display = self.context.position(type(self))[0] > 1
        found = self.wizard.problems_for(self.paths())
        extra = self.page_problems()
        lines = [describe_problem(p) for p in found] + extra
        self.problems = [describe_problem(p) for p in found if p.severity == "error"] + extra
        problems = self.query_one("#problems", Static)
        problems.update("\n".join(lines))
        problems.display = bool(lines)
        problems.set_class(not self.problems, "warnings")
        self.query_one("#next", Button).disabled = bool(self.problems) or self.busy
        return self.problems

    def set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def changed(self) -> None:
        if self.is_mounted:
            self.revalidate()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.changed()

    def on_radio_set_changed(self, _event: RadioSet.Changed) -> None:
        self.changed()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.changed()

    def on_selection_list_selected_changed(
        self, _event: SelectionList.SelectedChanged[str]
    ) -> None:
        self.changed()

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self.changed()

    def on_text_area_changed(self, _event: TextArea.Changed) -> None:
        self.changed()

    # --- navigation -----------------------------------------------------------------------------

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Enter in a field moves to the next field; in the last field it means Next."""
        inputs = [w for w in self.query("#form Input") if shown(w) and not w.disabled]
        if inputs and self.focused is not inputs[-1]:
            self.focus_next()
        else:
            self.run_worker(self.action_next(), exclusive=True, group="next")

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            await self.action_next()
        elif event.button.id == "back":
            self.action_back()

    async def action_next(self) -> None:
        if self.busy or self.revalidate():
            self.app.bell()
            return
        if await self.before_next():
            self.post_message(GoNext(type(self)))

    async def before_next(self) -> bool:
        """A last check before leaving (the join server answers); False stays on the page."""
        return True

    def action_back(self) -> None:
        if not self.busy:
            self.store()
            self.post_message(GoBack(type(self)))
