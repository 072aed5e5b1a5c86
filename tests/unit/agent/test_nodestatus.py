"""NodeStatus reconciler and boot status reading (no API server: a recording client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stook_agent import __version__
from stook_agent.bootstatus import UNKNOWN, BootStatus, read_boot_status
from stook_agent.nodestatus import NodeStatusReconciler
from stook_agent.resources import NODE_LABEL


class RecordingClient:
    def __init__(self) -> None:
        self.status_patches: list[tuple[str, dict[str, Any]]] = []
        self.created: list[dict[str, Any]] = []

    def patch_status(self, key: str, status: dict[str, Any]) -> dict[str, Any]:
        self.status_patches.append((key, status))
        return {}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append(body)
        return body


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def reconciler(client: RecordingClient, now: datetime = NOW) -> NodeStatusReconciler:
    return NodeStatusReconciler(
        client,  # type: ignore[arg-type]
        "n1",
        heartbeat=30,
        boot_status=lambda: BootStatus(slot="A", version="1.0"),
        clock=lambda: now,
    )


def test_a_missing_node_status_is_created_for_this_node_only() -> None:
    client = RecordingClient()
    r = reconciler(client)
    r.absent("someone-else")
    assert client.created == []
    r.absent("n1")
    (body,) = client.created
    assert body["metadata"] == {"name": "n1", "labels": {NODE_LABEL: "n1"}}
    assert body["spec"] == {"nodeName": "n1"}


def test_status_is_written_then_skipped_until_the_heartbeat_is_due() -> None:
    client = RecordingClient()
    obj: dict[str, Any] = {"metadata": {"name": "n1", "generation": 1}, "spec": {"nodeName": "n1"}}
    result = reconciler(client).reconcile(obj)
    ((key, status),) = client.status_patches
    assert key == "n1" and result.requeue_after == 30
    assert status["agentVersion"] == __version__
    assert (status["bootedSlot"], status["osVersion"]) == ("A", "1.0")
    assert status["lastHeartbeat"] == "2026-01-02T03:04:05Z"
    assert status["conditions"][0]["observedGeneration"] == 1

    obj["status"] = status
    later = reconciler(client, NOW + timedelta(seconds=10)).reconcile(obj)
    assert len(client.status_patches) == 1  # nothing changed, heartbeat not due: no write
    assert later.requeue_after == 20
    reconciler(client, NOW + timedelta(seconds=31)).reconcile(obj)
    assert len(client.status_patches) == 2


def test_boot_status_is_read_through_the_core_model_or_unknown(tmp_path: Path) -> None:
    path = tmp_path / "boot-status.json"
    assert read_boot_status(path) == BootStatus()
    assert (BootStatus().slot, BootStatus().version) == (UNKNOWN, UNKNOWN)
    published = BootStatus(slot="B", version="2026.1", health="failed")
    path.write_text(published.to_json())
    assert read_boot_status(path) == published
    path.write_text(json.dumps({"slot": "B", "version": "2026.1", "later_field": 1}))
    assert read_boot_status(path) == BootStatus(slot="B", version="2026.1")  # newer writer
    for bad in (json.dumps({"slot": "C", "version": 7}), "{not json", "[]"):
        path.write_text(bad)
        assert read_boot_status(path) == BootStatus()
