"""A fake clock for unit tests (a test double at the time boundary): callable like
``time.monotonic``, and its ``sleep`` advances it at once instead of waiting."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
