"""The pre-checks of an Upgrade, before anything is touched (and again for each node before it
is taken): each failing check is named, with every node it fails for.

NodeReady, AgentHeartbeat (the node's NodeStatus is fresh), BootState (the booted slot is known
and marked good: not on trial, not fallen back), Version (newer than the node's, and at least
the OSVersion's minimum), Space (the agent's download folder has room), ControlPlane (no
control-plane node is down, so taking one never makes two), Image (reachable, the right size),
Longhorn (every attached volume healthy; skipped, with the reason, without Longhorn).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stook_agent.api.osversion import OSVersionSpec
from stook_agent.upgrades.cluster import NodeFacts
from stook_agent.upgrades.versions import compare

HEARTBEAT_MAX_AGE = 120.0  # seconds: four of the agent's default heartbeats


@dataclass(frozen=True)
class Problem:
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


def node_problems(
    node: NodeFacts,
    target: OSVersionSpec,
    now: datetime,
    max_age: float = HEARTBEAT_MAX_AGE,
    retry: bool = False,
) -> list[Problem]:
    """What stops *node* from being upgraded to *target* now. A *retry* of a node whose last
    attempt fell back accepts the fallback (its running slot is good: the write is safe)."""
    problems = []
    if not node.ready:
        problems.append(Problem("NodeReady", f"{node.name} is not Ready"))
    age = (now - node.heartbeat).total_seconds() if node.heartbeat else None
    if age is None:
        problems.append(Problem("AgentHeartbeat", f"{node.name} has no stook-agent heartbeat"))
    elif age > max_age:
        problems.append(
            Problem("AgentHeartbeat", f"{node.name}'s stook-agent last reported {age:.0f} s ago")
        )
    report = node.report
    if report is None:
        problems.append(Problem("BootState", f"{node.name} has no NodeUpgrade report (agent?)"))
        return problems
    boot = report.status.booted
    if boot.slot == "unknown":
        problems.append(Problem("BootState", f"{node.name}'s booted slot is unknown"))
    elif boot.fell_back and not (retry and boot.good):
        problems.append(
            Problem("BootState", f"{node.name} fell back to slot {boot.slot}: {boot.message}")
        )
    elif boot.trial or not boot.good:
        problems.append(
            Problem("BootState", f"{node.name}'s slot {boot.slot} is on trial (not marked good)")
        )
    if boot.version != "unknown":
        if compare(boot.version, target.version) > 0:
            problems.append(
                Problem("Version", f"{node.name} runs {boot.version}, newer than {target.version}")
            )
        oldest = target.min_upgradable_version
        if oldest and compare(boot.version, oldest) < 0:
            problems.append(
                Problem(
                    "Version",
                    f"{node.name} runs {boot.version}; {target.version} upgrades only from "
                    f"{oldest} or newer",
                )
            )
    elif boot.slot != "unknown":
        problems.append(Problem("Version", f"{node.name}'s OS version is unknown"))
    free = report.status.free_bytes
    if free is None:
        problems.append(Problem("Space", f"{node.name} reports no free space"))
    elif free < target.size:
        where = f" in {report.status.download_folder}" if report.status.download_folder else ""
        problems.append(
            Problem(
                "Space", f"{node.name} has {free} bytes free{where}, the image needs {target.size}"
            )
        )
    return problems


def control_plane_problems(nodes: Iterable[NodeFacts]) -> list[Problem]:
    down = sorted(n.name for n in nodes if n.control_plane and not n.ready)
    if not down:
        return []
    return [
        Problem(
            "ControlPlane",
            f"control-plane node(s) {', '.join(down)} not Ready: taking another one down could "
            "lose the control plane",
        )
    ]


def summary(problems: list[Problem]) -> str:
    by_check: dict[str, list[str]] = {}
    for problem in problems:
        by_check.setdefault(problem.check, []).append(problem.message)
    return "; ".join(f"{check}: {', '.join(msgs)}" for check, msgs in by_check.items())
