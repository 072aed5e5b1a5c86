"""HTTP(S) to an OS image server, the same for the node's download and the controller's Image
pre-check: one TLS context from the optional CA file (``stook-agent --upgrade-ca-file``), one
connection pool with a connect and a read timeout, and one way to say what a failure was.

Both sides use the same trust on purpose: a pre-check that trusts what the nodes do not (or the
other way round) passes an Upgrade that then fails on every node, or refuses one that would work.
"""

from __future__ import annotations

import ssl

import urllib3

CA_OPTION = "--upgrade-ca-file"
UNTRUSTED_HINT = f"a private CA? give stook-agent {CA_OPTION} its certificate"


class CaFileError(ValueError):
    """The CA file holds no usable certificate (its path and why)."""


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification against *ca_file* only, or the system's CAs without one."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise CaFileError(f"{ca_file} holds no usable CA certificate ({reason})") from None


def image_pool(connect: float, read: float, ca_file: str | None) -> urllib3.PoolManager:
    """A pool for one request: no retries (the callers retry), redirects followed (at most 5)."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect, read=read),
        retries=urllib3.Retry(total=0, redirect=5, raise_on_redirect=True),
        ssl_context=tls_context(ca_file),
    )


def untrusted(error: BaseException) -> str | None:
    """Why the server's certificate did not verify, or None when *error* is not that."""
    found: object = error
    for _ in range(4):  # MaxRetryError -> urllib3 SSLError -> ssl.SSLCertVerificationError
        if isinstance(found, ssl.SSLCertVerificationError):
            return found.verify_message or str(found)
        if not isinstance(found, BaseException):
            return None
        found = getattr(found, "reason", None) or (found.args[0] if found.args else None)
    return None


def failure(error: BaseException) -> str:
    """A one-line reason: the exception's class and its first line (no headers, no URL query)."""
    reason = getattr(error, "reason", None)
    return f"{type(reason or error).__name__}: {str(reason or error).splitlines()[0][:200]}"
