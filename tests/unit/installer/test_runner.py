from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stook_installer.engine.actions import Run
from stook_installer.engine.events import Event
from stook_installer.engine.plan import WipeDisk, build_plan
from stook_installer.engine.runner import PlanRefused, execute
from support.install_engine import make_config, profile

IMAGE = Path("/nonexistent/os.squashfs")


@pytest.fixture
def no_commands(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def forbidden(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise AssertionError(f"a command ran: {args}")

    monkeypatch.setattr(subprocess, "run", forbidden)
    return calls


def test_dry_run_reports_every_step_and_runs_nothing(no_commands: list[Any]) -> None:
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    events: list[Event] = []
    execute(plan, events.append, dry_run=True)
    starts = [e.step for e in events if e.phase == "start"]
    finishes = [e.step for e in events if e.phase == "finish"]
    assert starts == finishes == [s.name for s in plan.steps]
    assert no_commands == []


class _Rogue(WipeDisk):
    def actions(self) -> list[Any]:
        return [Run(("wipefs", "--all", "/dev/sdz"))]


def test_a_device_outside_the_plan_is_refused_before_anything_runs(
    no_commands: list[Any],
) -> None:
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    rogue = dataclasses.replace(plan, steps=(*plan.steps, _Rogue(plan.erased_disks[0])))
    events: list[Event] = []
    with pytest.raises(PlanRefused, match=r"/dev/sdz is not one of the disks this install erases"):
        execute(rogue, events.append, dry_run=False)
    assert events == [] and no_commands == []


def test_a_failing_command_names_step_command_and_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(argv: Any, **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "wipefs: probing failed\n")

    monkeypatch.setattr(subprocess, "run", fail)
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    events: list[Event] = []
    with pytest.raises(Exception, match="step wipe-sda failed") as caught:
        execute(plan, events.append, dry_run=False)
    message = str(caught.value)
    assert "wipefs --all --force /dev/sda1" in message and "probing failed" in message
    assert "what to do:" in message
    assert events[-1].phase == "fail" and events[-1].step == "wipe-sda"
