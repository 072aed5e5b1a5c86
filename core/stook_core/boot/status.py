"""The node's boot status: one typed model for ``stook-os status --json``, for what the boot's
health units publish in /run/stook/boot-status.json (``mark-good``: passed; ``health-failed``:
failed, with the check and the reboot-or-stay decision) and for the agent, which reads that
file through this model (stook_agent.bootstatus).

``from_node`` builds it from the boot environment and the kernel command line; ``decide`` is the
policy after a failed health check: reboot only when GRUB's next boot differs and is counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stook_core.boot import slots
from stook_core.boot.booted import Cmdline
from stook_core.boot.slots import Slot
from stook_core.boot.store import Loaded

STATUS_FILE = Path("/run/stook/boot-status.json")
UNKNOWN: Final = "unknown"
Health = Literal["unknown", "passed", "failed"]


class _Model(BaseModel):
    # Unknown fields are ignored: an older reader (the agent) reads a newer node's status.
    model_config = ConfigDict(frozen=True, extra="ignore")


class SlotStatus(_Model):
    good: bool = False
    attempts_left: int = Field(0, ge=0, le=slots.MAX_ATTEMPTS)
    version: str = ""


class Decision(_Model):
    """What the failure handler does after a required boot check failed, and why."""

    action: Literal["reboot", "stay"]
    reason: str


class HealthFailure(_Model):
    check: str = Field(description="the unit that failed, e.g. stook-health-network.service")
    at: datetime
    decision: Decision


class BootStatus(_Model):
    slot: Literal["A", "B", "unknown"] = UNKNOWN  # booted, from stook.slot= on the cmdline
    version: str = Field(UNKNOWN, max_length=128)  # of the running OS (os-release)
    order: tuple[Slot, Slot] = ("A", "B")
    slots: dict[Slot, SlotStatus] = Field(default_factory=dict)
    trial: bool = False  # the booted slot is not (yet) marked good
    fell_back: bool = False
    fell_back_reason: str = ""
    exhausted: bool = False  # GRUB found no good slot with attempts left (stook.boot=exhausted)
    env_unsaved: bool = False  # GRUB could not record this boot (stook.env=unsaved)
    next_boot: Slot | None = None  # what GRUB picks next boot ...
    next_boot_trial: bool = False  # ... spending one of its attempts
    message: str = ""
    environment_copy: int = 0  # 1 or 2: the copy read; 0 = none readable
    environment_consistent: bool = False
    mismatch: tuple[str, ...] = ()  # why the booted system and the environment disagree
    health: Health = UNKNOWN
    failure: HealthFailure | None = None

    @property
    def booted(self) -> Slot | None:
        return None if self.slot == UNKNOWN else self.slot

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def from_node(
    env: slots.BootEnv | None,
    loaded: Loaded | None,
    cmdline: Cmdline,
    os_version: str | None,
    mismatch: list[str],
) -> BootStatus:
    """The status of a node: *env* None when its boot environment is unreadable."""
    booted = cmdline.slot
    known = {
        "slot": booted or UNKNOWN,
        "version": os_version or UNKNOWN,
        "exhausted": cmdline.exhausted,
        "env_unsaved": cmdline.env_unsaved,
        "mismatch": tuple(mismatch),
    }
    if env is None or loaded is None:
        return BootStatus.model_validate(known)

    def recorded(name: Slot) -> str:
        """The version the environment records; the running one for the booted slot."""
        running = os_version or "" if name == booted else ""
        return env.slot(name).version or running

    choice = slots.grub_pick(env)
    assessment = slots.assess(env, booted) if booted is not None else None
    return BootStatus.model_validate(
        known
        | {
            "order": env.order,
            "slots": {
                name: SlotStatus(good=env.slot(name).ok, attempts_left=env.slot(name).left,
                                 version=recorded(name))
                for name in slots.SLOTS
            },
            "next_boot": choice.slot,
            "next_boot_trial": choice.trial,
            "environment_copy": loaded.copy,
            "environment_consistent": loaded.consistent,
            "trial": assessment is not None and assessment.trial,
            "fell_back": assessment is not None and assessment.fell_back,
            "fell_back_reason": assessment.message if assessment and assessment.fell_back else "",
            "message": assessment.message if assessment else "",
        }
    )  # fmt: skip


def decide(status: BootStatus) -> Decision:
    """After a required boot check failed: reboot only when that changes something and cannot
    loop for ever, i.e. when GRUB's next boot picks another slot or spends an attempt of this
    one; otherwise stay up for the operator (a reboot would boot the same thing again)."""

    def stay(reason: str) -> Decision:
        return Decision(action="stay", reason=reason)

    booted = status.booted
    if booted is None:
        return stay("this system was not booted from an A/B slot by Stook's GRUB")
    if status.environment_copy == 0:
        return stay("the boot environment is unreadable: GRUB would not count another attempt")
    if status.mismatch:
        return stay("the booted system does not match the boot environment: " + status.mismatch[0])
    if status.exhausted:
        return stay(
            "GRUB found no slot that is good or has attempts left and booted this one anyway: "
            "a reboot would boot it again"
        )
    if status.env_unsaved:
        return stay("GRUB could not record this boot (stook.env=unsaved): a reboot could loop")
    if not status.trial:
        return stay(f"slot {booted} is marked good: a reboot would boot it again")
    left = status.slots[booted].attempts_left if booted in status.slots else 0
    if status.next_boot is not None and status.next_boot != booted:
        return Decision(
            action="reboot",
            reason=f"slot {booted} is on trial with no attempts left: GRUB falls back to slot "
            f"{status.next_boot}",
        )
    if status.next_boot_trial:
        return Decision(
            action="reboot",
            reason=f"slot {booted} is on trial: GRUB tries it again ({left} attempt(s) left), "
            "then falls back",
        )
    return stay(f"slot {booted} is on trial but no other slot can boot: a reboot would not help")


def failed(status: BootStatus, check: str, at: datetime) -> tuple[BootStatus, Decision]:
    """The status to publish after *check* failed, and the decision taken."""
    decision = decide(status)
    failure = HealthFailure(check=check, at=at, decision=decision)
    return status.model_copy(update={"health": "failed", "failure": failure}), decision


def describe(status: BootStatus, notes: Sequence[str] = ()) -> list[str]:
    """``stook-os status`` for a person."""
    lines = [f"booted slot:  {status.slot} (OS version {status.version})"]
    if status.message:
        lines += [f"assessment:   {status.message}", f"next boot:    slot {status.next_boot}"]
    lines.append(f"boot order:   {' '.join(status.order)}")
    for name, info in status.slots.items():
        mark = "*" if name == status.slot else " "
        lines.append(
            f"{mark} slot {name}:     version {info.version or '(empty)'}, "
            f"{'good' if info.good else 'not good'}, {info.attempts_left} attempt(s) left"
        )
    if status.failure is not None:
        failure = status.failure
        lines.append(
            f"health check: FAILED ({failure.check} at {failure.at:%Y-%m-%d %H:%M:%S %Z}); "
            f"{failure.decision.action}: {failure.decision.reason}"
        )
    elif status.health == "passed":
        lines.append("health check: passed")
    if status.exhausted:
        lines.append(
            "WARNING: GRUB found no good slot with attempts left and booted this one anyway"
        )
    if not status.environment_consistent:
        lines.append(
            f"note: the two copies of the boot environment differ; using copy "
            f"{status.environment_copy} (the next write repairs the other)"
        )
    lines += [f"note: {note}" for note in notes]
    lines += [f"MISMATCH: {problem}" for problem in status.mismatch]
    return lines


def write(status: BootStatus, path: Path = STATUS_FILE) -> None:
    """Atomically (tmp + rename): a reader sees the old status or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(status.to_json(), encoding="utf-8")
    tmp.replace(path)


def read(path: Path = STATUS_FILE) -> BootStatus | None:
    """The published status; None when there is none or it is unreadable."""
    try:
        return BootStatus.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None
