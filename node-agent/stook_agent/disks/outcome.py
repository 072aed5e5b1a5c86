"""What a provisioner's step came to, in terms the reconciler turns into status and Events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["True", "False", "Unknown"]
Condition = tuple[Status, str, str]  # status, reason, message


@dataclass(frozen=True)
class Outcome:
    done: bool  # provisioned (apply) or released (release)
    reason: str  # the Ready condition's reason: CamelCase, for tools
    message: str  # ... and its message: for the operator
    refused: bool = False  # a refusal: also a Warning Event
    requeue_after: float | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)


def refuse(reason: str, message: str, retry: float | None = None) -> Outcome:
    return Outcome(False, reason, message, refused=True, requeue_after=retry)
