"""SHA-512 crypt ("$6$"), as written by glibc, in pure Python.

The standard library's ``crypt`` module is deprecated and gone in Python 3.13, and passlib is
unmaintained, so the installer carries this small, test-vector-checked implementation of
Ulrich Drepper's specification (https://www.akkadia.org/drepper/SHA-crypt.txt).
"""

from __future__ import annotations

import hashlib
import re
import secrets

_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT = 5000
_ROUNDS_MIN, _ROUNDS_MAX = 1000, 999_999_999
_SALT_MAX = 16

HASH_PATTERN = re.compile(r"^\$6\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")


def is_sha512_crypt(value: str) -> bool:
    """True when *value* is a complete SHA-512 crypt hash (``$6$salt$hash``)."""
    return bool(HASH_PATTERN.match(value))


def _b64_24bit(b2: int, b1: int, b0: int, count: int) -> str:
    word = (b2 << 16) | (b1 << 8) | b0
    chars = []
    for _ in range(count):
        chars.append(_ALPHABET[word & 0x3F])
        word >>= 6
    return "".join(chars)


def _repeat_to(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _digest(password: bytes, salt: bytes, rounds: int) -> bytes:
    sha = hashlib.sha512
    alternate = sha(password + salt + password).digest()
    ctx = sha(password + salt)
    remaining = len(password)
    while remaining > 64:
        ctx.update(alternate)
        remaining -= 64
    ctx.update(alternate[:remaining])
    bits = len(password)
    while bits:
        ctx.update(alternate if bits & 1 else password)
        bits >>= 1
    intermediate = ctx.digest()

    p_bytes = _repeat_to(sha(password * len(password)).digest(), len(password))
    s_bytes = _repeat_to(sha(salt * (16 + intermediate[0])).digest(), len(salt))

    current = intermediate
    for round_no in range(rounds):
        ctx = sha(p_bytes if round_no & 1 else current)
        if round_no % 3:
            ctx.update(s_bytes)
        if round_no % 7:
            ctx.update(p_bytes)
        ctx.update(current if round_no & 1 else p_bytes)
        current = ctx.digest()
    return current


def _encode(digest: bytes) -> str:
    out = []
    for i in range(21):
        triple = (i, i + 21, i + 42)
        shift = i % 3
        rotated = triple[shift:] + triple[:shift]
        high, middle, low = (digest[k] for k in rotated)
        out.append(_b64_24bit(high, middle, low, 4))
    out.append(_b64_24bit(0, 0, digest[63], 2))
    return "".join(out)


def sha512_crypt(password: str, salt: str | None = None, rounds: int | None = None) -> str:
    """Hash *password* as ``$6$[rounds=N$]salt$hash``; a random 16-character salt by default."""
    if salt is None:
        salt = "".join(secrets.choice(_ALPHABET) for _ in range(_SALT_MAX))
    salt = salt[:_SALT_MAX]
    prefix = "$6$"
    if rounds is not None:
        rounds = min(max(rounds, _ROUNDS_MIN), _ROUNDS_MAX)
        prefix += f"rounds={rounds}$"
    digest = _digest(password.encode(), salt.encode(), rounds or ROUNDS_DEFAULT)
    return f"{prefix}{salt}${_encode(digest)}"


def verify(password: str, hashed: str) -> bool:
    """True when *password* produces *hashed* (constant-time comparison)."""
    match = re.match(r"^\$6\$(?:rounds=(\d+)\$)?([^$]{0,16})\$", hashed)
    if not match:
        return False
    rounds = int(match.group(1)) if match.group(1) else None
    return secrets.compare_digest(sha512_crypt(password, match.group(2), rounds), hashed)
