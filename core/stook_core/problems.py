"""Validation problems: one field path, the offending value and the rule it broke."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

REDACTED = "<redacted>"

# Field paths whose values are secrets: a problem report never shows their value. Proxy URLs
# are among them: whatever is wrong with one, its text may hold a password (user:pass@host).
SECRET_FIELDS = frozenset(
    {
        "install.token",
        "install.password",
        "install.proxy.http_proxy",
        "install.proxy.https_proxy",
        "install.join_check.api_token",
    }
)
KERNEL_PREFIX = "stook."
P = TypeVar("P")  # a problem type: its str() is one line of a report
SHOWN_CHARACTERS = 80  # a longer value is cut: a report line must stay readable


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def child_path(path: str, part: object) -> str:
    """*path* extended by one key or index: ``a.b``, ``a[0]``, or ``a["odd key"]`` for a key that
    is not a plain name (so every path reads unambiguously, whatever the document's keys)."""
    if isinstance(part, int) and not isinstance(part, bool):
        return f"{path}[{part}]"
    if isinstance(part, str) and _PLAIN_KEY.match(part):
        return f"{path}.{part}" if path else part
    return f"{path}[{json.dumps(str(part), ensure_ascii=False)}]"


def is_secret(path: str) -> bool:
    """True for a secret field, an item or part of one, and its kernel argument."""
    plain = path.removeprefix(KERNEL_PREFIX)
    return any(
        plain == field or plain.startswith((f"{field}[", f"{field}.")) for field in SECRET_FIELDS
    )


def render_value(value: Any) -> str:
    """Show a value the way an operator typed it: strings quoted, numbers bare, long ones cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
    elif value is None:
        text = "null"
    else:
        try:
            text = str(value)
        except ValueError:  # an int too long to print
            text = "(a value too long to show)"
    if len(text) > SHOWN_CHARACTERS:
        return f"{text[: SHOWN_CHARACTERS - 20]}... ({len(text)} characters)"
    return text


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
        if missing or value is None or is_secret(path):
            return cls(path, message)
        return cls(path, message, render_value(value))


class ProblemsError(ValueError, Generic[P]):
    """Every problem of one input at once, reported the same way by every door: a line naming
    the input and the count, then one indented line per problem, in the order given."""

    def __init__(self, problems: list[P], source: str) -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


class ConfigError(ProblemsError[Problem]):
    """Raised with every problem of a document at once (sorted by field path)."""

    def __init__(self, problems: list[Problem], source: str = "install config") -> None:
        super().__init__(sorted(set(problems)), source)
