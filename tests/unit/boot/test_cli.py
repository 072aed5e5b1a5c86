"""stook-os against a tmp dir standing in for the ESP and fake /proc/cmdline, os-release."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from stook_core.boot import cli, slots, store
from support.fake_node import FAKE_CMDLINE_A, FAKE_CMDLINE_B, FakeNode, booted_a


def test_status_of_a_good_slot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    assert node.run("status") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "booted slot:  A (OS version 1.0)" in out
    assert "slot A is good" in out
    assert "* slot A:     version 1.0, good, 3 attempt(s) left" in out
    assert "  slot B:     version (empty), not good, 0 attempt(s) left" in out


def test_status_json_has_what_the_agent_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    assert node.run("status", "--json") == cli.EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert (data["slot"], data["version"], data["fell_back"]) == ("A", "1.0", False)
    assert data["slots"]["A"] == {"good": True, "attempts_left": 3, "version": "1.0"}


def test_update_trial_mark_good_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = slots.invalidate(booted_a(), "B")
    env = replace(env, b=slots.SlotState(False, 0, "2.0"))  # the controller wrote 2.0 into B
    node = FakeNode(tmp_path, env, FAKE_CMDLINE_A, "1.0")
    assert node.run("set-next", "b") == cli.EXIT_OK
    assert node.env().order == ("B", "A")
    assert node.env().b == slots.SlotState(False, 3, "2.0")
    # GRUB boots B (one attempt spent); the health check runs mark-good there
    node.store.save(slots.grub_pick(node.env()).env.to_grubenv())
    node.cmdline.write_text(FAKE_CMDLINE_B)
    node.os_release.write_text('VERSION="2.0"\n')
    assert node.run("mark-good") == cli.EXIT_OK
    assert node.env().b == slots.SlotState(True, 3, "2.0")
    assert "slot B marked good" in capsys.readouterr().out


def test_status_reports_a_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = replace(booted_a(), order=("B", "A"), b=slots.SlotState(False, 0, "2.0"))
    node = FakeNode(tmp_path, env, FAKE_CMDLINE_A, "1.0")
    assert node.run("status") == cli.EXIT_OK
    assert "FALLBACK: slot B was tried and never marked good" in capsys.readouterr().out


def test_refuses_when_booted_root_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_B, "1.0")
    assert node.run("mark-good") == cli.EXIT_MISMATCH
    assert node.run("set-next", "A") == cli.EXIT_MISMATCH
    err = capsys.readouterr().err
    assert "refusing to mark the booted slot good" in err
    assert "the boot environment says GRUB booted A" in err
    assert node.env() == booted_a()  # nothing written
    assert node.run("status") == cli.EXIT_MISMATCH
    assert "MISMATCH:" in capsys.readouterr().out


def test_refuses_without_stook_slot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = FakeNode(tmp_path, booted_a(), "BOOT_IMAGE=/live/vmlinuz boot=live", "1.0")
    assert node.run("mark-good") == cli.EXIT_MISMATCH
    assert "not booted by Stook's GRUB" in capsys.readouterr().err


def test_set_next_refuses_an_empty_slot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    assert node.run("set-next", "B") == cli.EXIT_ERROR
    assert "slot B holds no OS image" in capsys.readouterr().err
    assert node.env().order == ("A", "B")


def test_unreadable_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    for name in store.COPIES:
        node.store.path(name).write_bytes(b"not an environment block")
    assert node.run("status") == cli.EXIT_ERROR
    assert "no usable copy of the boot environment" in capsys.readouterr().err


def test_bad_slot_argument_is_a_usage_error(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    with pytest.raises(SystemExit) as exit_info:
        node.run("set-next", "C")
    assert exit_info.value.code == cli.EXIT_USAGE
