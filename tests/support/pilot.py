"""Keyboard helpers for the TUI's pilot tests: fill a field, choose a radio button, go on, and
check that a page blocks or goes on."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, RadioSet, Static

P = Pilot[Any]


async def type_text(pilot: P, text: str) -> None:
    await pilot.press(*text)
    await pilot.pause()


async def fill(pilot: P, selector: str, text: str) -> None:
    """Focus the field (which selects its text) and paste *text* over it, as a terminal pastes;
    an empty *text* is a Backspace. (Typing key by key works too, see type_text, but each
    key costs the pilot a round trip.)"""
    screen = pilot.app.screen
    field = screen.query_one(selector, Input)
    screen.set_focus(None)
    field.focus()
    await pilot.pause()
    if text:
        field.post_message(events.Paste(text))
    else:
        await pilot.press("backspace")
    await pilot.pause()
    assert field.value == text


async def choose(pilot: P, selector: str, index: int) -> None:
    """Pick the *index*-th radio button with the arrow keys and Enter."""
    radios = pilot.app.screen.query_one(selector, RadioSet)
    radios.focus()
    await pilot.pause()
    await pilot.press("home", *["down"] * index, "enter")
    await pilot.pause()


async def go_next(pilot: P) -> None:
    await pilot.press("ctrl+n")
    await pilot.pause()


async def go_to(pilot: P, page: type[Screen[Any]], limit: int = 20) -> None:
    """Press Next until *page* shows; fail with what blocks the way."""
    for _ in range(limit):
        if isinstance(pilot.app.screen, page):
            return
        await go_next(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    screen = pilot.app.screen
    raise AssertionError(
        f"never reached {page.__name__}: stuck on {type(screen).__name__}: {problems(pilot)}"
    )


def problems(pilot: P) -> str:
    return str(pilot.app.screen.query_one("#problems", Static).content)


def status(pilot: P) -> str:
    return str(pilot.app.screen.query_one("#status", Static).content)


async def assert_blocked(pilot: P, *messages: str) -> None:
    """Each message shows, Next is disabled, and Next does not leave the page."""
    screen = pilot.app.screen
    shown = problems(pilot)
    for message in messages:
        assert message in shown
    assert screen.query_one("#problems", Static).display
    assert screen.query_one("#next", Button).disabled
    await go_next(pilot)
    assert pilot.app.screen is screen


async def assert_goes_on(pilot: P, following: type[Screen[Any]]) -> None:
    assert problems(pilot) == ""
    assert not pilot.app.screen.query_one("#next", Button).disabled
    await go_next(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, following), problems(pilot)


async def press_on(pilot: P, selector: str, *keys: str) -> None:
    """Focus the widget *selector* names and press *keys* there (Enter opens a drop-down)."""
    pilot.app.screen.query_one(selector).focus()
    await pilot.press(*keys)
    await pilot.pause()
