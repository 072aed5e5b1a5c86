from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stook_installer.engine.actions import Run
from stook_installer.engine.consent import Consent, ErasedDisk, plan_digest
from stook_installer.engine.events import Event
from stook_installer.engine.plan import Plan, WipeDisk, WriteState, build_plan
from stook_installer.engine.runner import ConsentRefused, PlanRefused, execute
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
    execute(plan, Consent.to(plan), events.append, dry_run=True)
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
        execute(rogue, Consent.to(rogue), events.append, dry_run=False)
    assert events == [] and no_commands == []


def test_a_failing_command_names_step_command_and_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(argv: Any, **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "wipefs: probing failed\n")

    monkeypatch.setattr(subprocess, "run", fail)
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    events: list[Event] = []
    with pytest.raises(Exception, match="step wipe-sda failed") as caught:
        execute(plan, Consent.to(plan), events.append, dry_run=False)
    message = str(caught.value)
    assert "wipefs --all --force /dev/sda1" in message and "probing failed" in message
    assert "what to do:" in message
    assert events[-1].phase == "fail" and events[-1].step == "wipe-sda"


# --- consent binds to the plan --------------------------------------------------------------------


def _plan() -> Plan:
    return build_plan(make_config("create"), profile("os-and-data"), IMAGE)


def _state(plan: Plan) -> WriteState:
    return next(step for step in plan.steps if isinstance(step, WriteState))


def _with_state(plan: Plan, state: WriteState) -> Plan:
    """*plan* with its write-state step replaced by *state*."""
    steps = tuple(state if isinstance(step, WriteState) else step for step in plan.steps)
    return dataclasses.replace(plan, steps=steps)


def _refused(plan: Plan, consent: Consent | None, match: str, *, dry_run: bool = False) -> None:
    events: list[Event] = []
    with pytest.raises(ConsentRefused, match=match) as caught:
        execute(plan, consent, events.append, dry_run=dry_run)
    assert "Nothing was touched" in str(caught.value)
    assert events == []


def test_a_consent_for_other_disks_is_refused_and_nothing_runs(no_commands: list[Any]) -> None:
    plan = _plan()
    shown = Consent.to(plan)
    other = profile("os-and-data").disks[-1]
    assert other not in plan.erased_disks
    _refused(plan, dataclasses.replace(shown, erase=(ErasedDisk.of(other),)), other.path)
    # The same path on a swapped disk (another serial) is another disk.
    swapped = dataclasses.replace(shown.erase[0], serial="SWAPPED-1")
    _refused(plan, dataclasses.replace(shown, erase=(swapped, *shown.erase[1:])), "SWAPPED-1")
    assert no_commands == []


def test_a_changed_plan_is_refused_and_nothing_runs(no_commands: list[Any]) -> None:
    plan = _plan()
    consent = Consent.to(plan)
    digest = "differs from the one confirmed"
    # One more step on the same disks.
    extra = WipeDisk(plan.erased_disks[0])
    _refused(dataclasses.replace(plan, steps=(*plan.steps, extra)), consent, digest)
    # Other node files (another hostname) in the state step.
    other = build_plan(make_config("create", hostname="other"), profile("os-and-data"), IMAGE)
    _refused(_with_state(plan, _state(other)), consent, digest)
    # The same config planned again (new filesystem UUIDs) is not the plan that was shown.
    _refused(_plan(), consent, digest, dry_run=True)
    assert no_commands == []


def test_no_consent_is_refused_except_for_a_dry_run(no_commands: list[Any]) -> None:
    plan = _plan()
    _refused(plan, None, "there is no consent to erase the disks")
    events: list[Event] = []
    execute(plan, None, events.append, dry_run=True)
    assert events and no_commands == []


def test_the_digest_of_one_plan_is_stable_and_covers_file_contents() -> None:
    """Consent.to(plan) and execute digest the plan at different times: the same object must
    give the same digest, and a file's content (not only its header) must change it."""
    plan = _plan()
    assert plan_digest(plan) == plan_digest(plan) == Consent.to(plan).plan_digest
    state = _state(plan)
    first, *rest = state.files
    same_size = dataclasses.replace(first, content=first.content.swapcase())
    assert len(same_size.data) == len(first.data) and same_size.content != first.content
    changed = dataclasses.replace(state, files=(same_size, *rest))
    assert plan_digest(_with_state(plan, changed)) != plan_digest(plan)
