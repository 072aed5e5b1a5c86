"""Which workers are stuck: each records when its current reconcile started.

A reconcile should end within its bound (every API call has a timeout, commands have theirs);
one that does not is a hang the process cannot recover from by itself, so ``/healthz`` fails
and the supervisor (systemd) restarts the agent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Watchdog:
    def __init__(self, bound: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.bound = bound
        self._clock = clock
        self._started: dict[str, tuple[str, float]] = {}  # worker -> (key, started at)
        self._lock = threading.Lock()

    def begin(self, worker: str, key: str) -> None:
        with self._lock:
            self._started[worker] = (key, self._clock())

    def end(self, worker: str) -> None:
        with self._lock:
            self._started.pop(worker, None)

    def stuck(self) -> list[tuple[str, str, float]]:
        """(worker, key, seconds) of every reconcile running longer than the bound."""
        now = self._clock()
        with self._lock:
            running = list(self._started.items())
        return [
            (worker, key, now - started)
            for worker, (key, started) in running
            if now - started > self.bound
        ]
