"""The frame every wizard page shares: title, form, the model's problems inline, Back and Next.

A page writes its widgets into the wizard's document on every change (``store``), then shows the
problems the model reports for the field paths the page owns (``paths``). Next stays disabled
while there are any; Next is also refused (not just greyed out) by ``action_next``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget
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

from stook_installer.tui.state import Wizard, describe_problem

if TYPE_CHECKING:
    from stook_installer.tui.app import InstallerApp


def split_list(text: str) -> list[str]:
    """``a, b c`` -> ``[a, b, c]``: lists are typed separated by commas or spaces."""
    return [word for word in text.replace(",", " ").split() if word]


def shown(widget: Widget) -> bool:
    """True when neither the widget nor a container around it is hidden."""
    node: DOMNode | None = widget
    while isinstance(node, Widget) and not isinstance(node, Screen):
        if not node.display:
            return False
        node = node.parent
    return True


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

    def __init__(self, wizard: Wizard) -> None:
        super().__init__()
        self.wizard = wizard
        self.problems: list[str] = []
        self.busy = False

    @classmethod
    def applies(cls, wizard: Wizard) -> bool:
        """False for pages the current answers skip (role when creating, VIP when joining)."""
        return True

    @property
    def installer(self) -> InstallerApp:
        from stook_installer.tui.app import InstallerApp

        assert isinstance(self.app, InstallerApp)
        return self.app

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
            yield Button(self.next_label, id="next", variant="primary", compact=True)
        yield Footer()

    def title_line(self) -> str:
        number, total = self.installer.position(type(self))
        mode = " [dry run]" if self.wizard.dry_run else ""
        return f"Stook installer{mode}  -  step {number} of {total}: {self.heading}"

    def form(self) -> ComposeResult:
        yield from ()

    def below_form(self) -> ComposeResult:
        """Widgets that stay visible under the scrolling form (a confirmation)."""
        yield from ()

    def on_mount(self) -> None:
        self.revalidate()
        self.query_one("#back", Button).display = self.installer.position(type(self))[0] > 1
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
        found = self.wizard.problems_for(self.paths())
        extra = self.page_problems()
        shown = [describe_problem(p) for p in found] + extra
        self.problems = [describe_problem(p) for p in found if p.severity == "error"] + extra
        problems = self.query_one("#problems", Static)
        problems.update("\n".join(shown))
        problems.display = bool(shown)
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
            self.installer.next_page(self)

    async def before_next(self) -> bool:
        """A last check before leaving (the join server answers); False stays on the page."""
        return True

    def action_back(self) -> None:
        if not self.busy:
            self.store()
            self.installer.previous_page(self)
