"""``stook.install.<path>=<value>`` kernel arguments as a (partial) InstallConfig document.

Only words starting with ``stook.`` matter; any other word is the kernel's or init's business and
is never read, whatever it holds. The booted OS's own words (``stook.slot=``, ``stook.state=``,
...) are left alone too. Every other ``stook.`` word must be ``stook.install.<field>[.<field>]``:
a word without ``=`` means ``true``; a repeated key becomes a list (only list fields may repeat).
Every mistake is reported at once, each naming its word; the values of secret fields never show.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from stook_core.config.model import InstallConfig
from stook_core.kernel_cmdline import KernelArg, is_text, split
from stook_core.problems import ConfigError, Problem

SOURCE = "kernel command line"
PREFIX = "stook."
SECTION = "install"
# Words of the booted OS (core/stook_core/boot): not install keys.
OS_KEYS = frozenset({"slot", "boot", "env", "state"})
# Keys that steer where the config comes from; they are not fields of the document.
LOADER_KEYS = frozenset({"config_url", "config_sha256", "config_ca"})
HOWTO = f"kernel keys are {PREFIX}{SECTION}.<field>[.<field>...]=<value>"


def _field_type(parts: list[str]) -> Any:
    """The annotation of the model field at *parts*, or None when there is no such field."""
    model: Any = InstallConfig
    annotation: Any = None
    for part in parts:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        annotation = info.annotation
        candidates = [annotation, *get_args(annotation)]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return annotation


def _is_list_field(parts: list[str]) -> bool | None:
    """True for a list field, False for another known field, None when the path is unknown."""
    annotation = _field_type(parts)
    if annotation is None:
        return None
    kinds = [annotation, *get_args(annotation)]
    return any(get_origin(kind) is list or kind is list for kind in kinds)


@dataclass
class _Collector:
    values: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    words: dict[tuple[str, ...], str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def refuse(self, word: str, message: str, value: str | None = None) -> None:
        self.problems.append(Problem.of(word, message, value))

    def add(self, arg: KernelArg) -> None:
        key = arg.param[len(PREFIX) :]
        parts = key.split(".")
        if not is_text(arg.param):  # named with U+FFFD for the bad bytes, so it still prints
            shown = arg.param.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            self.refuse(shown, "is not UTF-8 text")
            return
        if parts[0] in OS_KEYS and len(parts) == 1:
            return
        if parts[0] != SECTION:
            close = difflib.get_close_matches(parts[0], [SECTION], n=1)
            hint = f"; did you mean {PREFIX}{SECTION}?" if close else ""
            self.refuse(arg.param, f"is not an install key: {HOWTO}{hint}")
            return
        if len(parts) == 1:
            self.refuse(arg.param, f"names no field: {HOWTO}")
            return
        if "" in parts:
            self.refuse(arg.param, f"has an empty part between dots: {HOWTO}")
            return
        value = "true" if arg.value is None else arg.value
        if not is_text(value):
            self.refuse(arg.param, "has a value that is not UTF-8 text")
            return
        path = tuple(parts[1:])
        self.values.setdefault(path, []).append(value)
        self.words.setdefault(path, arg.param)

    def repeats(self) -> None:
        for path, values in self.values.items():
            if len(values) == 1:
                continue
            if path[0] in LOADER_KEYS or _is_list_field([SECTION, *path]) is False:
                self.refuse(
                    self.words[path],
                    f"is given {len(values)} times; give it once (only list fields repeat)",
                )

    def conflicts(self) -> None:
        for path in self.values:
            for length in range(1, len(path)):
                if path[:length] in self.values:
                    self.refuse(
                        self.words[path],
                        f"conflicts with {self.words[path[:length]]}, which gives the same "
                        "field a value of its own",
                    )
                    break

    def document(self) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for path, values in self.values.items():
            node = nested
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = values[0] if len(values) == 1 else values
        return {SECTION: nested} if nested else {}


def parse_cmdline(cmdline: bytes | str) -> dict[str, Any]:
    """The ``stook.install.*`` words of *cmdline*, nested; ConfigError naming every bad word."""
    collector = _Collector()
    for arg in split(cmdline):
        if arg.param.startswith(PREFIX):
            collector.add(arg)
    collector.repeats()
    collector.conflicts()
    if collector.problems:
        raise ConfigError(collector.problems, SOURCE)
    return collector.document()
