"""API errors as one line (status, reason, the server's message) and which ones are final.

The official client's ApiException prints its response headers and body over many lines; logs,
Events and conditions carry ``describe(error)`` instead, e.g.
``422 Unprocessable Entity: BlockDevice.stook.io "x" is invalid: status.state: Unsupported value``.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

MAX_MESSAGE = 512
# 4xx answers that a retry can cure: timeout, conflict (stale resourceVersion), throttled.
RETRYABLE_4XX = frozenset({408, 409, 429})


class ApiError(ApiException):
    """An HTTP error from the API server, with the server's Status reason and message."""

    def __init__(self, status: int, http_reason: str, body: bytes | str | None = None) -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        super().__init__(status=status, reason=http_reason)
        self.body = text
        self.api_reason = ""  # the Status object's CamelCase reason, e.g. "Invalid"
        self.message = ""
        try:
            document: Any = json.loads(text) if text else {}
        except ValueError:
            document = {}
        if isinstance(document, dict):
            self.api_reason = str(document.get("reason") or "")
            self.message = " ".join(str(document.get("message") or "").split())
        if not self.message:
            self.message = " ".join(text.split())[:MAX_MESSAGE]

    def __str__(self) -> str:
        line = f"{self.status} {self.reason}"
        return f"{line}: {self.message}"[:MAX_MESSAGE] if self.message else line


def describe(error: BaseException) -> str:
    """One line for a log, an Event or a condition message, never headers or a traceback."""
    if isinstance(error, ApiError):
        return str(error)
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        return f"{type(error.reason).__name__}: {_first_line(error.reason)}"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:MAX_MESSAGE] if text else ""


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


def is_final(error: BaseException) -> bool:
    """A 4xx a retry cannot cure (invalid, forbidden, bad request...): report, do not retry."""
    return (
        isinstance(error, ApiException)
        and isinstance(error.status, int)
        and 400 <= error.status < 500
        and error.status not in RETRYABLE_4XX
    )


def reason_of(error: BaseException) -> str:
    """A CamelCase reason for a condition: the Status reason, else one from the HTTP status."""
    if isinstance(error, ApiError) and error.api_reason:
        return error.api_reason
    if isinstance(error, ApiException):
        return "".join(part.capitalize() for part in str(error.reason or "Rejected").split())
    return type(error).__name__
