"""The A/B slot state model: what the boot environment means and how it may change.

Variables (in both copies of the environment, see store.py):

- ``ORDER``      "A B" or "B A": the slot GRUB tries first, then the other
- ``<S>_OK``     "1" once the booted system marked slot S good (health check passed), else "0"
- ``<S>_LEFT``   attempts left for S while it is not good, "0".."9"; GRUB spends one per boot
- ``<S>_VERSION`` the OS version written into S ("" = empty, or being written)
- ``BOOTED``     the slot GRUB booted last (written by GRUB on every boot)

GRUB boots the first slot in ORDER that is good or has attempts left, spending an attempt when
it is not good; when none qualifies ("exhausted") it boots the first slot in ORDER that holds an
image, spending nothing. Userspace knows which slot it runs from ``stook.slot=`` on the kernel
command line. Every function here is pure: it takes a BootEnv and returns a new one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, cast

Slot = Literal["A", "B"]
SLOTS: tuple[Slot, Slot] = ("A", "B")
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS = 9  # GRUB script cannot do arithmetic: the decrement is spelled out per value
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$")
KNOWN_KEYS = frozenset(
    {"ORDER", "BOOTED"} | {f"{s}_{k}" for s in SLOTS for k in ("OK", "LEFT", "VERSION")}
)


class BootEnvInvalidError(ValueError):
    """Environment content that GRUB's script would not act on as intended."""


def other(slot: Slot) -> Slot:
    return "B" if slot == "A" else "A"


def parse_slot(text: str) -> Slot:
    value = text.strip().upper()
    if value not in SLOTS:
        raise ValueError(f"unknown slot {text!r} (slots: A, B)")
    return value


def _check_attempts(attempts: int) -> None:
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise ValueError(f"attempts must be 1..{MAX_ATTEMPTS}, got {attempts}")


def check_version(version: str) -> str:
    if version and not VERSION_RE.match(version):
        raise ValueError(f"invalid OS version {version!r} (letters, digits, . + ~ _ -; <= 64)")
    return version


@dataclass(frozen=True)
class SlotState:
    ok: bool = False
    left: int = 0
    version: str = ""

    @property
    def bootable(self) -> bool:
        """GRUB would boot it without being exhausted."""
        return self.ok or self.left > 0


@dataclass(frozen=True)
class BootEnv:
    order: tuple[Slot, Slot] = ("A", "B")
    a: SlotState = SlotState()
    b: SlotState = SlotState()
    booted: Slot | None = None  # as recorded by GRUB
    extra: Mapping[str, str] = field(default_factory=dict)  # unknown keys, kept on save

    def slot(self, slot: Slot) -> SlotState:
        return self.a if slot == "A" else self.b

    def with_slot(self, slot: Slot, state: SlotState) -> BootEnv:
        return replace(self, a=state) if slot == "A" else replace(self, b=state)

    def to_grubenv(self) -> dict[str, str]:
        env = {"ORDER": " ".join(self.order)}
        for name in SLOTS:
            state = self.slot(name)
            env[f"{name}_OK"] = "1" if state.ok else "0"
            env[f"{name}_LEFT"] = str(state.left)
            env[f"{name}_VERSION"] = state.version
        env["BOOTED"] = self.booted or ""
        env.update(self.extra)
        return env

    @classmethod
    def from_grubenv(cls, env: Mapping[str, str]) -> BootEnv:
        """Strict: BootEnvInvalidError for anything GRUB's script would read differently."""
        order = env.get("ORDER")
        if order not in ("A B", "B A"):
            raise BootEnvInvalidError(f'ORDER must be "A B" or "B A", got {order!r}')
        states = {}
        for name in SLOTS:
            ok = env.get(f"{name}_OK")
            left = env.get(f"{name}_LEFT")
            version = env.get(f"{name}_VERSION", "")
            if ok not in ("0", "1"):
                raise BootEnvInvalidError(f'{name}_OK must be "0" or "1", got {ok!r}')
            if left is None or not re.fullmatch(r"[0-9]", left):
                raise BootEnvInvalidError(f"{name}_LEFT must be 0..{MAX_ATTEMPTS}, got {left!r}")
            try:
                check_version(version)
            except ValueError as error:
                raise BootEnvInvalidError(f"{name}_VERSION: {error}") from error
            states[name] = SlotState(ok == "1", int(left), version)
        booted = env.get("BOOTED", "")
        if booted not in ("", "A", "B"):
            raise BootEnvInvalidError(f'BOOTED must be "", "A" or "B", got {booted!r}')
        return cls(
            order=cast(tuple[Slot, Slot], tuple(order.split())),
            a=states["A"],
            b=states["B"],
            booted=cast(Slot, booted) if booted else None,
            extra={k: v for k, v in env.items() if k not in KNOWN_KEYS},
        )


def initial_state(version: str = "", attempts: int = DEFAULT_ATTEMPTS) -> BootEnv:
    """A fresh install: slot A (holding *version*) on trial with every attempt, slot B empty."""
    _check_attempts(attempts)
    return BootEnv(order=("A", "B"), a=SlotState(False, attempts, check_version(version)))


def invalidate(env: BootEnv, slot: Slot) -> BootEnv:
    """Before writing an image into *slot*: GRUB must never boot a half-written slot, not even
    as the fallback of a fallback, so it loses its good flag, attempts and version."""
    return env.with_slot(slot, SlotState())


def set_next(
    env: BootEnv, slot: Slot, version: str | None = None, attempts: int = DEFAULT_ATTEMPTS
) -> BootEnv:
    """Try *slot* on the next boot. Resets all assessment state, so nothing left over from an
    earlier trial (spent attempts, a stale good flag of the image that was replaced) can force a
    fallback or skip the trial: *slot* is untested with every attempt, the other slot keeps its
    good flag and gets every attempt back (unless it holds no image). Idempotent."""
    _check_attempts(attempts)
    target = env.slot(slot)
    version = target.version if version is None else check_version(version)
    partner = env.slot(other(slot))
    env = env.with_slot(slot, SlotState(False, attempts, version))
    if not partner.version:  # an empty or half-written partner must never become bootable
        partner = SlotState()
    env = env.with_slot(other(slot), replace(partner, left=attempts if partner.version else 0))
    return replace(env, order=(slot, other(slot)))


def mark_good(env: BootEnv, slot: Slot, attempts: int = DEFAULT_ATTEMPTS) -> BootEnv:
    """The health check passed on *slot*: good, attempts reset. ORDER is kept, so a fallback
    stays visible until the next set_next."""
    _check_attempts(attempts)
    return env.with_slot(slot, replace(env.slot(slot), ok=True, left=attempts))


@dataclass(frozen=True)
class BootChoice:
    slot: Slot
    trial: bool  # an attempt was spent
    exhausted: bool  # no slot was good or had attempts left
    env: BootEnv  # what GRUB saves before booting


def grub_pick(env: BootEnv) -> BootChoice:
    """What the GRUB script of grubcfg.py does with *env* (kept in step with it by tests)."""
    for name in env.order:
        state = env.slot(name)
        if state.ok:
            return BootChoice(name, False, False, replace(env, booted=name))
        if state.left > 0:
            spent = env.with_slot(name, replace(state, left=state.left - 1))
            return BootChoice(name, True, False, replace(spent, booted=name))
    holding = [name for name in env.order if env.slot(name).version]
    name = holding[0] if holding else env.order[0]
    return BootChoice(name, False, True, replace(env, booted=name))


@dataclass(frozen=True)
class Assessment:
    booted: Slot
    intended: Slot  # first in ORDER
    fell_back: bool  # the intended slot was passed over: its attempts are spent
    pending: Slot | None  # a slot other than the booted one that GRUB will try next boot
    trial: bool  # the booted slot is not yet marked good
    message: str


def assess(env: BootEnv, booted: Slot) -> Assessment:
    """What the booted system should report about its boot."""
    intended = env.order[0]
    state = env.slot(booted)
    trial = not state.ok
    next_boot = grub_pick(env).slot
    pending = next_boot if next_boot != booted else None
    fell_back = booted != intended and not env.slot(intended).bootable
    if fell_back:
        message = (
            f"FALLBACK: slot {intended} was tried and never marked good (attempts spent); "
            f"booted slot {booted}"
        )
    elif trial:
        message = f"slot {booted} is on trial: not yet marked good, {state.left} attempt(s) left"
    else:
        message = f"slot {booted} is good"
    if pending is not None:
        message += f"; next boot: slot {pending}" + (" unless marked good" if trial else "")
    return Assessment(booted, intended, fell_back, pending, trial, message)
