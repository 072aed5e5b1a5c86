"""The boot status model and the reboot-or-stay policy after a failed boot check, from real
boot environments (slots' transitions) and fake command lines, with a fake clock."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stook_core.boot import booted, cli, slots
from stook_core.boot import status as boot_status
from stook_core.boot.status import BootStatus
from stook_core.boot.store import Loaded
from support.fake_node import FAKE_CMDLINE_A, FAKE_CMDLINE_B, FakeNode, booted_a

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # the fake clock's time


def status_of(env: slots.BootEnv, cmdline: str, version: str = "1.0") -> BootStatus:
    """What stook-os reports on a node whose GRUB booted with *env* and *cmdline*."""
    parsed = booted.parse_cmdline(cmdline)
    problems = booted.mismatches(env, parsed, version)
    return boot_status.from_node(env, Loaded(env.to_grubenv(), 1, True), parsed, version, problems)


def fresh_install_first_boot() -> slots.BootEnv:
    return slots.grub_pick(slots.initial_state("1.0")).env  # A on trial, one attempt spent


def b_tried(left: int) -> slots.BootEnv:
    """Slot B (2.0) set next on a good A and booted by GRUB with *left* attempts remaining."""
    env = slots.set_next(booted_a(), "B", "2.0")
    return replace(env.with_slot("B", slots.SlotState(False, left, "2.0")), booted="B")


CASES = {
    # name: (status, action, words in the reason)
    "trial-with-attempts-left": (
        status_of(b_tried(2), FAKE_CMDLINE_B, "2.0"),
        "reboot",
        "tries it again (2 attempt(s)",
    ),
    "trial-spent-falls-back": (
        status_of(b_tried(0), FAKE_CMDLINE_B, "2.0"),
        "reboot",
        "falls back to slot A",
    ),
    "fresh-install-on-trial": (
        status_of(fresh_install_first_boot(), FAKE_CMDLINE_A),
        "reboot",
        "tries it again",
    ),
    "good-slot": (status_of(booted_a(), FAKE_CMDLINE_A), "stay", "marked good"),
    "exhausted": (
        status_of(
            fresh_install_first_boot().with_slot("A", slots.SlotState(False, 0, "1.0")),
            FAKE_CMDLINE_A + " stook.boot=exhausted",
        ),
        "stay",
        "no slot that is good",
    ),
    "trial-spent-nothing-else-boots": (
        status_of(
            fresh_install_first_boot().with_slot("A", slots.SlotState(False, 0, "1.0")),
            FAKE_CMDLINE_A,
        ),
        "stay",
        "no other slot can boot",
    ),
    "attempt-not-recorded": (
        status_of(b_tried(2), FAKE_CMDLINE_B + " stook.env=unsaved", "2.0"),
        "stay",
        "unsaved",
    ),
    "mismatch": (status_of(b_tried(2), FAKE_CMDLINE_A, "2.0"), "stay", "does not match"),
    "not-booted-by-stook": (status_of(booted_a(), "BOOT_IMAGE=/live/vmlinuz"), "stay", "not"),
    "environment-unreadable": (
        boot_status.from_node(None, None, booted.parse_cmdline(FAKE_CMDLINE_A), "1.0", []),
        "stay",
        "unreadable",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_reboot_only_when_the_next_boot_differs_and_is_counted(name: str) -> None:
    status, action, words = CASES[name]
    decision = boot_status.decide(status)
    assert (decision.action, words in decision.reason) == (action, True), decision.reason


def test_a_failure_is_published_with_the_check_the_time_and_the_decision(tmp_path: Path) -> None:
    status = status_of(b_tried(2), FAKE_CMDLINE_B, "2.0")
    published, decision = boot_status.failed(status, "stook-health-network.service", AT)
    path = tmp_path / "boot-status.json"
    boot_status.write(published, path)
    data = json.loads(path.read_text())
    assert data["health"] == "failed" and data["failure"]["check"] == "stook-health-network.service"
    assert data["failure"]["at"] == "2026-03-04T05:06:07Z"
    assert data["failure"]["decision"] == {"action": "reboot", "reason": decision.reason}
    assert boot_status.read(path) == published  # the agent's reader gives back the same model


def test_a_fallback_carries_its_reason() -> None:
    env = replace(booted_a(), order=("B", "A"), b=slots.SlotState(False, 0, "2.0"))
    status = status_of(env, FAKE_CMDLINE_A)
    assert status.fell_back and status.fell_back_reason.startswith("FALLBACK: slot B was tried")
    assert not status_of(booted_a(), FAKE_CMDLINE_A).fell_back_reason


# --- stook-os health-failed and mark-good (the failure and success paths of the boot units) ----


def run_health_failed(node: FakeNode, *extra: str) -> tuple[int, list[str]]:
    reboots: list[str] = []

    def reboot() -> int:
        reboots.append("reboot")
        return cli.EXIT_OK

    args = cli._parser().parse_args([*node.options(), "health-failed", *extra])
    return cli.health_failed(args, clock=lambda: AT, reboot=reboot), reboots


def test_health_failed_reboots_a_trial_and_publishes_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, b_tried(2), FAKE_CMDLINE_B, "2.0")
    code, reboots = run_health_failed(node, "--check", "stook-health-sshd.service")
    assert (code, reboots) == (cli.EXIT_OK, ["reboot"])
    published = boot_status.read(node.status_file)
    assert published is not None and published.failure is not None
    assert (published.failure.check, published.failure.at) == ("stook-health-sshd.service", AT)
    assert "reboot: slot B is on trial" in capsys.readouterr().out
    assert node.env() == b_tried(2)  # the decision writes no boot environment
    # stook-os status shows the failure this boot published
    assert node.run("status") == cli.EXIT_OK
    assert "health check: FAILED (stook-health-sshd.service at 2026-03-04 05:06:07 UTC)" in (
        capsys.readouterr().out
    )


def test_health_failed_stays_on_a_good_slot_and_takes_the_check_from_systemd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_UNIT", "stook-health-agent.service")
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    code, reboots = run_health_failed(node)
    assert (code, reboots) == (cli.EXIT_OK, [])
    published = boot_status.read(node.status_file)
    assert published is not None and published.failure is not None
    assert published.failure.check == "stook-health-agent.service"
    assert published.failure.decision.action == "stay"


def test_health_failed_stays_when_the_environment_is_unreadable(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, b_tried(2), FAKE_CMDLINE_B, "2.0")
    for name in ("grubenv", "grubenv2"):
        node.store.path(name).write_bytes(b"garbage")
    code, reboots = run_health_failed(node, "--check", "stook-health-state.service")
    assert (code, reboots) == (cli.EXIT_OK, [])
    published = boot_status.read(node.status_file)
    assert published is not None and published.slot == "B"
    assert published.failure is not None and "unreadable" in published.failure.decision.reason


def test_mark_good_publishes_a_passed_status(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, b_tried(2), FAKE_CMDLINE_B, "2.0")
    assert node.run("mark-good") == cli.EXIT_OK
    published = boot_status.read(node.status_file)
    assert published is not None
    assert (published.slot, published.health, published.trial) == ("B", "passed", False)
    assert published.slots["B"].good and published.version == "2.0"


def test_the_failure_unit_hands_the_decision_to_stook_os(tmp_path: Path) -> None:
    """The OnFailure= handler's shell only calls `stook-os health-failed` with the failed unit
    systemd names in $MONITOR_UNIT (no policy of its own); a recording stook-os stands in."""
    root = Path(__file__).resolve().parents[3]
    script = root / "iso-build/overlay/usr/lib/stook/health/check"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    recorder = fake_bin / "stook-os"
    recorder.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "called"}\n')
    recorder.chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "MONITOR_UNIT": "stook-health-network.service"}
    result = subprocess.run(
        ["bash", str(script), "failed"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    called = (tmp_path / "called").read_text().split()
    assert called == ["health-failed", "--check", "stook-health-network.service"]
    assert "python3" not in script.read_text()  # the policy lives in stook_core.boot.status


def run_handler(tmp_path: Path, *args: str, failed_units: str = "") -> list[str] | None:
    """The handler's shell with a recording stook-os and a systemctl that lists *failed_units*
    as failed; what stook-os was called with (None: not called)."""
    root = Path(__file__).resolve().parents[3]
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "stook-os").write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "called"}\n')
    (fake_bin / "systemctl").write_text(
        f'#!/bin/sh\nfor u in {failed_units}; do echo "$u loaded failed failed x"; done\n'
    )
    for tool in ("stook-os", "systemctl"):
        (fake_bin / tool).chmod(0o755)
    (tmp_path / "called").unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", str(root / "iso-build/overlay/usr/lib/stook/health/check"), "failed", *args],
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    called = tmp_path / "called"
    return called.read_text().split() if called.exists() else None


def test_the_handler_names_the_unit_of_its_instance_without_monitor_unit(tmp_path: Path) -> None:
    """Two failures at once (a check and stook-boot-ok, which needed it) start the handler with
    $MONITOR_UNIT unset: the instance (stook-boot-failed@<unit>.service) names the check, and the
    stook-boot-ok instance stands down while a check's own handler reports it."""
    called = run_handler(tmp_path, "stook-health-sshd.service")
    assert called == ["health-failed", "--check", "stook-health-sshd.service"]
    assert (
        run_handler(tmp_path, "stook-boot-ok.service", failed_units="stook-health-sshd.service")
        is None
    )
    # mark-good itself failed (every check passed): that is the failure to report.
    called = run_handler(tmp_path, "stook-boot-ok.service")
    assert called == ["health-failed", "--check", "stook-boot-ok.service"]


def test_every_boot_check_starts_its_own_handler_instance() -> None:
    units = Path(__file__).resolve().parents[3] / "iso-build/overlay/usr/lib/systemd/system"
    checks = [*sorted(units.glob("stook-health-*.service")), units / "stook-boot-ok.service"]
    assert len(checks) >= 5
    for unit in checks:
        assert "\nOnFailure=stook-boot-failed@%n.service\n" in unit.read_text(), unit.name
    handler = (units / "stook-boot-failed@.service").read_text()
    assert "ExecStart=/usr/lib/stook/health/check failed %i\n" in handler
    assert not (units / "stook-boot-failed.service").exists()


def test_osimage_and_boot_do_not_import_each_other() -> None:
    """stook_core.osimage (image files) needs os-release parsing only (stook_core.osrelease);
    stook_core.boot uses osimage. A fresh interpreter shows which modules an import pulls in."""
    probe = (
        "import sys, stook_core.osimage; "
        "print(sorted(m for m in sys.modules if m.startswith('stook_core.boot')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
