"""The grub.cfg fragment: GRUB's own parser accepts it, and it encodes the model's rules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from stook_core.boot import grubcfg, slots
from support.tiers import require_commands


def test_grub_script_check_accepts_the_fragment(tmp_path: Path) -> None:
    require_commands("grub-script-check")
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(grubcfg.slot_choice("console=ttyS0,115200 stook.state=UUID=x", panic=5))
    result = subprocess.run(["grub-script-check", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout


def test_grub_script_check_rejects_a_broken_fragment(tmp_path: Path) -> None:
    """The check above can fail: an unbalanced if is reported."""
    require_commands("grub-script-check")
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(grubcfg.slot_choice().replace("\nfi\n", "\n", 1))
    assert subprocess.run(["grub-script-check", str(cfg)], capture_output=True).returncode != 0


def test_decrement_is_spelled_out_for_every_attempt_count() -> None:
    text = grubcfg.slot_choice()
    for slot in slots.SLOTS:
        for left in range(1, slots.MAX_ATTEMPTS + 1):
            assert f'[ "${{{slot}_LEFT}}" = "{left}" ]; then set {slot}_LEFT={left - 1}' in text


def test_kernel_command_line_and_partitions() -> None:
    text = grubcfg.slot_choice("console=ttyS0", panic=7, partitions={"A": 5, "B": 6})
    assert "stook.slot=${stook_slot} panic=7" in text
    assert "console=ttyS0" in text
    assert 'if [ "${stook_slot}" = "A" ]; then set stook_part=5; set stook_label=STOOK_A' in text
    assert "root=PARTLABEL=${stook_label}" in text


def test_only_known_variables_are_loaded_and_saved() -> None:
    text = grubcfg.slot_choice()
    for line in re.findall(r"(?:load|save)_env --file \"[^\"]+/\$1\" (.*)", text):
        assert line.split(";")[0].split() == list(grubcfg.ENV_VARS)
    assert set(grubcfg.ENV_VARS) == set(slots.KNOWN_KEYS)


def test_panic_must_reboot() -> None:
    with pytest.raises(ValueError, match="panic"):
        grubcfg.slot_choice(panic=0)
