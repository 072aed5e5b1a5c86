"""One stook-os command that writes the boot environment or a slot at a time.

``set-next``, ``mark-good`` and ``write-slot`` each read the environment, change it and write
it back (write-slot twice, minutes apart); two of them interleaved would lose one's change or
try a slot that is being overwritten. They share one ``flock`` on LOCK, taken before the
environment is read. The lock file names its holder, so a refusal says who holds it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stook_core.filelock import HeldError, holding

LOCK = Path("/run/lock/stook-os.lock")
WAIT_SECONDS = 10.0  # a set-next or mark-good ends within this; write-slot takes minutes


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
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                holding(
                    path,
                    f"stook-os {command}, pid {os.getpid()}",
                    WAIT_SECONDS if wait is None else wait,
                    clock=clock,
                    sleep=sleep,
                )
            )
        except HeldError as error:
            raise LockHeldError(
                f"another stook-os command is running ({error.holder}; lock {path}): "
                f"wait for it to end, then run {command} again"
            ) from None
        yield
