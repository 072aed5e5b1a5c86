"""GET the install config at ``config_url``: bounded in time and size, retried only if that helps.

Each attempt has one deadline for everything (connect, TLS, headers, body): the body is read in
chunks against a monotonic clock, and a watchdog shuts the socket when the deadline passes, so a
server that drips a byte every few seconds cannot hold the installer. Only http and https are
fetched. Errors that waiting cannot heal (a 4xx other than 408/429, a redirect loop or a redirect
to another scheme, a certificate that does not verify, a body over the size cap, a SHA-256 that
does not match) end the fetch at once; the rest (no route yet, DNS, 5xx, a timeout, a truncated
body) are retried with exponential back-off because the network may still be coming up.

URLs are shown with their user:password and query replaced by ``<redacted>`` everywhere (logs,
problems): either may carry a token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import logging
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from stook_core.config.yamldoc import MAX_BYTES
from stook_core.problems import REDACTED, ConfigError, Problem

log = logging.getLogger(__name__)

URL_KEY = "install.config_url"
SHA256_KEY = "install.config_sha256"
CA_KEY = "install.config_ca"
SCHEMES = ("http", "https")
CHUNK = 64 * 1024
MAX_REDIRECTS = 5
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def redact_url(url: str) -> str:
    """*url* without its user:password and query (either may carry a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED if "@" in url or "?" in url else url
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{REDACTED}@{host}{port}" if "@" in parts.netloc else parts.netloc
    query = REDACTED if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=""))


_USERINFO = re.compile(r"(\w+://)[^/@\s]*@")
_QUERY = re.compile(r"\?[^\s'\"]*")


def scrub(text: str) -> str:
    """*text* (an error message) with any URL's user:password and query redacted."""
    return _QUERY.sub(f"?{REDACTED}", _USERINFO.sub(rf"\1{REDACTED}@", text))


@dataclass(frozen=True)
class Location:
    """Where the config is and how to trust it: the URL, an optional SHA-256 pin and CA file."""

    url: str
    sha256: str | None = None
    ca_file: Path | None = None
    # Extra request headers (an Authorization may be a secret: never shown in the repr).
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return f"Location({redact_url(self.url)!r}, sha256={self.sha256!r}, ca={self.ca_file!r})"

    def problems(self) -> list[Problem]:
        """What is wrong before anything is fetched (never worth a retry)."""
        found: list[Problem] = []
        shown = redact_url(self.url)
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError as error:
            return [Problem.of(URL_KEY, f"is not a valid URL ({error})", shown)]
        if any(char.isspace() or not char.isprintable() for char in self.url):
            found.append(Problem.of(URL_KEY, "has white space or control characters", shown))
        elif not self.url.isascii():
            found.append(
                Problem.of(URL_KEY, "has non-ASCII characters: percent-encode them", shown)
            )
        if parts.scheme.lower() not in SCHEMES:
            found.append(Problem.of(URL_KEY, "must be an http:// or https:// URL", shown))
        elif not parts.hostname:
            found.append(Problem.of(URL_KEY, "names no host", shown))
        if self.sha256 is not None and not _HEX64.match(self.sha256):
            found.append(Problem.of(SHA256_KEY, "is not a SHA-256 (64 hex digits)", self.sha256))
        if self.ca_file is not None and not self.ca_file.is_file():
            found.append(Problem.of(CA_KEY, "is not a readable file", str(self.ca_file)))
        return found


class _PermanentError(Exception):
    """A failure that another attempt cannot heal."""


class _Attempt:
    """One GET with one deadline; ``abort`` (from the watchdog) shuts its sockets."""

    def __init__(self, location: Location, context: ssl.SSLContext, deadline: float) -> None:
        self.location = location
        self.context = context
        self.deadline = deadline
        self.connections: list[http.client.HTTPConnection] = []
        self.aborted = False

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.aborted:
            raise TimeoutError("the deadline passed")
        return left

    def abort(self) -> None:
        self.aborted = True
        for connection in self.connections:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _opener(self) -> urllib.request.OpenerDirector:
        attempt = self

        def track(kind: type[http.client.HTTPConnection]) -> Callable[..., Any]:
            def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
                kwargs["timeout"] = attempt.remaining()
                connection = kind(host, **kwargs)
                attempt.connections.append(connection)
                return connection

            return make

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(track(http.client.HTTPConnection), req)

        class Https(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(
                    track(http.client.HTTPSConnection),
                    req,
                    context=attempt.context,
                )

        class Redirects(urllib.request.HTTPRedirectHandler):
            max_redirections = MAX_REDIRECTS

            def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
                target = urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
                if urlsplit(target).scheme.lower() not in SCHEMES:
                    raise _PermanentError(
                        f"redirects to {redact_url(target)}, which is not http(s)"
                    )
                return super().http_error_302(req, fp, code, msg, headers)

            http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

            def redirect_request(
                self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
            ) -> urllib.request.Request | None:
                new = super().redirect_request(req, fp, code, msg, headers, newurl)
                if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
                    new.remove_header("Authorization")  # credentials are for the first host only
                return new

        return urllib.request.build_opener(Http, Https, Redirects, urllib.request.ProxyHandler())

    def _request(self) -> urllib.request.Request:
        parts = urlsplit(self.location.url)
        headers = {"Accept": "application/yaml, text/yaml, */*", "User-Agent": "stook-installer"}
        headers.update(self.location.headers)
        if parts.username is not None:  # user:password@ becomes HTTP basic auth
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            host = parts.netloc.rpartition("@")[2]
            parts = parts._replace(netloc=host)
        return urllib.request.Request(urlunsplit(parts), headers=headers)

    def run(self) -> bytes:
        with self._opener().open(self._request(), timeout=self.remaining()) as response:
            declared = response.headers.get("Content-Length")
            expected = int(declared) if declared and declared.isdigit() else None
            if expected is not None and expected > MAX_BYTES:
                raise _PermanentError(f"is {expected} bytes, more than the {MAX_BYTES} allowed")
            return self._body(response, expected)

    def _body(self, response: http.client.HTTPResponse, expected: int | None) -> bytes:
        chunks: list[bytes] = []
        received = 0
        while True:
            self._set_timeout()
            chunk = response.read1(CHUNK)
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_BYTES:
                raise _PermanentError(f"is more than the {MAX_BYTES} bytes allowed")
            chunks.append(chunk)
        if expected is not None and received < expected:
            raise http.client.IncompleteRead(b"".join(chunks), expected - received)
        return b"".join(chunks)

    def _set_timeout(self) -> None:
        """Each read may wait only for what is left of the attempt's deadline."""
        left = self.remaining()
        for connection in self.connections:
            if connection.sock is not None:
                connection.sock.settimeout(left)


def _describe(error: BaseException) -> tuple[str, bool]:
    """What went wrong, for the operator, and whether another attempt may heal it."""
    if isinstance(error, _PermanentError):
        return str(error), False
    if isinstance(error, urllib.error.HTTPError):
        if 300 <= error.code < 400:  # urllib's reason here is a paragraph naming the URL
            return (
                f"HTTP {error.code}: a redirect loop or more than {MAX_REDIRECTS} redirects",
                False,
            )
        status = f"HTTP {error.code} {error.reason}".rstrip()
        healable = error.code >= 500 or error.code in (408, 429)
        return status, healable
    if isinstance(error, (http.client.InvalidURL, UnicodeError)):
        return f"the URL cannot be requested ({type(error).__name__})", False  # text may quote it
    if isinstance(error, http.client.IncompleteRead):
        return (
            f"the body ended early: {len(error.partial)} of "
            f"{len(error.partial) + (error.expected or 0)} bytes arrived",
            True,
        )
    reason: object = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate does not verify: {reason.verify_message}", False
    if isinstance(reason, TimeoutError):
        return "no complete answer before the deadline", True
    if isinstance(reason, (OSError, http.client.HTTPException)):
        return str(reason) or type(reason).__name__, True
    if isinstance(reason, str):
        return reason, True
    return f"{type(reason).__name__}: {reason}", False


def _tls_context(location: Location) -> ssl.SSLContext:
    """The system CAs, or only the CA file given (``config_ca``)."""
    cafile = str(location.ca_file) if location.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as error:
        problem = Problem.of(CA_KEY, f"holds no usable CA certificate ({error})", cafile)
        raise ConfigError([problem], redact_url(location.url)) from None


def _run_once(location: Location, context: ssl.SSLContext, timeout: float) -> bytes:
    """One attempt in a worker thread, so that even a stuck DNS lookup cannot pass the deadline."""
    attempt = _Attempt(location, context, time.monotonic() + timeout)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["body"] = attempt.run()
        except BaseException as error:  # handed to the caller as it is
            outcome["error"] = error

    worker = threading.Thread(target=work, name="config-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        attempt.abort()  # a body cut short by the abort must not pass for a whole one
        worker.join(1.0)
        raise TimeoutError("the deadline passed")
    if "error" in outcome:
        raise outcome["error"]
    body: bytes = outcome["body"]
    return body


def get_once(location: Location, context: ssl.SSLContext, timeout: float) -> bytes:
    """One GET of *location* trusting *context*, bounded by *timeout* for everything and by
    the size cap; raises what urllib raises (``describe_failure`` says what it means)."""
    return _run_once(location, context, timeout)


def describe_failure(error: BaseException) -> tuple[str, bool]:
    """What a failed GET means for the operator, and whether another attempt may heal it."""
    return _describe(error)


@dataclass
class Fetcher:
    """GET a config URL, retrying with exponential back-off (the network may still be coming up).

    *timeout* bounds each whole attempt (connect, headers and body together).
    """

    attempts: int = 10
    timeout: float = 10.0
    first_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    tried: list[str] = field(default_factory=list)

    def __call__(self, location: Location) -> bytes:
        shown = redact_url(location.url)
        problems = location.problems()
        if problems:
            raise ConfigError(problems, shown)
        context = _tls_context(location)
        delay = self.first_delay
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                body = _run_once(location, context, self.timeout)
            except Exception as error:  # every failure becomes a problem
                last_error, healable = _describe(error)
                last_error = scrub(last_error)  # a proxy or redirect URL may be quoted
                self.tried.append(last_error)
                log.warning(
                    "config_url %s: attempt %d/%d failed: %s",
                    shown, attempt, self.attempts, last_error,
                )  # fmt: skip
                if not healable:
                    break
                if attempt < self.attempts:
                    self.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
                continue
            _check_sha256(body, location)
            return body
        raise ConfigError(
            [
                Problem.of(
                    URL_KEY,
                    f"could not be fetched after {len(self.tried)} attempt(s): {last_error}",
                    shown,
                )
            ],
            shown,
        )


def _check_sha256(body: bytes, location: Location) -> None:
    """The pin is checked on the raw bytes; a mismatch is never retried (see the docs)."""
    if location.sha256 is None:
        return
    actual = hashlib.sha256(body).hexdigest()
    if actual != location.sha256.lower():
        raise ConfigError(
            [
                Problem.of(
                    SHA256_KEY,
                    f"does not match the document fetched ({len(body)} bytes, SHA-256 {actual})",
                    location.sha256,
                )
            ],
            redact_url(location.url),
        )
