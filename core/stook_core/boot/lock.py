"""One stook-os command that writes the boot environment or a slot at a time.

``set-next``, ``mark-good`` and ``write-slot`` each read the environment, change it and write
it back (write-slot twice, minutes apart); two of them interleaved would lose one's change or
try a slot that is being overwritten. They share one ``flock`` on LOCK, taken before the
environment is read. The lock file names its holder, so a refusal says who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK = Path("/run/lock/stook-os.lock")
WAIT_SECONDS = 10.0  # a set-next or mark-good ends within this; write-slot takes minutes
POLL_SECONDS = 0.2


class LockHeldError(RuntimeError):
    """Another stook-os command holds the lock; the message names it and what to do."""


@contextlib.contextmanager
def hold(
    path: Path,
    command: str,
    wait: float | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lock at *path* for *command*, waiting up to *wait* seconds (WAIT_SECONDS by
    default) for a holder to end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        deadline = clock() + (WAIT_SECONDS if wait is None else wait)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise LockHeldError(
                        f"another stook-os command is running ({holder}; lock {path}): "
                        f"wait for it to end, then run {command} again"
                    ) from None
                sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(f"stook-os {command}, pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
