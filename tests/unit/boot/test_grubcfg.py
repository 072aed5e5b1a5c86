"""The grub.cfg fragment: GRUB's own parser accepts it, and it encodes the model's rules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=300)
@given(
    var=st.sampled_from(grubcfg.ENV_VARS),
    value=st.text(alphabet="AB 0139x.~+_-", max_size=70),
)
def test_grub_accepts_a_copy_exactly_when_userspace_does(var: str, value: str) -> None:
    """GRUB's validity check (VALID, POSIX ERE in GRUB's regexp) and BootEnv.from_grubenv take
    the same copy: otherwise GRUB would boot from copy 1 while stook-os reads copy 2."""
    env = slots.initial_state("1.0").to_grubenv() | {var: value}
    try:
        slots.BootEnv.from_grubenv(env)
        userspace = True
    except slots.BootEnvInvalidError:
        userspace = False
    assert (re.search(grubcfg.VALID[var], value) is not None) == userspace
    assert f"if regexp '{grubcfg.VALID[var]}' \"${{{var}}}\"; then" in grubcfg.slot_choice()
