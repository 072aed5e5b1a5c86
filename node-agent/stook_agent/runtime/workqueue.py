"""A work queue of object keys with client-go semantics.

* A key is queued at most once however often it is added (de-duplication).
* A key being processed is never handed to a second worker; if it is added meanwhile it is
  queued again when the first worker calls ``done`` (so no update is lost).
* ``add_after`` delays a key; ``add_rate_limited`` delays it by the back-off for its failures.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable

from stook_agent.runtime.ratelimit import ExponentialBackoff


class ShutDownError(Exception):
    """The queue was shut down; the worker should exit."""


class WorkQueue:
    def __init__(
        self,
        backoff: ExponentialBackoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff or ExponentialBackoff()
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: list[tuple[float, int, str]] = []  # heap of (due, seq, key)
        self._due: dict[str, float] = {}
        self._seq = 0
        self._shutting_down = False

    # -- producers -------------------------------------------------------------------------

    def add(self, key: str) -> None:
        with self._cond:
            self._add_locked(key)

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutting_down:
                return
            due = self._clock() + delay
            if key in self._due and self._due[key] <= due:
                return  # already due sooner
            self._due[key] = due
            self._seq += 1
            heapq.heappush(self._waiting, (due, self._seq, key))
            self._cond.notify()

    def add_rate_limited(self, key: str) -> float:
        """Requeue *key* after its back-off; return the delay chosen."""
        delay = self.backoff.when(key)
        self.add_after(key, delay)
        return delay

    def retry_failed_now(self) -> int:
        """Queue now every delayed key that is waiting out an error back-off (not a requeue a
        reconcile asked for); returns how many. Their back-off counts stay."""
        with self._cond:
            failed = [key for key in self._due if self.backoff.failures(key) > 0]
            for key in failed:
                del self._due[key]  # its heap entry is skipped as superseded
                self._add_locked(key)
            return len(failed)

    def forget(self, key: str) -> None:
        """*key* succeeded: its next failure starts the back-off from the beginning."""
        self.backoff.forget(key)

    # -- consumers -------------------------------------------------------------------------

    def get(self) -> str:
        """Block until a key is ready, mark it processing and return it (or raise ShutDownError)."""
        with self._cond:
            while True:
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                if self._shutting_down:
                    raise ShutDownError
                timeout = self._waiting[0][0] - self._clock() if self._waiting else None
                self._cond.wait(timeout)

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()
            elif self._shutting_down and not self._processing:
                self._cond.notify_all()

    def shutdown(self, drain_timeout: float = 0.0) -> bool:
        """Stop handing out keys; wait up to *drain_timeout* for in-flight keys; True if idle."""
        deadline = time.monotonic() + drain_timeout
        with self._cond:
            self._shutting_down = True
            self._queue.clear()
            self._dirty.clear()
            self._waiting.clear()
            self._due.clear()
            self._cond.notify_all()
            while self._processing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # -- introspection ---------------------------------------------------------------------

    def depth(self) -> int:
        """Keys ready to be processed now (delayed keys not counted)."""
        with self._cond:
            return len(self._queue)

    def delayed(self) -> int:
        with self._cond:
            return len(self._due)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    # -- internals -------------------------------------------------------------------------

    def _add_locked(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._cond.notify()

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            due, _, key = heapq.heappop(self._waiting)
            if self._due.get(key) != due:
                continue  # superseded by an earlier add_after
            del self._due[key]
            self._add_locked(key)
