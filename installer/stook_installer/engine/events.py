"""Install progress as events: every step starts, may progress, and finishes or fails.

An ``EventSink`` is any callable taking an ``Event``; the TUI, the console printer and the
JSON-lines writer are sinks, and ``fan_out`` feeds several. Events never carry secrets: their
messages are built from commands and file paths, never from file contents.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Literal

Phase = Literal["start", "progress", "finish", "fail"]


@dataclass(frozen=True)
class Event:
    step: str
    phase: Phase
    message: str = ""
    fraction: float | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """A sink that drops every event."""


def fan_out(*sinks: EventSink) -> EventSink:
    def send(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return send


class JsonLinesSink:
    """Writes each event as one JSON line and flushes, so a crash loses nothing written."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(event.to_json() + "\n")
        self.stream.flush()


class ConsoleSink:
    """Progress as plain lines on a console (the unattended mode's output)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._shown: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        if event.phase == "progress":
            if event.fraction is None:
                line = f"  {event.step}: {event.message}" if event.message else ""
            else:
                percent = int(event.fraction * 100)
                if percent // 10 == self._shown.get(event.step, -1) // 10 and percent < 100:
                    return  # one line per 10 % is enough on a serial console
                self._shown[event.step] = percent
                line = f"  {event.step}: {percent:3d}% {event.message}".rstrip()
        else:
            mark = {"start": "->", "finish": "ok", "fail": "!!"}[event.phase]
            line = f"[{mark}] {event.step}" + (f": {event.message}" if event.message else "")
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()
