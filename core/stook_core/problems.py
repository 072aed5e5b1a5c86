"""Validation problems: one field path, the offending value and the rule it broke."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REDACTED = "<redacted>"

# Field paths whose values are secrets: a problem report never shows their value.
SECRET_FIELDS = frozenset({"install.token", "install.password"})


def render_value(value: Any) -> str:
    """Show a value the way an operator typed it: strings quoted, numbers bare."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    if value is None:
        return "null"
    return str(value)


@dataclass(frozen=True, order=True)
class Problem:
    """One broken rule. ``value`` is None when the field is missing or secret."""

    path: str
    message: str
    value: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        shown = f"{self.value} " if self.value is not None else ""
        return f"{self.path}: {shown}{self.message}"

    @classmethod
    def of(cls, path: str, message: str, value: Any = None, *, missing: bool = False) -> Problem:
        """Build a problem, hiding the value of secret fields."""
        if missing or path in SECRET_FIELDS or value is None:
            return cls(path, message)
        return cls(path, message, render_value(value))


class ConfigError(ValueError):
    """Raised with every problem of a document at once."""

    def __init__(self, problems: list[Problem], source: str = "install config") -> None:
        self.problems = sorted(set(problems))
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)
