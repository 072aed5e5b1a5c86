"""The live medium's generator masks the installed node's ESP mount and mark-good, and only there
(iso-build/overlay/usr/lib/systemd/system-generators/stook-live-generator)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

OVERLAY = Path(__file__).resolve().parents[3] / "iso-build/overlay"
GENERATOR = OVERLAY / "usr/lib/systemd/system-generators/stook-live-generator"
MASKED = {"boot-efi.mount", "stook-boot-ok.service"}


def generated(tmp_path: Path, cmdline: str) -> dict[str, str]:
    (tmp_path / "cmdline").write_text(cmdline + "\n")
    out = tmp_path / "generator"
    out.mkdir()
    env = os.environ | {"STOOK_PROC_CMDLINE": str(tmp_path / "cmdline")}
    subprocess.run(["sh", str(GENERATOR), str(out), str(out), str(out)], check=True, env=env)
    return {link.name: str(link.readlink()) for link in out.iterdir()}


def test_the_generator_is_executable() -> None:
    assert os.access(GENERATOR, os.X_OK)


@pytest.mark.parametrize(
    "cmdline",
    ["BOOT_IMAGE=/live/vmlinuz boot=live components quiet", "boot=stookish console=ttyS0"],
)
def test_the_live_medium_masks_the_installed_nodes_esp_units(tmp_path: Path, cmdline: str) -> None:
    assert generated(tmp_path, cmdline) == dict.fromkeys(MASKED, "/dev/null")


def test_an_installed_node_keeps_them(tmp_path: Path) -> None:
    cmdline = "BOOT_IMAGE=/vmlinuz root=PARTLABEL=STOOK_A boot=stook stook.slot=A console=ttyS0"
    assert generated(tmp_path, cmdline) == {}
