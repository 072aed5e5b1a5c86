"""WorkQueue and back-off semantics (client-go's), with a fake clock where time matters."""

from __future__ import annotations

import threading

import pytest

from stook_agent.runtime.ratelimit import ExponentialBackoff
from stook_agent.runtime.workqueue import ShutDownError, WorkQueue
from support.fake_clock import FakeClock


def test_a_key_added_many_times_is_queued_once() -> None:
    queue = WorkQueue()
    for _ in range(3):
        queue.add("a")
    queue.add("b")
    assert queue.depth() == 2
    assert [queue.get(), queue.get()] == ["a", "b"]


def test_a_key_in_flight_is_not_handed_out_twice_but_requeued_when_done() -> None:
    queue = WorkQueue()
    queue.add("a")
    assert queue.get() == "a"
    queue.add("a")  # changed while a worker holds it
    assert queue.depth() == 0  # a second worker must not get it now
    queue.done("a")
    assert queue.depth() == 1
    assert queue.get() == "a"


def test_delayed_keys_become_ready_when_due_and_the_earliest_due_wins() -> None:
    clock = FakeClock(100.0)
    queue = WorkQueue(clock=clock)
    queue.add_after("a", 10)
    queue.add_after("a", 5)
    queue.add_after("a", 20)  # later than already due: ignored
    assert queue.depth() == 0 and queue.delayed() == 1
    clock.now += 5
    assert queue.get() == "a"
    assert queue.delayed() == 0


def test_backoff_doubles_per_failure_up_to_the_cap_and_forget_resets() -> None:
    backoff = ExponentialBackoff(base=0.5, cap=3.0)
    assert [backoff.when("k") for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.when("other") == 0.5
    backoff.forget("k")
    assert backoff.failures("k") == 0
    assert backoff.when("k") == 0.5


def test_rate_limited_adds_use_the_backoff() -> None:
    clock = FakeClock(100.0)
    queue = WorkQueue(ExponentialBackoff(base=1.0, cap=60.0), clock=clock)
    assert [queue.add_rate_limited("k") for _ in range(3)] == [1.0, 2.0, 4.0]
    queue.forget("k")
    assert queue.add_rate_limited("k") == 1.0


def test_invalid_backoff_is_refused() -> None:
    with pytest.raises(ValueError, match="base"):
        ExponentialBackoff(base=2.0, cap=1.0)


def test_shutdown_wakes_waiting_workers_and_waits_for_work_in_flight() -> None:
    queue = WorkQueue()
    queue.add("busy")
    assert queue.get() == "busy"
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            queue.get()
        except ShutDownError as error:
            errors.append(error)

    waiting = threading.Thread(target=worker)
    waiting.start()
    assert queue.shutdown(drain_timeout=0) is False  # "busy" is still in flight
    waiting.join(timeout=10)
    assert len(errors) == 1
    queue.done("busy")
    assert queue.shutdown(drain_timeout=0) is True
    queue.add("late")
    assert queue.depth() == 0
