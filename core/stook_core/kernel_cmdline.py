"""Split a kernel command line the way the kernel itself does (lib/cmdline.c ``next_arg``).

Words are separated by the kernel's white space (space, tab, newline, CR, VT, FF and byte
0xA0, its Latin-1 no-break space). A double quote toggles quoting wherever it is; quoted
white space does not split. The kernel then removes one double quote at the start of the value
(``key="a b"``) or of the word (``"key=a b"``) and one at its end; quotes elsewhere stay. A
single quote and a backslash are ordinary characters. This is not shell syntax: ``shlex`` drops
backslashes and fails on a lone ``'``, which the kernel accepts.

The line is read as bytes, so a word that is not UTF-8 can be told apart (its text keeps the
bad bytes as surrogates, see ``is_text``) instead of making the whole line unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_SPACE = frozenset(b" \t\n\v\f\r\xa0")
_QUOTE = ord('"')
_EQUALS = ord("=")


@dataclass(frozen=True)
class KernelArg:
    """One word: ``param=value``, or ``param`` alone (value None)."""

    param: str
    value: str | None = field(repr=False)  # it may be a password

    def __str__(self) -> str:
        return self.param if self.value is None else f"{self.param}={self.value}"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def is_text(value: str) -> bool:
    """False when the word held bytes that are not UTF-8."""
    return not any("\udc80" <= char <= "\udcff" for char in value)


def _arg(word: bytes) -> KernelArg:
    """One word as next_arg splits and unquotes it (an ``=`` at its very start is not the split)."""
    quoted = word[:1] == b'"'
    body = word[1:] if quoted else word
    equals = body.find(b"=", 1)
    if equals < 0:
        param = body[:-1] if quoted and body.endswith(b'"') else body
        return KernelArg(_text(param), None)
    param, value = body[:equals], body[equals + 1 :]
    if value[:1] == b'"':
        value = value[1:]
        if value.endswith(b'"'):
            value = value[:-1]
    elif quoted and value.endswith(b'"'):
        value = value[:-1]
    return KernelArg(_text(param), _text(value))


def split(cmdline: bytes | str) -> list[KernelArg]:
    """Every word of *cmdline*, in order, as the kernel parses it."""
    data = (
        cmdline.encode("utf-8", errors="surrogateescape") if isinstance(cmdline, str) else cmdline
    )
    words: list[bytes] = []
    start: int | None = None
    in_quote = False
    for index, byte in enumerate(data):
        if start is None:
            if byte in _SPACE:
                continue
            start = index
        if byte in _SPACE and not in_quote:
            words.append(data[start:index])
            start, in_quote = None, False
        elif byte == _QUOTE:
            in_quote = not in_quote
    if start is not None:
        words.append(data[start:])
    return [_arg(word) for word in words]
