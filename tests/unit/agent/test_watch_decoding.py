"""Watch stream decoding and the event filter (pure functions, no API server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stook_agent.runtime.client import object_key, split_key, watch_events
from stook_agent.runtime.controller import _worth_reconciling
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics


class ChunkedResponse:
    """What urllib3 yields for a chunked watch: chunks that split lines anywhere."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def stream(self, amt: int | None, decode_content: bool) -> Iterator[bytes]:
        yield from self.chunks


def test_events_split_across_chunks_are_reassembled() -> None:
    events = [{"type": "ADDED", "object": {"n": i, "text": "x" * 50}} for i in range(3)]
    raw = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    chunks = [raw[i : i + 37] for i in range(0, len(raw), 37)]
    decoded = list(watch_events(ChunkedResponse(chunks)))  # type: ignore[arg-type]
    assert decoded == events


def test_a_last_line_without_newline_is_still_an_event() -> None:
    response = ChunkedResponse([b'{"type": "BOOKMARK"}\n\n', b'{"type": "DELETED"}'])
    assert [e["type"] for e in watch_events(response)] == ["BOOKMARK", "DELETED"]  # type: ignore[arg-type]


def test_keys_of_cluster_and_namespaced_objects() -> None:
    assert object_key({"metadata": {"name": "a"}}) == "a"
    assert object_key({"metadata": {"name": "a", "namespace": "ns"}}) == "ns/a"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("a") == (None, "a")


def _obj(**meta: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 1, "resourceVersion": "1"} | meta, "status": {}}


def test_status_only_changes_are_not_worth_a_reconcile() -> None:
    old = _obj()
    assert not _worth_reconciling(old, _obj(resourceVersion="2") | {"status": {"x": 1}})
    assert _worth_reconciling(old, _obj(generation=2))
    assert _worth_reconciling(old, _obj(labels={"a": "b"}))
    assert _worth_reconciling(old, _obj(finalizers=["f"]))
    assert _worth_reconciling(old, _obj(deletionTimestamp="2026-01-01T00:00:00Z"))


class ClosedSocketResponse:
    """Test double of a watch response whose socket the informer thread already closed:
    urllib3's shutdown() then raises EBADF (seen when a controller stops mid-read)."""

    def __init__(self) -> None:
        self.closed = False

    def shutdown(self) -> None:
        raise OSError(9, "Bad file descriptor")

    def close(self) -> None:
        self.closed = True


def test_stopping_an_informer_whose_watch_socket_is_already_closed_does_not_raise() -> None:
    informer = Informer("pods", None, lambda *_: None, Metrics())  # type: ignore[arg-type]
    informer._response = ClosedSocketResponse()  # type: ignore[assignment]
    informer.stop()  # before the fix: OSError from the controller's stop (a teardown error)
    assert informer._stop.is_set()
