"""install.ssh_authorized_keys: each entry is exactly one authorized_keys line as sshd reads it.

Real keys come from ssh-keygen; ssh-keygen -l (which parses authorized_keys lines, options
included) is the oracle for lines the validator accepts."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from stook_core.config import validate_document
from stook_core.config.sshkeys import KeyLineError, check_authorized_key
from support.configs import create_document, ed25519_key
from support.tiers import require_commands

FIELD = "install.ssh_authorized_keys[0]"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One real public key line per type ssh-keygen makes."""
    require_commands("ssh-keygen")
    folder = tmp_path_factory.mktemp("keys")
    found = {}
    for name, argv in {
        "ed25519": ["-t", "ed25519"],
        "rsa": ["-t", "rsa", "-b", "2048"],
        "ecdsa256": ["-t", "ecdsa", "-b", "256"],
        "ecdsa384": ["-t", "ecdsa", "-b", "384"],
        "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    }.items():
        path = folder / name
        subprocess.run(
            ["ssh-keygen", "-q", "-N", "", "-C", f"ops@{name}", *argv, "-f", str(path)],
            check=True,
        )
        found[name] = path.with_suffix(".pub").read_text().strip()
    return found


def sshd_accepts(line: str, folder: Path) -> bool:
    """ssh-keygen -l reads authorized_keys files as sshd does (options, then the key)."""
    path = folder / "authorized_keys"
    path.write_text(line + "\n")
    result = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, check=False)
    return result.returncode == 0


def problems(line: object) -> list[str]:
    document = create_document()
    document["install"]["ssh_authorized_keys"] = [line]
    return [str(p) for p in validate_document(document)[1]]


OPTIONS = [
    "",
    'from="10.0.0.0/8,!10.0.0.1" ',
    'command="echo \\"hi, there\\"",no-pty,no-port-forwarding ',
    'restrict,port-forwarding,permitopen="10.0.0.5:22",permitlisten="localhost:8080" ',
    'environment="LANG=C",expiry-time="20300101",principals="ops,dev",tunnel="0" ',
    "NO-PTY,No-X11-Forwarding ",
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa256", "ecdsa384", "ecdsa521"])
def test_real_keys_with_options_are_accepted_like_sshd_does(
    keys: dict[str, str], kind: str, options: str, tmp_path: Path
) -> None:
    line = options + keys[kind]
    assert sshd_accepts(line, tmp_path), line
    assert problems(line) == []


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda k: k + "\n" + ed25519_key(9), "has a newline: give each key as its own"),
        (lambda k: k + "\r", "has a carriage return"),
        (lambda k: k.replace(" ", "\0", 1), "has a NUL"),
        (lambda k: "", "is not an SSH public key line"),
        (lambda k: "# " + k, "is not an SSH public key line"),
        (lambda k: "ssh-foo " + k.split()[1], "'ssh-foo', not a key option sshd knows"),
        (lambda k: "no-pty", "has options but no key after them"),
        (lambda k: "no-ptyy " + k, "'no-ptyy', not a key option sshd knows"),
        (lambda k: 'no-pty="x" ' + k, "gives option no-pty a value"),
        (lambda k: "command " + k, 'needs a quoted value for option command (command="...")'),
        (lambda k: 'command="ls ' + k, "unterminated quote"),
        (lambda k: 'command="a"x ' + k, "has 'x' after option command"),
        (lambda k: "no-pty, " + k, "has a trailing ','"),
        (lambda k: 'tunnel="x" ' + k, "invalid value for option tunnel"),
        (lambda k: 'expiry-time="soon" ' + k, "invalid value for option expiry-time"),
        (lambda k: 'environment="=x" ' + k, "invalid value for option environment"),
        (lambda k: 'permitopen="host" ' + k, "invalid value for option permitopen"),
        (lambda k: 'from="" ' + k, "invalid value for option from"),
        (lambda k: k.split()[0], "has no base64 key after ssh-ed25519"),
        (lambda k: k.replace("AAAA", "AA!A", 1), "is not valid base64"),
        (lambda k: k.replace("ssh-ed25519", "ssh-rsa", 1), "says ssh-rsa but its key is"),
        (lambda k: k.replace("ssh-ed25519", "ssh-dss", 1), "DSA keys are refused"),
        (lambda k: f"ssh-ed25519 {k.split()[1][:40]}", "truncated key"),
        (lambda k: k + "\x1b[2J", "has a control character in its comment"),
    ],
)
def test_a_broken_line_is_refused_with_the_reason(
    keys: dict[str, str], edit: object, reason: str
) -> None:
    assert callable(edit)
    found = problems(edit(keys["ed25519"]))
    assert len(found) == 1 and found[0].startswith(FIELD), found
    assert reason in found[0]


def _blob(*parts: bytes) -> str:
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


E, POINT = b"\x01\x00\x01", b"\x04"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ssh-ed25519 " + _blob(b"ssh-ed25519", bytes(31)), "not 32 bytes"),
        ("ssh-ed25519 " + _blob(b"ssh-ed25519", bytes(32), b"x"), "extra bytes after its key"),
        ("ssh-rsa " + _blob(b"ssh-rsa", E, bytes([0, *[255] * 64])), "512-bit RSA key"),
        ("ecdsa-sha2-nistp256 " + _blob(b"ecdsa-sha2-nistp256", b"nistp384", POINT + bytes(64)),
         "curve is not nistp256"),
        ("ecdsa-sha2-nistp256 " + _blob(b"ecdsa-sha2-nistp256", b"nistp256", POINT + bytes(10)),
         "point of the wrong size"),
    ],
)  # fmt: skip
def test_a_key_blob_must_be_a_whole_key_of_its_type(line: str, reason: str) -> None:
    with pytest.raises(KeyLineError, match=reason):
        check_authorized_key(line)


def test_a_non_string_entry_is_refused() -> None:
    assert problems(12) == [f"{FIELD}: 12 is not a string"]
