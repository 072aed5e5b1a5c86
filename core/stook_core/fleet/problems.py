"""Problems of an inventory: which hosts, which inventory variable, which config field.

One problem may concern several hosts (a cluster-wide value that is wrong for every node is said
once, naming them all). A secret's value is never shown, whatever the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stook_core.problems import ProblemsError, is_secret, render_value

# Inventory variables holding secrets; an ``install.`` override is checked as its config field.
_SECRET_SOURCES = ("token", "password", "api_token")


def secret_source(source: str) -> bool:
    """True when the inventory path *source* (``stook_cluster.token``...) holds a secret."""
    _, _, field = source.partition(".")
    if field.startswith("install.") or field.startswith("install["):
        return is_secret(field)
    head = field.split(".", 1)[0].split("[", 1)[0]
    return head in _SECRET_SOURCES


@dataclass(frozen=True, order=True)
class FleetProblem:
    """One broken rule. *hosts* empty: the inventory as a whole (a cluster variable);
    *field* is the InstallConfig field path it breaks, when a rendered config broke it."""

    source: str
    message: str
    hosts: tuple[str, ...] = ()
    field: str | None = None
    value: str | None = None

    @classmethod
    def of(
        cls,
        source: str,
        message: str,
        value: object = None,
        *,
        hosts: Iterable[str] = (),
        field: str | None = None,
    ) -> FleetProblem:
        hidden = value is None or secret_source(source) or (field is not None and is_secret(field))
        shown = None if hidden else render_value(value)
        return cls(source, message, tuple(hosts), field, shown)

    def __str__(self) -> str:
        where = f"{', '.join(self.hosts)}: " if self.hosts else ""
        field = f" ({self.field})" if self.field and self.field != self.source else ""
        value = f"{self.value} " if self.value is not None else ""
        return f"{where}{self.source}{field}: {value}{self.message}"


class FleetError(ProblemsError[FleetProblem]):
    """Every problem of an inventory at once; nothing was rendered."""

    def __init__(self, problems: Iterable[FleetProblem], source: str = "inventory") -> None:
        super().__init__(sorted(set(problems), key=_order), source)


def _order(problem: FleetProblem) -> tuple[bool, tuple[str, ...], str, str]:
    """Cluster-wide problems first, then host by host, each by variable."""
    return bool(problem.hosts), problem.hosts, problem.source, problem.message
