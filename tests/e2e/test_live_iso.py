"""The live ISO boots, as a USB stick would (the hybrid image as a disk), under SeaBIOS and OVMF
through GRUB's menu (on the serial console too) into the live system, where the installer's TUI
comes up on the serial console.

The ISO: env STOOK_ISO, or built once by iso-build/build-iso.sh (root, mmdebstrap, xorriso: a few
minutes) and cached under ~/.cache/stook/e2e/<hash of the sources that go into it>.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.os_image import VERSION, os_image, source_hash
from support.qemu import QEMU, Firmware, Machine, running, wait_for
from support.tiers import require_commands, require_root, require_tier

ROOT = Path(__file__).resolve().parents[2]
# GRUB's menu waits 5 s; the kernel, live-boot and systemd take about a minute under TCG.
BOOT_SECONDS = 300.0
BUILD_TOOLS = ("mmdebstrap", "mksquashfs", "xorriso", "grub-mkrescue", "mformat")


@pytest.fixture(scope="module")
def iso() -> Path:
    given = os.environ.get("STOOK_ISO")
    if given:
        path = Path(given)
        require_tier(path.is_file(), f"the ISO STOOK_ISO={given}", "build it with "
                     "iso-build/build-iso.sh, or unset STOOK_ISO to build it here")  # fmt: skip
        return path
    cache = Path(os.environ.get("STOOK_CACHE", Path.home() / ".cache/stook"))
    folder = cache / "e2e" / f"live-iso-{source_hash()}"
    path = folder / f"stook-{VERSION}.iso"
    if path.is_file():
        return path
    require_root()
    require_commands(*BUILD_TOOLS)
    require_tier((ROOT / ".venv/bin/python").exists(), "the project's .venv",
                 "run scripts/bootstrap.sh base build")  # fmt: skip
    for old in folder.parent.glob("live-iso-*"):  # ISOs of older sources (~600 MiB each)
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    # Pack the ISO around the same OS image the other e2e tests install (built once per
    # source state by scripts/setup.d/os-image.sh), instead of building a second image.
    script = ROOT / "iso-build/build-iso.sh"
    image_dir = os_image().parent
    build = subprocess.run(
        [str(script), "--version", VERSION, "--from", str(image_dir), "--out", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    output = f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    assert build.returncode == 0, f"build-iso.sh failed:\n{output}"
    assert path.is_file(), build.stdout
    return path


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_iso_boots_to_the_installer_on_the_serial_console(
    iso: Path, firmware: Firmware, tmp_path: Path
) -> None:
    require_commands(QEMU)
    machine = Machine(disk=iso, folder=tmp_path, firmware=firmware, memory_mib=1536)
    log = tmp_path / "serial.log"
    # -snapshot: the live system never writes to its medium, and neither may this test.
    argv = [*machine.argv(log), "-snapshot"]
    with running(argv, log) as process:
        # The installer unit's own line, then the TUI's header (its title).
        wait_for(process, log, "Starting stook-installer on ttyS0", BOOT_SECONDS)
        text = wait_for(process, log, "Stook installer", BOOT_SECONDS)
    assert "Install Stook" in text and "Rescue shell" in text  # GRUB's menu, on serial too
    # A crash prints the title too (in Rich's traceback of the app's locals).
    assert "Traceback" not in text and "Error" not in text.split("Starting stook-installer")[-1]
