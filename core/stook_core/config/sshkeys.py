"""One authorized_keys line, checked as sshd(8) reads it (AUTHORIZED_KEYS FILE FORMAT).

``[options] keytype base64-key [comment]``. Options are comma-separated, either a flag
(``no-pty``) or ``name="value"`` (a ``\\"`` inside the quotes is a literal quote, as sshd
dequotes); names are sshd's, compared case-insensitively. The key is decoded and parsed as
the SSH wire format of its type, and the type written inside it must equal the stated one.
An entry is exactly one line: a newline, CR or NUL could smuggle in a second key.
"""

from __future__ import annotations

import base64
import binascii
import re

# keytype -> how its public blob continues after the type string: "ed25519" (32-byte key),
# "rsa" (e, n), "ecdsa:<curve>:<point bytes>"; an "sk-" type ends with an application string.
KEY_TYPES: dict[str, str] = {
    "ssh-ed25519": "ed25519",
    "ssh-rsa": "rsa",
    "ecdsa-sha2-nistp256": "ecdsa:nistp256:65",
    "ecdsa-sha2-nistp384": "ecdsa:nistp384:97",
    "ecdsa-sha2-nistp521": "ecdsa:nistp521:133",
    "sk-ssh-ed25519@openssh.com": "ed25519",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ecdsa:nistp256:65",
}
# OpenSSH 9 (the node's sshd) refuses DSA keys and RSA moduli below 1024 bits.
REFUSED_TYPES = {"ssh-dss": "DSA keys are refused by the node's OpenSSH; use ssh-ed25519"}
RSA_MIN_BITS = 1024
MAX_LINE = 16 * 1024

FLAG_OPTIONS = frozenset(
    {
        "agent-forwarding", "cert-authority", "no-agent-forwarding", "no-port-forwarding",
        "no-pty", "no-user-rc", "no-x11-forwarding", "port-forwarding", "pty",
        "no-touch-required", "verify-required", "restrict", "user-rc", "x11-forwarding",
    }
)  # fmt: skip
VALUE_OPTIONS = frozenset(
    {
        "command", "environment", "expiry-time", "from", "permitlisten", "permitopen",
        "principals", "tunnel",
    }
)  # fmt: skip
_EXPIRY = re.compile(r"^\d{8}(\d{4}(\d{2})?)?Z?$")
_ENVIRONMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PORT = r"(\*|[0-9]{1,5})"
_PERMITOPEN = re.compile(rf"^(\[[^\]]+\]|[^:\s]+):{_PORT}$")
_PERMITLISTEN = re.compile(rf"^((\[[^\]]+\]|[^:\s]+):)?{_PORT}$")
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


class KeyLineError(ValueError):
    """Why a line is not one authorized_keys entry; reads after the value."""


def check_authorized_key(line: str) -> str:
    """*line* when it is exactly one valid authorized_keys entry; KeyLineError otherwise."""
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL")):
        if char in line:
            raise KeyLineError(f"has {name}: give each key as its own list entry")
    if len(line) > MAX_LINE:
        raise KeyLineError(f"is longer than {MAX_LINE} characters")
    text = line.strip(" \t")
    if not text or text.startswith("#"):
        raise KeyLineError("is not an SSH public key line: [options] type base64-key [comment]")
    first, _, rest = _split_word(text)
    if first not in KEY_TYPES and first not in REFUSED_TYPES:
        _check_options(first)
        if not rest:
            raise KeyLineError("has options but no key after them")
        first, _, rest = _split_word(rest)
    _check_key(first, rest)
    return line


def _split_word(text: str) -> tuple[str, str, str]:
    """The first field up to unquoted whitespace, the separator, and the rest: sshd's own
    scan (a backslash-quote is skipped whole, a bare quote toggles quoting)."""
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and text.startswith('"', index + 1):
            index += 1
        elif char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            return text[:index], char, text[index:].lstrip(" \t")
        index += 1
    if quoted:
        raise KeyLineError("has an unterminated quote in its options")
    return text, "", ""


def _options(field: str) -> list[tuple[str, str | None]]:
    """``name`` / ``name="value"`` pairs of an options field (commas inside quotes kept)."""
    found: list[tuple[str, str | None]] = []
    index = 0
    while index < len(field):
        match = re.match(r"[A-Za-z0-9-]+", field[index:])
        if match is None:
            raise KeyLineError(f"has a malformed option at {field[index : index + 20]!r}")
        name = match.group(0)
        index += len(name)
        value = None
        if field.startswith('="', index):
            index += 2
            chars = []
            while index < len(field) and field[index] != '"':
                if field.startswith('\\"', index):
                    index += 1
                chars.append(field[index])
                index += 1
            if index >= len(field):
                raise KeyLineError(f"has an unterminated quote in option {name}")
            index += 1
            value = "".join(chars)
        found.append((name, value))
        if index < len(field):
            if field[index] != ",":
                raise KeyLineError(f"has {field[index]!r} after option {name}; expected ','")
            index += 1
            if index == len(field):
                raise KeyLineError("has a trailing ',' in its options")
    return found


def _check_options(field: str) -> None:
    for name, value in _options(field):
        key = name.lower()
        if key in FLAG_OPTIONS:
            if value is not None:
                raise KeyLineError(f"gives option {name} a value; it takes none")
        elif key in VALUE_OPTIONS:
            if value is None:
                raise KeyLineError(f'needs a quoted value for option {name} ({name}="...")')
            _check_value(key, value)
        else:
            known = ", ".join(sorted(FLAG_OPTIONS | VALUE_OPTIONS))
            raise KeyLineError(
                f"has {name!r}, not a key option sshd knows, or an unknown key type "
                f"(options: {known}; types: {', '.join(KEY_TYPES)})"
            )


def _check_value(name: str, value: str) -> None:
    """The option values sshd would refuse when it reads the line."""
    if any(char in _CONTROL for char in value):
        raise KeyLineError(f"has a control character in option {name}")
    bad = {
        "tunnel": not value.isdigit(),
        "expiry-time": not _EXPIRY.match(value),
        "environment": not _ENVIRONMENT.match(value),
        "permitopen": not all(_PERMITOPEN.match(p) for p in value.split(",")),
        "permitlisten": not all(_PERMITLISTEN.match(p) for p in value.split(",")),
        "from": not value.strip() or " " in value,
        "principals": not value.strip(),
    }
    if bad.get(name, False):
        raise KeyLineError(f"has an invalid value for option {name}: {value!r}")


def _check_key(keytype: str, rest: str) -> None:
    if keytype in REFUSED_TYPES:
        raise KeyLineError(f"is a {keytype} key: {REFUSED_TYPES[keytype]}")
    if keytype not in KEY_TYPES:
        raise KeyLineError(f"has {keytype!r}, not a key type (types: {', '.join(KEY_TYPES)})")
    blob, *tail = re.split(r"[ \t]+", rest, maxsplit=1)
    comment = tail[0] if tail else ""
    if not blob:
        raise KeyLineError(f"has no base64 key after {keytype}")
    if any(not char.isprintable() and char != "\t" for char in comment):
        raise KeyLineError("has a control character in its comment")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise KeyLineError("has a key that is not valid base64") from None
    _parse_blob(keytype, raw)


class _Reader:
    """SSH wire format (RFC 4251): uint32-length-prefixed strings."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.data):
            raise KeyLineError("has a truncated key")
        length = int.from_bytes(self.data[self.at : self.at + 4], "big")
        start = self.at + 4
        if start + length > len(self.data):
            raise KeyLineError("has a truncated key")
        self.at = start + length
        return self.data[start : self.at]

    def done(self) -> bool:
        return self.at == len(self.data)


def _parse_blob(keytype: str, raw: bytes) -> None:
    reader = _Reader(raw)
    inner = reader.string().decode("ascii", "replace")
    if inner != keytype:
        raise KeyLineError(f"says {keytype} but its key is of type {inner!r}")
    shape = KEY_TYPES[keytype]
    if shape == "ed25519":
        if len(reader.string()) != 32:
            raise KeyLineError("has an ed25519 key that is not 32 bytes")
    elif shape == "rsa":
        reader.string()  # public exponent
        modulus = reader.string().lstrip(b"\0")
        bits = int.from_bytes(modulus, "big").bit_length()
        if bits < RSA_MIN_BITS:
            raise KeyLineError(f"has a {bits}-bit RSA key; sshd needs at least {RSA_MIN_BITS}")
    else:
        _, curve, size = shape.split(":")
        if reader.string().decode("ascii", "replace") != curve:
            raise KeyLineError(f"has an ECDSA key whose curve is not {curve}")
        point = reader.string()
        if len(point) != int(size) or point[:1] != b"\x04":
            raise KeyLineError(f"has an ECDSA {curve} point of the wrong size or form")
    if keytype.startswith("sk-"):
        reader.string()  # the FIDO application ("ssh:")
    if not reader.done():
        raise KeyLineError("has extra bytes after its key")
