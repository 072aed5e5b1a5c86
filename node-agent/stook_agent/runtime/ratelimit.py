"""Requeue delays after errors: per-key exponential back-off, capped (as client-go's)."""

from __future__ import annotations

import threading
from collections.abc import Hashable


class ExponentialBackoff:
    """Delay ``base * 2**failures`` per key, at most ``cap``; ``forget`` resets a key."""

    def __init__(self, base: float = 0.5, cap: float = 300.0) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def when(self, key: Hashable) -> float:
        """Record one more failure of *key* and return how long to wait before retrying it."""
        with self._lock:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        # 2**failures overflows float for huge counts; the cap is reached long before.
        return float(min(self.cap, self.base * 2.0 ** min(failures, 64)))

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)
