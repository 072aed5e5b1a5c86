"""The operator's consent, bound to one plan: the disks to erase as shown, and the plan's digest.

A door (the TUI's confirmation, an unattended ``install.confirm_erase``) turns a yes into a
``Consent`` for the Plan it showed; ``execute`` runs a plan only with a consent that names
exactly that plan's erased disks (path, size, model, serial) and its digest. A plan built
again (new filesystem UUIDs), changed (another step, other files) or a consent for other disks
is refused before anything is touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from stook_core.hardware import Disk
from stook_installer.engine.actions import Action, WriteFiles
from stook_installer.engine.plan import Plan


@dataclass(frozen=True)
class ErasedDisk:
    """A disk as the erase notice shows it; the identity the operator agreed to lose."""

    path: str
    size: int
    model: str | None
    serial: str | None

    @classmethod
    def of(cls, disk: Disk) -> ErasedDisk:
        return cls(disk.path, disk.size, disk.model, disk.serial)

    def describe(self) -> str:
        words = [
            self.path,
            f"{self.size} bytes",
            self.model,
            self.serial and f"serial {self.serial}",
        ]
        return " ".join(w for w in words if w)


@dataclass(frozen=True)
class Consent:
    """Yes to erasing exactly ``erase`` by running exactly the plan with ``plan_digest``."""

    erase: tuple[ErasedDisk, ...]
    plan_digest: str

    @classmethod
    def to(cls, plan: Plan) -> Consent:
        """The consent to *plan* as shown: its erase notice and its digest."""
        return cls(erased_disks(plan), plan_digest(plan))


def erased_disks(plan: Plan) -> tuple[ErasedDisk, ...]:
    return tuple(ErasedDisk.of(disk) for disk in plan.erased_disks)


def _action_lines(action: Action) -> Iterator[str]:
    if not isinstance(action, WriteFiles):
        yield repr(action)
        return
    yield f"files under {action.root}"
    for node_file in action.files:  # the content counts, secrets included (hashed only)
        yield f"{node_file!r} sha256 {hashlib.sha256(node_file.data).hexdigest()}"


def plan_digest(plan: Plan) -> str:
    """SHA-256 over everything the plan would do: image, disks, every action and file."""
    digest = hashlib.sha256()
    lines = [f"image {plan.image}", *(repr(disk) for disk in erased_disks(plan))]
    for step in plan.steps:
        lines.append(f"step {step.name}: {step.title}")
        lines += [line for action in step.actions() for line in _action_lines(action)]
    for line in lines:
        digest.update(line.encode("utf-8", "backslashreplace") + b"\n")
    return digest.hexdigest()


def consent_problems(plan: Plan, consent: Consent) -> list[str]:
    """Why *consent* does not cover *plan*; empty when it does."""
    problems = []
    planned = erased_disks(plan)
    if consent.erase != planned:
        agreed = "; ".join(d.describe() for d in consent.erase) or "no disk"
        erased = "; ".join(d.describe() for d in planned) or "no disk"
        problems.append(f"the consent is to erase {agreed}, but the plan erases {erased}")
    if consent.plan_digest != plan_digest(plan):
        problems.append("the plan differs from the one confirmed (its digest changed)")
    return problems
