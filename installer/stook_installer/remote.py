"""What the installer asks of other machines: is the join server there, and which SSH keys to trust.

``check_server`` runs the supervisor part of the install-time join check
(``engine.join.JoinPreflight.supervisor``): the RKE2 supervisor's ``/cacerts`` must be the CA the
token's ``K10<sha256>`` hash names, and ``/ping`` must answer ``pong`` over TLS verified with that
CA. A token without the hash (RKE2's short form) cannot pin the CA: the check then says so, and
the CA is trusted as first seen, as the install-time check does.

``fetch_keys`` downloads an authorized_keys-style list (for example ``https://github.com/USER.keys``)
and checks every line with the InstallConfig model's own rule for ``install.ssh_authorized_keys``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr, TypeAdapter, ValidationError

from stook_core.config.model import AuthorizedKey
from stook_installer.engine.events import Event
from stook_installer.engine.join import NOTHING_TOUCHED, JoinPreflight, JoinRefused

MAX_KEYS_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0

_KEY = TypeAdapter(AuthorizedKey)


class RemoteError(Exception):
    """The other machine could not be reached or gave the wrong answer; the text says which."""


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"answered HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"could not be reached: {error.reason}"
    if isinstance(error, TimeoutError):
        return "did not answer in time"
    return f"could not be reached: {error}"


def check_server(
    server_url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT
) -> tuple[str, ...]:
    """Raise RemoteError unless the supervisor at *server_url* serves the CA *token* pins and
    answers ``/ping`` with a certificate that CA signed; the warnings otherwise."""
    parts = urlsplit(server_url)
    if parts.scheme != "https" or not parts.hostname:
        raise RemoteError(f"{server_url} is not an https:// server URL")
    preflight = JoinPreflight(timeout=timeout)
    try:
        return preflight.supervisor(f"https://{parts.netloc}", SecretStr(token), _quiet)
    except JoinRefused as refused:
        advice = refused.advice.removesuffix(NOTHING_TOUCHED).strip()
        raise RemoteError(f"{refused.command}: {refused.stderr}. {advice}") from None


def _quiet(_event: Event) -> None:
    """The page shows the outcome, not each step."""


@dataclass
class FetchedKeys:
    """The usable keys of a fetched list, and the lines that are not keys (1-based numbers)."""

    keys: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, message)


def check_key_lines(text: str) -> FetchedKeys:
    """Every non-blank, non-comment line checked as an authorized key with the model's rule."""
    result = FetchedKeys()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            result.keys.append(_KEY.validate_python(line))
        except ValidationError as error:
            result.rejected.append((number, line, error.errors()[0]["msg"]))
    return result


def fetch_keys(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> FetchedKeys:
    """Download *url* (http or https, TLS verified) and check each line; RemoteError on failure."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"{url} is not an http:// or https:// URL")
    try:
        with urllib.request.urlopen(parts.geturl(), timeout=timeout) as response:
            data = response.read(MAX_KEYS_BYTES + 1)
    except (OSError, ValueError) as error:
        raise RemoteError(f"{url} {_reason(error)}") from None
    if len(data) > MAX_KEYS_BYTES:
        raise RemoteError(f"{url} is larger than {MAX_KEYS_BYTES // 1024} KiB: not a key list")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteError(f"{url} is not UTF-8 text: not a key list") from None
    result = check_key_lines(text)
    if not result.keys and not result.rejected:
        raise RemoteError(f"{url} holds no keys")
    return result
