"""The boot environment on the ESP, kept twice with a lock each (the Mender scheme).

Files, relative to the ESP (GRUB's save_env rewrites files in place and cannot create them, so
all four exist from the install on, each a 1024-byte GRUB environment block):

- ``boot/grub/grubenv``        copy 1 (GRUB's default environment file)
- ``boot/grub/grubenv.lock``   ``STOOK_EDITING=1`` while copy 1 is being written, else 0
- ``boot/grub/grubenv2``       copy 2
- ``boot/grub/grubenv2.lock``  the same for copy 2

Writers (userspace here, GRUB in grubcfg.py) update copy 1 completely (lock, write, unlock) and
only then copy 2, so at any moment at least one copy is unlocked and whole. Readers take copy 1
when it is unlocked and valid, else copy 2. A power cut can therefore lose at most the write in
progress, never the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stook_core.boot import grubenv

GRUB_DIR = "boot/grub"
COPIES = ("grubenv", "grubenv2")
LOCK_VAR = "STOOK_EDITING"
Validator = Callable[[Mapping[str, str]], object]


class BootEnvUnreadableError(RuntimeError):
    """Neither copy of the boot environment is unlocked and valid."""


@dataclass(frozen=True)
class Loaded:
    env: dict[str, str]
    copy: int  # 1 or 2: the copy that was used
    consistent: bool  # both copies unlocked, valid and equal
    notes: tuple[str, ...] = ()


def _lock_name(copy: str) -> str:
    return f"{copy}.lock"


class EnvStore:
    """The two copies under *esp* (where the ESP is mounted; a tmp dir in tests)."""

    def __init__(self, esp: Path, grub_dir: str = GRUB_DIR) -> None:
        self.esp = esp
        self.dir = esp / grub_dir
        self.grub_dir = grub_dir

    def path(self, name: str) -> Path:
        return self.dir / name

    @staticmethod
    def files(env: Mapping[str, str], grub_dir: str = GRUB_DIR) -> dict[str, bytes]:
        """ESP-relative path -> content of all four files, for an installer that stages the
        ESP (mtools) instead of mounting it."""
        out: dict[str, bytes] = {}
        for copy in COPIES:
            out[f"{grub_dir}/{copy}"] = grubenv.render(env)
            out[f"{grub_dir}/{_lock_name(copy)}"] = grubenv.render({LOCK_VAR: "0"})
        return out

    def create(self, env: Mapping[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.save(env)

    def _read_copy(
        self, copy: str, validate: Validator | None
    ) -> tuple[dict[str, str] | None, str]:
        try:
            lock = grubenv.read(self.path(_lock_name(copy)))
        except (OSError, grubenv.GrubEnvError) as error:
            return None, f"{copy}: lock unreadable ({error})"
        if lock.get(LOCK_VAR) != "0":
            return None, f"{copy}: locked (a write was interrupted)"
        try:
            env = grubenv.read(self.path(copy))
            if validate is not None:
                validate(env)
        except (OSError, ValueError) as error:
            return None, f"{copy}: invalid ({error})"
        return env, ""

    def load(self, validate: Validator | None = None) -> Loaded:
        """The environment GRUB will use: copy 1 if unlocked and valid, else copy 2.

        *validate* raises ValueError for content that is well-formed but meaningless."""
        first, note1 = self._read_copy(COPIES[0], validate)
        second, note2 = self._read_copy(COPIES[1], validate)
        notes = tuple(n for n in (note1, note2) if n)
        if first is not None:
            return Loaded(first, 1, second == first, notes)
        if second is not None:
            return Loaded(second, 2, False, notes)
        raise BootEnvUnreadableError("no usable copy of the boot environment: " + "; ".join(notes))

    def save(self, env: Mapping[str, str]) -> None:
        """Copy 1 (lock, write, unlock), then copy 2 the same way."""
        block = grubenv.render(env)  # fails before touching anything when it does not fit
        del block
        for copy in COPIES:
            lock = self.path(_lock_name(copy))
            grubenv.write(lock, {LOCK_VAR: "1"})
            grubenv.write(self.path(copy), env)
            grubenv.write(lock, {LOCK_VAR: "0"})
