"""The widgets and helpers every page shares.

The choice widgets draw their state as text, not only as colour, so that a monochrome console
(a serial line, NO_COLOR) shows it too: ``(*)``/``( )`` for radio buttons, ``[x]``/``[ ]`` for
check boxes and list entries, and ``>`` on the entry the cursor is on.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.containers import Horizontal
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import (
    Checkbox,
    Input,
    Label,
    OptionList,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
)

CURSOR, NO_CURSOR = "> ", "  "


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


def row(label: str, widget: Widget, id: str | None = None) -> Horizontal:
    """A labelled form line."""
    return Horizontal(Label(label, classes="label"), widget, classes="row", id=id)


def example(text: str) -> str:
    """A placeholder that cannot be mistaken for a typed value (it is also dimmed)."""
    return f"e.g. {text}"


def note(text: str, *, hint: bool = True, id: str | None = None) -> Static:
    """A line of text that wraps on a narrow terminal (a Label would be cut off)."""
    return Static(text, id=id, classes="hint" if hint else None, markup=False)


def text_input(value: str, placeholder: str, id: str, *, password: bool = False) -> Input:
    return Input(value, placeholder=placeholder, password=password, id=id, compact=True)


# --- choices drawn as text ------------------------------------------------------------------------


class MarkedRadioButton(RadioButton):
    """``(*)`` when chosen, ``( )`` when not; ``>`` while the cursor of a focused set is on it."""

    @property
    def _button(self) -> Content:
        set_focused = isinstance(self.parent, RadioSet) and self.parent.has_focus
        cursor = CURSOR if set_focused and self.has_class("-selected") else NO_CURSOR
        mark = "(*)" if self.value else "( )"
        return Content.assemble(cursor, (mark, self.get_visual_style("toggle--button")))


class MarkedRadioSet(RadioSet):
    """A RadioSet of MarkedRadioButtons; the cursor mark follows focus and the arrow keys."""

    def _redraw(self) -> None:
        for button in self.query(MarkedRadioButton):
            button.refresh(layout=True)

    def on_focus(self) -> None:
        self._redraw()

    def on_blur(self) -> None:
        self._redraw()

    def watch__selected(self) -> None:
        super().watch__selected()
        self._redraw()


def radio_set(choices: tuple[tuple[str, str], ...], current: str, id: str) -> RadioSet:
    return MarkedRadioSet(
        *(MarkedRadioButton(label, value=value == current, name=value) for value, label in choices),
        id=id,
        compact=True,
    )


def chosen(radios: RadioSet) -> str | None:
    button = radios.pressed_button
    return button.name if button is not None else None


class MarkedCheckbox(Checkbox):
    """``[x]`` when ticked, ``[ ]`` when not."""

    @property
    def _button(self) -> Content:
        mark = "[x]" if self.value else "[ ]"
        return Content.assemble((mark, self.get_visual_style("toggle--button")))


class MarkedSelectionList(SelectionList[str]):
    """Each entry starts ``[x]`` (marked) or ``[ ]``, and ``>`` where the cursor is."""

    def _get_left_gutter_width(self) -> int:
        return len(CURSOR) + len("[x] ")

    def render_line(self, y: int) -> Strip:
        line: Strip = OptionList.render_line(self, y)
        index = self.scroll_offset.y + y
        if index >= self.option_count:
            return line
        value = self.get_option_at_index(index).value
        style = next(iter(line)).style or self.rich_style
        cursor = CURSOR if self.has_focus and self.highlighted == index else NO_CURSOR
        mark = "[x] " if value in self.selected else "[ ] "
        return Strip([Segment(cursor + mark, style), *line])

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
