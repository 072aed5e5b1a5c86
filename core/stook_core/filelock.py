"""An exclusive ``flock`` on a file that names its holder, so a refusal can say who holds it.

Shared by the installer (one install per machine) and ``stook-os`` (one writer of the boot
environment at a time); each wraps ``HeldError`` in its own message.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

POLL_SECONDS = 0.2


class HeldError(RuntimeError):
    """Someone else holds the lock; ``holder`` is what its lock file says."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def holding(
    path: Path,
    holder: str,
    wait: float = 0.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lock at *path*, waiting up to *wait* seconds for another holder to end; while
    held, the file says *holder*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        deadline = clock() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    handle.seek(0)
                    raise HeldError(path, handle.read().strip() or "another process") from None
                sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
