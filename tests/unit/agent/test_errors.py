"""API errors as one line, and which 4xx are final (pure functions, no API server)."""

from __future__ import annotations

import json

import urllib3

from stook_agent.runtime.errors import ApiError, describe, is_final, reason_of
from stook_agent.runtime.watchdog import Watchdog
from support.fake_clock import FakeClock


def test_an_api_error_is_one_line_with_status_reason_and_the_servers_message() -> None:
    body = json.dumps({"kind": "Status", "reason": "Invalid", "message": 'x is invalid:\n bad "y"'})
    error = ApiError(422, "Unprocessable Entity", body.encode())
    assert describe(error) == '422 Unprocessable Entity: x is invalid: bad "y"'
    assert str(error).startswith("422 Unprocessable Entity: x is invalid")
    assert "HTTP response headers" not in describe(error)
    assert reason_of(error) == "Invalid"


def test_a_network_error_is_its_cause_in_one_line() -> None:
    cause = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    error = urllib3.exceptions.MaxRetryError(None, "/api", cause)  # type: ignore[arg-type]
    assert describe(error).startswith("NewConnectionError: ")
    assert "\n" not in describe(error)


def test_only_4xx_that_no_retry_cures_are_final() -> None:
    assert is_final(ApiError(422, "Unprocessable Entity"))
    assert is_final(ApiError(403, "Forbidden"))
    assert is_final(ApiError(400, "Bad Request"))
    for status in (408, 409, 429, 500, 503):
        assert not is_final(ApiError(status, "x")), status
    assert not is_final(OSError("connection refused"))


def test_the_watchdog_names_a_reconcile_running_past_its_bound() -> None:
    clock = FakeClock(10.0)
    watchdog = Watchdog(bound=30.0, clock=clock)
    watchdog.begin("worker-0", "disk-a")
    clock.now += 29
    assert watchdog.stuck() == []
    clock.now += 2
    assert watchdog.stuck() == [("worker-0", "disk-a", 31.0)]
    watchdog.end("worker-0")
    assert watchdog.stuck() == []
