"""A joining node's preflight: before any disk is touched, check the cluster it is to join.

RKE2 cannot run on these test machines and the install ends at the RKE2 config it writes, so
this is what a node can know before it erases anything:

1. the server's RKE2 supervisor (``install.server_url``, port 9345) answers ``/cacerts``. It is
   fetched without TLS verification, as RKE2's own agent does; when the token has RKE2's full
   form ``K10<sha256>::<user>:<password>``, the SHA-256 of that CA bundle must be the token's
   hash (otherwise the server is not the token's cluster, or something in between answers);
2. ``/ping`` answers ``pong`` over TLS verified against that CA, so the server holds a key the
   cluster CA signed, not only a copy of the public CA;
3. the Kubernetes API through the VIP (``install.join_check.api_url``, default the server's
   host on port 6443) answers over TLS verified against the same CA (RKE2 signs both serving
   certificates with it): a 200 to ``/version``, or a Kubernetes ``Status`` 401/403 when the
   node has no credential;
4. no Node named like this node exists, asked through the VIP with
   ``install.join_check.api_token``; without a token this check is skipped and a warning says
   so (RKE2 itself then refuses the agent at registration: the name's node password differs).

Every request is bounded as a whole (``timeout``, connect to last byte, and a size cap, by
stook_core.config.fetch). No answer yet (refused, unreachable, timeout, 5xx) is retried with
back-off until ``install.join_check.wait`` seconds have passed: in a rack every node PXE-boots
at once and the first node's server comes up minutes after the others ask. A wrong answer (a
CA that does not match, a certificate that does not verify, a hostname already taken) fails
at once. Failures are ``JoinRefused`` (an InstallFailed: what failed, the URL, what to do).
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from stook_core.config.fetch import Location, describe_failure, get_once
from stook_core.config.model import KUBE_API_PORT, InstallSpec
from stook_installer.engine.events import Event, EventSink
from stook_installer.engine.runner import InstallFailed

STEP = "join-check"
PONG = b"pong"
ERROR_BODY_BYTES = 64 * 1024
_FULL_TOKEN = re.compile(r"^K10([0-9a-f]{64})::")
T = TypeVar("T")

NOTHING_TOUCHED = "Nothing was touched."


class JoinRefused(InstallFailed):
    """A check of the cluster to join failed; no disk was touched."""


def token_ca_hash(token: str) -> str | None:
    """The CA hash of an RKE2 full token ``K10<sha256>::user:password``, else None."""
    match = _FULL_TOKEN.match(token)
    return match.group(1) if match else None


@dataclass(frozen=True)
class JoinTarget:
    """What a joining node checks: the supervisor and API URLs, its hostname, the secrets."""

    server_url: str
    api_url: str
    hostname: str
    token: SecretStr = field(repr=False)
    api_token: SecretStr | None = field(default=None, repr=False)
    wait: float = 0.0

    @classmethod
    def of(cls, spec: InstallSpec) -> JoinTarget:
        """The target of a join config (``server_url`` is required in mode join)."""
        assert spec.server_url is not None, "a join config has a server_url (rules.py)"
        check = spec.join_check
        api_url = check.api_url if check and check.api_url else None
        if api_url is None:
            host = urlsplit(spec.server_url).netloc.rpartition(":")[0]
            api_url = f"https://{host}:{KUBE_API_PORT}"
        return cls(
            server_url=spec.server_url,
            api_url=api_url,
            hostname=spec.hostname,
            token=spec.token,
            api_token=check.api_token if check else None,
            wait=float(check.wait) if check else 0.0,
        )


@dataclass(frozen=True)
class JoinChecked:
    """What the preflight found: the API's Kubernetes version (when it said), and warnings."""

    kubernetes_version: str | None
    warnings: tuple[str, ...] = ()


class _NoAnswerError(Exception):
    """Nothing answered yet (or a 5xx): waiting may heal it."""


class _WrongAnswerError(Exception):
    """Something answered, and not as the cluster must: waiting cannot heal it."""


def _unverified() -> ssl.SSLContext:
    """For /cacerts only: the CA is what is being fetched (and then checked by its hash)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _trusting(ca: bytes) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cadata=ca.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        raise _WrongAnswerError("sent no usable CA certificate from /cacerts") from None


@dataclass
class JoinPreflight:
    """Runs the checks; *timeout* bounds each request, *sleep*/*clock* pace the waiting."""

    timeout: float = 10.0
    first_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __call__(self, target: JoinTarget, sink: EventSink) -> JoinChecked:
        sink(Event(STEP, "start", f"check the cluster to join at {target.server_url}"))
        try:
            checked = self._checks(target, sink)
        except JoinRefused as refused:
            sink(Event(STEP, "fail", str(refused)))
            raise
        for warning in checked.warnings:
            sink(Event(STEP, "progress", f"warning: {warning}"))
        sink(Event(STEP, "finish", "the cluster answers; this node may join it"))
        return checked

    # --- the checks -----------------------------------------------------------------------

    def supervisor(self, server_url: str, token: SecretStr, sink: EventSink) -> tuple[str, ...]:
        """Only the supervisor's checks (checks 1 and 2), at once, without waiting: what the
        TUI's server page asks before the rest of the config exists. JoinRefused when one
        fails; the warnings otherwise (a token without a CA hash)."""
        target = JoinTarget(server_url, api_url="", hostname="", token=token)  # API not asked
        return tuple(self._supervisor(target, sink, self.clock())[1])

    def _checks(self, target: JoinTarget, sink: EventSink) -> JoinChecked:
        deadline = self.clock() + target.wait
        trust, warnings = self._supervisor(target, sink, deadline)
        version = self._answer(
            target, sink, f"{target.api_url}/version", deadline,
            lambda: self._api(target, trust),
        )  # fmt: skip
        shown = f" (Kubernetes {version})" if version else ""
        sink(Event(STEP, "progress", f"the Kubernetes API answers at {target.api_url}{shown}"))
        if target.api_token is None:
            warnings.append(
                f"whether a node named {target.hostname} already exists was not checked: "
                "install.join_check.api_token is not set (RKE2 refuses a second node of that "
                "name only when it registers, after the install)"
            )
        else:
            nodes = f"{target.api_url}/api/v1/nodes/{target.hostname}"
            self._answer(target, sink, nodes, deadline, lambda: self._no_node(target, trust))
            sink(Event(STEP, "progress", f"no node is named {target.hostname} yet"))
        return JoinChecked(version, tuple(warnings))

    def _supervisor(
        self, target: JoinTarget, sink: EventSink, deadline: float
    ) -> tuple[ssl.SSLContext, list[str]]:
        """The supervisor's CA, pinned to the token's hash, and ``/ping`` over TLS verified
        with it: the trust for the API checks, and the warnings so far."""
        warnings: list[str] = []
        cacerts = f"{target.server_url}/cacerts"
        ca = self._answer(target, sink, cacerts, deadline, lambda: self._fetch_ca(cacerts))
        expected = token_ca_hash(target.token.get_secret_value())
        actual = hashlib.sha256(ca).hexdigest()
        if expected is None:
            warnings.append(
                "the token is not RKE2's full form (K10<CA hash>::...), so the server's CA "
                f"(SHA-256 {actual}) is trusted as first seen"
            )
        elif actual != expected:
            raise JoinRefused(
                STEP, f"GET {cacerts}",
                f"the server's CA (SHA-256 {actual}) is not the one the token names: this "
                "server is not the token's cluster, or something in between answers for it",
                "Check install.token (the first node's /var/lib/rancher/rke2/server/token) and "
                f"install.server_url. {NOTHING_TOUCHED}",
            )  # fmt: skip
        else:
            sink(Event(STEP, "progress", "the server's CA is the one the token names"))
        trust = self._wrong(cacerts, lambda: _trusting(ca), "Check install.server_url.")
        ping = f"{target.server_url}/ping"
        self._answer(target, sink, ping, deadline, lambda: self._ping(ping, trust))
        sink(Event(STEP, "progress", f"the server answers {ping} with the cluster's certificate"))
        return trust, warnings

    def _fetch_ca(self, url: str) -> bytes:
        status, body = self._get(url, _unverified())
        if status != 200:
            raise _WrongAnswerError(
                f"answered HTTP {status} to /cacerts: it is not an RKE2 supervisor"
            )
        return body

    def _ping(self, url: str, trust: ssl.SSLContext) -> None:
        status, body = self._get(url, trust)
        if status != 200 or body.strip() != PONG:
            shown = body[:20].decode("utf-8", "replace")
            raise _WrongAnswerError(
                f"answered HTTP {status} {shown!r} to /ping, not 'pong': it is not an RKE2 "
                "supervisor"
            )

    def _api(self, target: JoinTarget, trust: ssl.SSLContext) -> str | None:
        status, body = self._get(f"{target.api_url}/version", trust, self._auth(target))
        answer = _json(body)
        if status == 200 and isinstance(answer.get("gitVersion"), str):
            return str(answer["gitVersion"])
        if status in (401, 403) and answer.get("kind") == "Status":
            if target.api_token is not None:
                raise _WrongAnswerError(
                    f"refused install.join_check.api_token (HTTP {status}): "
                    f"{answer.get('message', '')}".rstrip(": ")
                )
            return None  # it answered as a Kubernetes API does to a caller it does not know
        raise _WrongAnswerError(f"answered HTTP {status} to /version: it is not a Kubernetes API")

    def _no_node(self, target: JoinTarget, trust: ssl.SSLContext) -> None:
        url = f"{target.api_url}/api/v1/nodes/{target.hostname}"
        status, body = self._get(url, trust, self._auth(target))
        if status == 404:
            return
        if status == 200:
            raise _TakenError(target.hostname)
        message = _json(body).get("message", "")
        raise _WrongAnswerError(
            f"answered HTTP {status} to the node lookup: install.join_check.api_token may not "
            f"get nodes ({message})"
        )

    # --- requests and waiting -------------------------------------------------------------

    @staticmethod
    def _auth(target: JoinTarget) -> tuple[tuple[str, str], ...]:
        if target.api_token is None:
            return ()
        return (("Authorization", f"Bearer {target.api_token.get_secret_value()}"),)

    def _get(
        self, url: str, context: ssl.SSLContext, headers: tuple[tuple[str, str], ...] = ()
    ) -> tuple[int, bytes]:
        """(status, body) of one GET; _NoAnswerError when waiting may help, else
        _WrongAnswerError."""
        location = Location(url, headers=(("Accept", "application/json, */*"), *headers))
        try:
            return 200, get_once(location, context, self.timeout)
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code in (408, 429):
                raise _NoAnswerError(f"HTTP {error.code} {error.reason}".rstrip()) from None
            if 300 <= error.code < 400:
                raise _WrongAnswerError(describe_failure(error)[0]) from None
            try:
                body = error.read(ERROR_BODY_BYTES)
            except OSError:
                body = b""
            return error.code, body
        except Exception as error:  # every failure becomes an answer or a wait
            text, healable = describe_failure(error)
            raise (_NoAnswerError if healable else _WrongAnswerError)(text) from None

    def _answer(
        self,
        target: JoinTarget,
        sink: EventSink,
        url: str,
        deadline: float,
        call: Callable[[], T],
    ) -> T:
        """*call*'s result, trying again while nothing answers and the wait lasts."""
        delay, attempts, started = self.first_delay, 0, self.clock()
        while True:
            attempts += 1
            try:
                return self._wrong(url, call, _advice(url, target))
            except _NoAnswerError as error:
                left = deadline - self.clock()
                if left <= 0:
                    waited = self.clock() - started
                    raise JoinRefused(
                        STEP, f"GET {url}",
                        f"no answer after {attempts} attempt(s) in {waited:.0f} s: {error}",
                        f"{_advice(url, target)} The installer waits install.join_check.wait "
                        f"seconds (now {target.wait:.0f}) for a server that is still coming "
                        f"up. {NOTHING_TOUCHED}",
                    ) from None  # fmt: skip
                pause = min(delay, left)
                sink(Event(STEP, "progress", f"{url}: {error}; trying again in {pause:.0f} s"))
                self.sleep(pause)
                delay = min(delay * 2, self.max_delay)

    @staticmethod
    def _wrong(url: str, call: Callable[[], T], advice: str) -> T:
        try:
            return call()
        except _TakenError as taken:
            raise JoinRefused(
                STEP, f"GET {url}",
                f"a node named {taken.hostname} is already in the cluster",
                f"Give this node another install.hostname; if this machine replaces that node, "
                f"delete the old one first (kubectl delete node {taken.hostname}). "
                f"{NOTHING_TOUCHED}",
            ) from None  # fmt: skip
        except _WrongAnswerError as error:
            raise JoinRefused(
                STEP, f"GET {url}", str(error), f"{advice} {NOTHING_TOUCHED}"
            ) from None


class _TakenError(_WrongAnswerError):
    def __init__(self, hostname: str) -> None:
        super().__init__(hostname)
        self.hostname = hostname


def _advice(url: str, target: JoinTarget) -> str:
    if url.startswith(target.server_url):
        host = urlsplit(target.server_url).hostname
        return (
            f"Check install.server_url, that the first node is installed and runs its RKE2 "
            f"server (systemctl status rke2-server), and that this machine reaches {host} on "
            "port 9345."
        )
    return (
        "Check install.join_check.api_url (the cluster VIP, port 6443) and that the VIP is "
        "served (kube-vip on the first node)."
    )


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def check_join(
    spec: InstallSpec, sink: EventSink, preflight: JoinPreflight | None = None
) -> JoinChecked | None:
    """Run the join preflight for a join config (None for create: nothing to check)."""
    if spec.mode != "join":
        return None
    return (preflight or JoinPreflight())(JoinTarget.of(spec), sink)


def join_checks(spec: InstallSpec) -> list[str]:
    """What the preflight of *spec* will ask, for a dry run's plan (none for create)."""
    if spec.mode != "join":
        return []
    target = JoinTarget.of(spec)
    lines = [
        "Join check (made before any disk is touched; not in a dry run):",
        f"  GET {target.server_url}/cacerts: the cluster CA"
        + (
            ", checked against the token's hash"
            if token_ca_hash(spec.token.get_secret_value())
            else " (the token has no CA hash: trusted as first seen)"
        ),
        f"  GET {target.server_url}/ping over TLS verified with that CA: pong",
        f"  GET {target.api_url}/version: the Kubernetes API answers through the VIP",
    ]
    if target.api_token is not None:
        lines.append(f"  GET {target.api_url}/api/v1/nodes/{target.hostname}: not a node yet")
    else:
        lines.append("  (no install.join_check.api_token: the node name is not looked up)")
    if target.wait:
        lines.append(f"  waiting up to {target.wait:.0f} s for the server to answer")
    return lines
