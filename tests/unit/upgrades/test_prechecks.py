"""Version order and the per-node pre-checks (pure functions over a node's facts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stook_agent.api import NodeUpgrade
from stook_agent.api.osversion import OSVersionSpec
from stook_agent.upgrades.cluster import NodeFacts
from stook_agent.upgrades.prechecks import control_plane_problems, node_problems
from stook_agent.upgrades.versions import compare

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TARGET = OSVersionSpec.model_validate({
    "version": "2026.10.0", "imageURL": "https://x.example/i.img", "sha256": "ab" * 32,
    "size": 1000, "minUpgradableVersion": "2026.9",
})  # fmt: skip


@pytest.mark.parametrize(
    ("one", "other", "order"),
    [("2026.10.0", "2026.9.1", 1), ("1.0", "1.0.1", -1), ("3.1", "3.1", 0), ("10", "9", 1)],
)
def test_versions_compare_by_their_numbers(one: str, other: str, order: int) -> None:
    assert compare(one, other) == order


def facts(**booted: object) -> NodeFacts:
    report = NodeUpgrade.parse({
        "metadata": {"name": "n1"}, "spec": {"nodeName": "n1"},
        "status": {"freeBytes": 5000, "booted": {"slot": "A", "version": "2026.9.1",
                                                  "good": True} | booted},
    })  # fmt: skip
    return NodeFacts("n1", {}, False, True, False, None, NOW - timedelta(seconds=10), report)


def test_a_healthy_node_passes() -> None:
    assert node_problems(facts(), TARGET, NOW) == []


@pytest.mark.parametrize(
    ("booted", "check", "words"),
    [
        ({"fellBack": True}, "BootState", "fell back to slot A"),
        ({"good": False, "trial": True}, "BootState", "on trial"),
        ({"version": "2026.11"}, "Version", "newer than 2026.10.0"),
        ({"version": "2026.8"}, "Version", "upgrades only from 2026.9 or newer"),
        ({"slot": "unknown"}, "BootState", "booted slot is unknown"),
    ],
)
def test_each_failing_check_is_named(booted: dict[str, object], check: str, words: str) -> None:
    problems = node_problems(facts(**booted), TARGET, NOW)
    assert any(p.check == check and words in p.message for p in problems), problems


def test_a_stale_heartbeat_and_a_down_control_plane_node() -> None:
    node = facts()
    stale = NodeFacts(node.name, {}, True, False, False, None, NOW - timedelta(hours=1),
                      node.report)  # fmt: skip
    checks = {p.check for p in node_problems(stale, TARGET, NOW)}
    assert checks == {"NodeReady", "AgentHeartbeat"}
    assert [p.check for p in control_plane_problems([stale, node])] == ["ControlPlane"]


def test_the_space_check_names_the_nodes_download_folder() -> None:
    node = facts()
    assert node.report is not None
    node.report.status.free_bytes = 10
    node.report.status.download_folder = "/data/upgrades"  # stook-agent --upgrade-downloads
    problems = node_problems(node, TARGET, NOW)
    assert [str(p) for p in problems] == [
        "Space: n1 has 10 bytes free in /data/upgrades, the image needs 1000"
    ]
