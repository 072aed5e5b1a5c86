"""The running system vs the boot environment (fake /proc/cmdline and os-release text)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from stook_core import osrelease
from stook_core.boot import booted, slots

FAKE_CMDLINE = (
    "root=PARTLABEL=STOOK_B rootfstype=squashfs ro stook.slot=B panic=10 console=ttyS0,115200"
)
ENV = replace(slots.set_next(slots.mark_good(slots.initial_state("1.0"), "A"), "B", "2.0"),
              booted="B")  # fmt: skip


def test_parse_cmdline() -> None:
    cmdline = booted.parse_cmdline(FAKE_CMDLINE + " stook.boot=exhausted\n")
    assert (cmdline.slot, cmdline.root, cmdline.exhausted) == ("B", "PARTLABEL=STOOK_B", True)
    assert booted.parse_cmdline("quiet stook.slot=Z").slot is None


def test_os_release(tmp_path: Path) -> None:
    fake_os_release = tmp_path / "os-release"
    fake_os_release.write_text('NAME="Stook OS"\n# c\nVERSION="2.0"\nVERSION_ID=2.0\n')
    assert osrelease.read_os_version(fake_os_release) == "2.0"
    fake_os_release.write_text("VERSION_ID=12\n")
    assert osrelease.read_os_version(fake_os_release) == "12"
    assert osrelease.read_os_version(tmp_path / "missing") is None


def test_matching_boot_has_no_mismatch() -> None:
    assert booted.mismatches(ENV, booted.parse_cmdline(FAKE_CMDLINE), "2.0") == []
    assert booted.mismatches(ENV, booted.parse_cmdline(FAKE_CMDLINE), None) == []


def test_mismatches() -> None:
    cmdline = booted.parse_cmdline(FAKE_CMDLINE)
    assert "not booted by" in booted.mismatches(ENV, booted.parse_cmdline("quiet"), None)[0]
    [wrong_root] = booted.mismatches(
        ENV, booted.parse_cmdline(FAKE_CMDLINE.replace("STOOK_B", "STOOK_A")), None
    )
    assert "root=PARTLABEL=STOOK_A" in wrong_root
    [other_env] = booted.mismatches(replace(ENV, booted="A"), cmdline, None)
    assert "GRUB booted A" in other_env
    [version] = booted.mismatches(ENV, cmdline, "1.0")
    assert "records 2.0 in slot B" in version


def test_parse_cmdline_splits_as_the_kernel_does() -> None:
    """A single quote or a backslash elsewhere on the line is no error (shlex failed on it)."""
    cmdline = booted.parse_cmdline(
        FAKE_CMDLINE + " note=it's a\\b stook.env=unreadable stook.env=unsaved\n"
    )
    assert (cmdline.slot, cmdline.env_unsaved, cmdline.exhausted) == ("B", True, False)
    assert booted.parse_cmdline(FAKE_CMDLINE).env_unsaved is False
