"""Disks: where the OS goes, where Longhorn data goes, and which old installs to wipe."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Select, SelectionList, Static

from stook_core.hardware import Disk
from stook_core.layout import NEEDS, STATE_MIN
from stook_core.units import GiB, format_size
from stook_installer.tui.page import LeaveInstaller, Page
from stook_installer.tui.widgets import MarkedSelectionList, example, note, row, text_input

SHARED = "shared"


def default_persistent_size(disk: Disk | None) -> str:
    """30 % of a shared disk for the state partition (whole GiB), at least the minimum."""
    share = (disk.size * 3 // 10) // GiB * GiB if disk is not None else 0
    return format_size(max(STATE_MIN, share))


class DisksPage(Page):
    heading = "Disks"
    help_text = "The install disk and the data disk are erased. Enter opens a list."

    install_shown: Disk | None = None

    def usable(self) -> list[Disk]:
        """Offered disks big enough for the OS (with a separate data disk, the least it needs)."""
        return [d for d in self.wizard.candidate_disks() if d.size >= NEEDS.os_disk_min]

    owns = (
        "install.install_disk",
        "install.data_disk",
        "install.persistent_size",
        "install.wipe_disks",
    )

    def form(self) -> ComposeResult:
        disks = self.wizard.candidate_disks()
        if not self.usable():
            need = format_size(NEEDS.os_disk_min)
            yield Static(
                f"No disk of this machine can take the node (the OS needs at least {need} on "
                "a writable disk not in use). Nothing has been written.",
                id="no-disk",
                markup=False,
            )
            with Horizontal(classes="row"):
                yield Button("Leave the installer", id="leave", compact=True)
        install = self.wizard.disk_for(self.wizard.get("install.install_disk"))
        if install not in disks:  # never preselect a disk that is not offered
            install = disks[0] if disks else None
        self.install_shown = install
        yield row(
            "Install disk",
            Select(
                [(d.summary(), d.path) for d in disks],
                value=install.path if install else Select.NULL,
                allow_blank=not disks,
                prompt="no disk",
                id="install-disk",
                compact=True,
            ),
        )
        data = self.wizard.disk_for(self.wizard.get("install.data_disk"))
        if data not in disks:
            data = None
        yield row(
            "Data disk",
            Select(
                self.data_options(install),
                value=data.path if data and data != install else SHARED,
                allow_blank=False,
                id="data-disk",
                compact=True,
            ),
        )
        size = self.wizard.get("install.persistent_size")
        yield row(
            "State size",
            text_input(
                format_size(size)
                if isinstance(size, int)
                else str(size or "") or default_persistent_size(install),
                example("150Gi"),
                "persistent-size",
            ),
            id="persistent-row",
        )
        old = self.wipe_candidates(install, data)
        wipe = [self.wizard.disk_for(m) for m in self.wizard.get("install.wipe_disks", [])]
        if old:
            yield note(
                "Other disks with an old Stook install (Space marks one to wipe):", hint=False
            )
        yield MarkedSelectionList(
            *((d.summary(), d.path, d in wipe) for d in old), id="wipe", compact=True
        )
        unusable = self.wizard.unusable_disks()
        if unusable:
            lines = [f"  {disk.summary()}: {why}" for disk, why in unusable]
            yield Static(
                "\n".join(["Not offered (never erased):", *lines]),
                id="unusable",
                classes="hint",
                markup=False,
            )

    def data_options(self, install: Disk | None) -> list[tuple[str, str]]:
        others = [d for d in self.wizard.candidate_disks() if d != install]
        return [("the install disk (shared)", SHARED), *((d.summary(), d.path) for d in others)]

    def wipe_candidates(self, install: Disk | None, data: Disk | None) -> list[Disk]:
        return [
            d
            for d in self.wizard.candidate_disks()
            if d.has_stook_install and d not in (install, data)
        ]

    def disk(self, path: Any) -> Disk | None:
        return next((d for d in self.wizard.machine.disks if d.path == path), None)

    def on_mount(self) -> None:
        self.query_one("#wipe").display = bool(self.query_one("#wipe", SelectionList).option_count)
        super().on_mount()

    def refresh_wipe(self) -> None:
        """Only disks other than the install and data disk can be marked for wiping."""
        install = self.disk(self.query_one("#install-disk", Select).value)
        data = self.disk(self.query_one("#data-disk", Select).value)
        wipe = self.query_one("#wipe", SelectionList)
        marked = set(wipe.selected)
        wipe.clear_options()
        old = self.wipe_candidates(install, data)
        wipe.add_options([(d.summary(), d.path, d.path in marked) for d in old])
        wipe.display = bool(old)
        if old:
            wipe.highlighted = 0

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "leave":
            text = str(self.query_one("#no-disk", Static).content)
            self.post_message(LeaveInstaller(text))
            return
        await super().on_button_pressed(event)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "install-disk":
            install = self.disk(event.value)
            data = self.query_one("#data-disk", Select)
            keep = data.value if data.value != event.value else SHARED
            data.set_options(self.data_options(install))
            data.value = keep
            self.refresh_wipe()
            # A state size still at the old disk's default follows the new disk's.
            size = self.query_one("#persistent-size", Input)
            if size.value == default_persistent_size(self.install_shown):
                size.value = default_persistent_size(install)
            self.install_shown = install
        elif event.select.id == "data-disk":
            self.refresh_wipe()
        self.changed()

    def store(self) -> None:
        install = self.disk(self.query_one("#install-disk", Select).value)
        data = self.disk(self.query_one("#data-disk", Select).value)
        match = self.wizard.disk_match
        self.wizard.set("install.install_disk", match(install) if install else None)
        self.wizard.set("install.data_disk", match(data) if data else None)
        shared = data is None
        self.query_one("#persistent-row").display = shared
        size = self.query_one("#persistent-size", Input).value.strip()
        self.wizard.set("install.persistent_size", size if shared else None)
        wipe = self.query_one("#wipe", SelectionList)
        wiped = [self.disk(path) for path in wipe.selected]
        self.wizard.set("install.wipe_disks", [match(d) for d in wiped if d is not None])
