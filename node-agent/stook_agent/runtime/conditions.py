"""Status conditions as Kubernetes defines them (metav1.Condition)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

ConditionStatus = Literal["True", "False", "Unknown"]
MAX_MESSAGE = 32768


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[dict[str, Any]] | None,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """Return *conditions* with *type_* set; lastTransitionTime moves only when status changes."""
    previous = {c.get("type"): c for c in conditions or []}
    old = previous.get(type_)
    transition = (
        old["lastTransitionTime"]
        if old is not None and old.get("status") == status and old.get("lastTransitionTime")
        else (now or now_rfc3339())
    )
    new = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "observedGeneration": observed_generation,
        "lastTransitionTime": transition,
    }
    result = [c for c in conditions or [] if c.get("type") != type_]
    result.append(new)
    return sorted(result, key=lambda c: str(c.get("type")))


def find_condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None
