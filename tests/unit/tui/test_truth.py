"""The TUI tells the truth: who logs in how, labels that follow the answers, placeholders unlike
values, choices visible without colour, a small terminal, a machine without a usable disk, disks
in use never offered, binary sizes; and the install runs the very plan the summary showed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    OptionList,
    RadioButton,
    Select,
    SelectionList,
    Static,
)

from stook_installer.engine.consent import Consent
from stook_installer.tui.app import InstallerApp, Outcome
from stook_installer.tui.disks import DisksPage
from stook_installer.tui.final import FinalPage
from stook_installer.tui.flow import STOPS
from stook_installer.tui.login import PasswordPage, SshKeysPage
from stook_installer.tui.network import NetworkPage
from stook_installer.tui.page import GoNext
from stook_installer.tui.progress import ProgressPage
from stook_installer.tui.start import ModePage
from stook_installer.tui.state import Wizard, new_document
from stook_installer.tui.summary import SummaryPage
from support.install_engine import profile
from support.pilot import choose, fill, go_next, go_to, press_on, problems

P = Pilot[Any]
Drive = Callable[..., None]


def text(widget: Any) -> str:
    """What a monochrome console shows of *widget*: its text, no colours."""
    if isinstance(widget, RadioButton | Checkbox):  # drawn by render(), not from .content
        return str(widget.render())
    return str(widget.content) if isinstance(widget, Static) else str(widget.render())


def underlined(strip: Any) -> bool:
    return any(segment.style is not None and segment.style.underline for segment in strip)


def offered(select: Select[str]) -> list[str]:
    """The entries of a Select's drop-down list."""
    options = select.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


# --- consent binds to the plan --------------------------------------------------------------------


def test_the_install_runs_the_plan_the_summary_showed(
    make_app: Any, drive: Drive, seed: Any
) -> None:
    async def scenario(pilot: P) -> None:
        summary = pilot.app.screen
        assert isinstance(summary, SummaryPage) and summary.plan is not None
        shown = summary.plan
        assert text(summary.query_one("#erase", Static)) == "\n".join(shown.erase_notice())
        summary.query_one("#confirm", Checkbox).focus()
        await pilot.press("space")
        await go_next(pilot)
        progress = pilot.app.screen
        assert isinstance(progress, ProgressPage)
        assert progress.plan is shown  # the same object, not a plan built again
        assert progress.consent == Consent.to(shown)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert progress.failure is None, progress.failure
        assert list(progress.rows) == [step.name for step in shown.steps]

    drive(make_app(seed=seed(), first_page=SummaryPage), scenario)


# --- whom the password and keys are for -----------------------------------------------------------


def test_the_login_pages_say_who_logs_in_and_how(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        keys = pilot.app.screen
        assert isinstance(keys, SshKeysPage)
        help_text = text(keys.query_one("#help", Static))
        assert "'stook'" in help_text and "keys only" in help_text
        assert "no remote login" in help_text and "root" in help_text
        await go_next(pilot)
        password = pilot.app.screen
        assert isinstance(password, PasswordPage)
        help_text = text(password.query_one("#help", Static))
        assert "'stook'" in help_text and "console" in help_text and "sudo" in help_text
        assert "SSH never accepts it" in help_text
        meaning = text(password.query_one("#meaning", Static))
        assert "No SSH key was given: this node takes no remote login" in meaning

    drive(make_app(seed=seed(), first_page=SshKeysPage), scenario)


def test_a_revisited_password_page_says_where_its_password_came_from(
    make_app: Any, drive: Drive, seed: Any
) -> None:
    async def scenario(pilot: P) -> None:
        page = pilot.app.screen
        assert isinstance(page, PasswordPage)
        assert "came with the install config" not in text(page.query_one("#meaning", Static))
        for field in ("#password", "#confirm"):
            page.query_one(field, Input).focus()
            await pilot.press(*"typed-here-1")
        await go_next(pilot)
        assert isinstance(pilot.app.screen, SummaryPage), problems(pilot)
        await pilot.press("escape")
        await pilot.pause()
        again = pilot.app.screen
        assert isinstance(again, PasswordPage)
        meaning = text(again.query_one("#meaning", Static))
        assert "came with the install config" not in meaning
        assert "A password was typed before; leave empty to keep it." in meaning
        assert pilot.app.wizard.get("install.password") == "typed-here-1"

    drive(make_app(seed=seed(password=None), first_page=PasswordPage), scenario)


# --- placeholders and choices without colour ------------------------------------------------------


def test_every_placeholder_reads_as_an_example_or_a_meaning(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        app = pilot.app
        assert isinstance(app, InstallerApp)
        seen = 0
        for mode in ("create", "join"):
            app.wizard.set("install.mode", mode)
            for stop in STOPS:
                app.switch_screen(app.flow.make(stop.page))
                await pilot.pause()
                for field in app.screen.query(Input):
                    if field.placeholder:
                        seen += 1
                        assert field.placeholder.startswith(("e.g. ", "(")), field.placeholder
        assert seen >= 12

    drive(make_app(), scenario)


def test_the_chosen_radio_nic_and_cursor_show_as_text(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        create, join = pilot.app.screen.query(RadioButton)
        assert text(create).startswith("> (*) Create") and text(join).startswith("  ( ) Join")
        await pilot.press("down", "enter")
        await pilot.pause()
        assert text(create).startswith("  ( ) Create") and text(join).startswith("> (*) Join")
        await pilot.press("up")  # the cursor moves, the choice stays
        await pilot.pause()
        assert text(create).startswith("> ( ) Create") and text(join).startswith("  (*) Join")
        await pilot.press("down", "enter")
        await go_to(pilot, NetworkPage)
        nics = pilot.app.screen.query_one("#nics", SelectionList)
        lines = [nics.render_line(y).text for y in range(nics.option_count)]
        assert lines[0].startswith("> [x] ens1f0"), lines  # the first NIC with a link
        assert [line[2:].startswith("[x] ") for line in lines] == [
            n.name == "ens1f0" for n in pilot.app.wizard.machine.nics
        ]

    drive(make_app("four-nics"), scenario)


# --- terminal size --------------------------------------------------------------------------------


def test_a_too_small_terminal_says_so_and_the_size_needed(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        message = text(pilot.app.screen.query_one("#too-small", Static))
        assert "This terminal is 50x15" in message and "at least 60x20" in message
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert isinstance(pilot.app.screen, ModePage)

    drive(make_app(), scenario, size=(50, 15))


def test_a_page_change_while_too_small_stays_covered(make_app: Any, drive: Drive) -> None:
    """A server check (or the install) may end while the terminal is small: the page behind
    the cover changes, the cover stays until the terminal is large enough again."""

    async def scenario(pilot: P) -> None:
        mode = pilot.app.screen
        assert isinstance(mode, ModePage)
        await pilot.resize_terminal(50, 15)
        await pilot.pause()
        assert "at least 60x20" in text(pilot.app.screen.query_one("#too-small", Static))
        mode.post_message(GoNext(ModePage))
        await pilot.pause()
        assert "at least 60x20" in text(pilot.app.screen.query_one("#too-small", Static))
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert isinstance(pilot.app.screen, DisksPage)

    drive(make_app(), scenario)


def test_the_whole_flow_works_at_60x20(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ModePage)
        region = screen.query_one("#next", Button).region
        assert region.width and region.bottom <= 20
        await go_to(pilot, SummaryPage)
        summary = pilot.app.screen
        confirm = summary.query_one("#confirm", Checkbox)
        assert confirm.region.width and confirm.region.bottom <= 20
        confirm.focus()
        await pilot.press("space")
        await go_next(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, ProgressPage)

    drive(make_app(seed=seed()), scenario, size=(60, 20))


# --- disks ----------------------------------------------------------------------------------------


def test_no_usable_disk_offers_a_way_out(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        page = pilot.app.screen
        assert "No disk of this machine can take the node" in text(page.query_one("#no-disk"))
        assert not any("/dev/sdz" in e for e in offered(page.query_one("#install-disk", Select)))
        assert "/dev/sdz" in text(page.query_one("#unusable", Static))
        assert "the live medium the installer booted from" in text(page.query_one("#unusable"))
        page.query_one("#leave", Button).focus()
        await pilot.press("enter")
        await pilot.pause()
        final = pilot.app.screen
        assert isinstance(final, FinalPage)
        assert "nothing was written to any disk" in text(final.query_one("#help", Static))
        await choose(pilot, "#after", 1)  # power off
        await go_next(pilot)

    app = make_app("no-usable-disk")
    drive(app, scenario)
    assert app.return_value == Outcome("poweroff", installed=False, left=True)


def test_a_disk_in_use_is_neither_offered_nor_preselected(drive: Drive, seed: Any) -> None:
    base = profile("os-and-data")
    busy = [d.model_copy(update={"mountpoints": ["/mnt/x"]}) if d.name == "sda" else d
            for d in base.disks]  # fmt: skip
    wizard = Wizard(
        base.model_copy(update={"disks": busy}),
        document=new_document(seed(install_disk={"serial": "2013263F1001"})),
    )

    async def scenario(pilot: P) -> None:
        page = pilot.app.screen
        select = page.query_one("#install-disk", Select)
        assert select.value == "/dev/sdb"  # the seed's disk is busy: not preselected
        assert not any(entry.startswith("/dev/sda") for entry in offered(select))
        assert not any("/dev/sda" in e for e in offered(page.query_one("#data-disk", Select)))
        note = text(page.query_one("#unusable", Static))
        assert "/dev/sda" in note and "mounted at /mnt/x" in note

    drive(InstallerApp(wizard, first_page=DisksPage), scenario)


def test_disk_sizes_are_binary_and_labelled(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        labels = offered(pilot.app.screen.query_one("#install-disk", Select))
        assert labels[0].startswith("/dev/sda 894 GiB (960 GB) ATA Samsung"), labels

    drive(make_app("one-disk"), scenario)


def test_the_default_state_size_follows_the_install_disk(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        screen = pilot.app.screen
        size = screen.query_one("#persistent-size", Input)
        assert size.value == "134Gi"  # 30 % of the 480 GB disk
        await press_on(pilot, "#install-disk", "enter", "down", "enter")  # the 4 TB disk
        assert size.value == "1117Gi"  # 30 % of 4 TB, not the other disk's figure
        await fill(pilot, "#persistent-size", "200Gi")
        await press_on(pilot, "#install-disk", "enter", "up", "enter")
        assert size.value == "200Gi"  # a typed size is the operator's: kept

    drive(make_app("os-and-data"), scenario)


def test_the_open_disk_list_marks_the_cursor_without_colour(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        await press_on(pilot, "#install-disk", "enter")
        overlay = pilot.app.screen.query_one("#install-disk", Select).query_one(OptionList)
        assert overlay.has_focus and overlay.highlighted is not None
        lines = [overlay.render_line(y) for y in range(overlay.virtual_size.height)]
        marked = {strip.text.strip() for strip in lines if underlined(strip)}
        chosen = str(overlay.get_option_at_index(overlay.highlighted).prompt)
        assert marked and all(line.split()[0] in chosen for line in marked), marked
        assert any(strip.text.startswith("/dev/sdb") and not underlined(strip) for strip in lines)

    drive(make_app("os-and-data"), scenario)


def test_a_dry_run_says_so_on_the_button_and_while_running(
    make_app: Any, drive: Drive, seed: Any
) -> None:
    async def scenario(pilot: P) -> None:
        summary = pilot.app.screen
        assert str(summary.query_one("#next", Button).label) == "Dry run"
        confirm = summary.query_one("#confirm", Checkbox)
        assert "nothing is written" in str(confirm.label)
        confirm.focus()
        await pilot.press("space")
        await go_next(pilot)
        progress = pilot.app.screen
        assert isinstance(progress, ProgressPage)
        assert "Installing" not in text(progress.query_one("#status", Static))

    drive(make_app(seed=seed(), first_page=SummaryPage), scenario)
