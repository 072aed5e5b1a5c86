"""SVG snapshots of the main pages at 80x24 (pytest-textual-snapshot; update with
``pytest tests/unit/tui/test_snapshots.py --snapshot-update`` and review the SVGs)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox

from stook_installer.tui.disks import DisksPage
from stook_installer.tui.fields import HostnamePage
from stook_installer.tui.final import FinalPage
from stook_installer.tui.network import NetworkPage
from stook_installer.tui.start import ModePage
from stook_installer.tui.summary import SummaryPage

SIZE = (80, 24)


def test_mode_page(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app(first_page=ModePage), terminal_size=SIZE)


def test_disks_page(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app("os-and-data", first_page=DisksPage), terminal_size=SIZE)


def test_network_page_static_with_a_problem(snap_compare: Any, make_app: Any, seed: Any) -> None:
    document = seed()
    document["install"]["management_interface"]["gateway"] = "10.0.0.1"
    app = make_app(seed=document, first_page=NetworkPage)
    assert snap_compare(app, terminal_size=SIZE)


def test_hostname_page_invalid(snap_compare: Any, make_app: Any, seed: Any) -> None:
    app = make_app(seed=seed(hostname="Node_1"), first_page=HostnamePage)
    assert snap_compare(app, terminal_size=SIZE)


def test_summary_page(snap_compare: Any, make_app: Any, seed: Any) -> None:
    async def confirm(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one("#confirm", Checkbox).focus()
        await pilot.press("space")

    app = make_app(seed=seed(), first_page=SummaryPage)
    assert snap_compare(app, terminal_size=SIZE, run_before=confirm)


def test_final_page(snap_compare: Any, make_app: Any, seed: Any) -> None:
    async def finish(pilot: Pilot[Any]) -> None:
        pilot.app.switch_screen(FinalPage(failure=None, default="reboot", dry_run=True))
        await pilot.pause()

    assert snap_compare(make_app(seed=seed()), terminal_size=SIZE, run_before=finish)
