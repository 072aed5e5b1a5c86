"""The installer's side of the live medium: the image path live-boot exposes, the install lock
the consoles share, and --act-after-install (only the live units pass it)."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stook_installer import install_cli
from stook_installer.engine import image
from stook_installer.engine.runner import InstallFailed, install_lock

ROOT = Path(__file__).resolve().parents[3]


def test_default_image_is_where_live_boot_exposes_the_medium() -> None:
    # build-iso.sh puts the OS image at /live/filesystem.squashfs; live-boot mounts the medium
    # (or the fetched image, for PXE) at /run/live/medium.
    expected = Path("/run/live/medium/live/filesystem.squashfs")
    assert expected == image.DEFAULT_IMAGE
    script = (ROOT / "iso-build/build-iso.sh").read_text()
    assert '"$staging/live/filesystem.squashfs"' in script
    assert "fetch=http://SERVER/filesystem.squashfs" in script


def test_install_lock_refuses_a_second_installer(tmp_path: Path) -> None:
    lock = tmp_path / "install.lock"
    with lock.open("w") as other:
        other.write("pid 1 on /dev/ttyS0\n")
        other.flush()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = pytest.raises(InstallFailed, match=r"already installing .*ttyS0")
        with refused, install_lock(str(lock)):
            pytest.fail("the lock was granted twice")


def test_install_lock_is_taken_and_released(tmp_path: Path) -> None:
    lock = tmp_path / "install.lock"
    with install_lock(str(lock)):
        assert "pid" in lock.read_text()
        with lock.open() as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with lock.open() as probe:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_no_lock_without_a_path() -> None:
    with install_lock(None):
        pass


def test_act_after_install_is_off_by_default() -> None:
    assert install_cli.parser().parse_args([]).act_after_install is False
    assert install_cli.parser().parse_args(["--act-after-install"]).act_after_install is True


@pytest.mark.parametrize("then", ["reboot", "poweroff"])
def test_after_install_runs_the_configured_command(
    then: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []

    def record(command: list[str], **_: Any) -> subprocess.CompletedProcess[bytes]:
        ran.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", record)
    install_cli.after_install(then)
    assert ran == [["systemctl", then]]


def test_live_units_pass_the_flag_and_never_run_on_an_installed_node() -> None:
    units = ROOT / "iso-build/overlay/usr/lib/systemd/system"
    for name in ("stook-live-installer@.service", "stook-live-install.service",
                 "stook-live-network.service", "stook-live-shell@.service"):  # fmt: skip
        assert "ConditionKernelCommandLine=boot=live" in (units / name).read_text(), name
    live = ROOT / "iso-build/overlay/usr/lib/stook/live"
    assert "--act-after-install" in (live / "install-automatic").read_text()
    assert "STOOK_INSTALL_LOCK" in (live / "installer-console").read_text()
    enabled = (ROOT / "iso-build/overlay/enable.list").read_text().split()
    assert {"stook-live-installer@tty1.service", "stook-live-installer@ttyS0.service",
            "stook-live-install.service"} <= set(enabled)  # fmt: skip
