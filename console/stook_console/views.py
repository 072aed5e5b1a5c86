"""What the pages show, built from the API's objects through the agent's typed models.

Pure functions (no I/O): the app fetches, these shape, the templates print. States are words
(and a symbol), never a colour alone; times stay RFC 3339 UTC for the browser to localize.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stook_agent.api import BlockDevice, NodeStatus, NodeUpgrade, OSVersion, Upgrade
from stook_agent.api.meta import find_condition
from stook_agent.api.networknode import NodeNetwork
from stook_agent.api.upgrade import ACTIVE_STEPS, NodeProgress

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
DRAFT = "stook.io/console-awaiting-confirmation"
"""On an Upgrade the console created paused, until its operator confirms it (or cancels)."""
STEP_ORDER = ("Pending", "Draining", *ACTIVE_STEPS[1:], "Succeeded", "Failed", "Skipped")
FINISHED = ("Succeeded", "Aborted")
SYMBOL = {
    "Ready": "✓", "Succeeded": "✓", "True": "✓", "passed": "✓",
    "Not ready": "✗", "Failed": "✗", "Invalid": "✗", "False": "✗", "failed": "✗",
    "Fell back": "✗", "Warning": "!", "Paused": "‖", "Aborted": "■", "Skipped": "»",
    "Awaiting confirmation": "?",
}  # fmt: skip


NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?{NAME}$")
LABEL_VALUE = re.compile(rf"^({NAME})?$")


class SelectorError(ValueError):
    """A node selector typed wrong (the message names the field and the rule)."""


def parse_selector(text: str) -> dict[str, str]:
    """``key=value, key2=value2`` (the review form's "Only nodes labelled") as matchLabels."""
    selector: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = (p.strip() for p in item.partition("="))
        if not sep or not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            raise SelectorError(
                f"Only nodes labelled: {item!r} is not key=value with a valid label key and "
                "value (letters, digits, '-', '_', '.'; a key may have a DNS prefix/)"
            )
        selector[key] = value
    return selector


def symbol(state: str) -> str:
    """A symbol that goes with a state's word (so no state is told by colour alone)."""
    return SYMBOL.get(state, "•")


@dataclass(frozen=True)
class NodeRow:
    name: str
    role: str
    ready: str  # "Ready", "Not ready", "Unknown"
    os_version: str
    slot: str
    fell_back: bool
    trial: bool
    heartbeat: str | None
    disks: int
    networks: list[str]  # management address, then each cluster network and its state


def networks_of(node: dict[str, Any], network: NodeNetwork | None) -> list[str]:
    """What the node's agent reports of its networks (NodeNetwork), else the Node's addresses."""
    if network is None:
        return [
            f"{a.get('type')} {a.get('address')}"
            for a in (node.get("status") or {}).get("addresses") or []
        ]
    mgmt = network.status.management
    lines = []
    if mgmt.address:
        vlan = f", VLAN {mgmt.vlan_id}" if mgmt.vlan_id else ""
        lines.append(f"management {mgmt.address}{vlan}")
    for net in network.status.networks:
        state = "ready" if net.ready else "not ready"
        vlans = f" (VLANs {', '.join(map(str, net.vlan_ids))})" if net.vlan_ids else ""
        lines.append(f"{net.cluster_network}: {state}{vlans}")
    return lines


def node_rows(
    nodes: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    devices: list[dict[str, Any]],
    networks: list[dict[str, Any]] | None = None,
) -> list[NodeRow]:
    by_status = {s.metadata.name: s for s in map(NodeStatus.parse, statuses)}
    by_network = {n.metadata.name: n for n in map(NodeNetwork.parse, networks or [])}
    by_report = {r.metadata.name: r for r in map(NodeUpgrade.parse, reports)}
    disks: dict[str, int] = {}
    for device in map(BlockDevice.parse, devices):
        disks[device.spec.node_name] = disks.get(device.spec.node_name, 0) + 1
    return [
        node_row(
            node, by_status.get(name), by_report.get(name), disks.get(name, 0), by_network.get(name)
        )
        for node in sorted(nodes, key=lambda n: str(n["metadata"]["name"]))
        if (name := str(node["metadata"]["name"]))
    ]


def node_row(
    node: dict[str, Any],
    status: NodeStatus | None,
    report: NodeUpgrade | None,
    disks: int,
    network: NodeNetwork | None = None,
) -> NodeRow:
    labels = node["metadata"].get("labels") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)
    booted = report.status.booted if report else None
    version = (status.status.os_version if status else None) or (booted.version if booted else "")
    slot = (status.status.booted_slot if status else None) or (booted.slot if booted else "")
    return NodeRow(
        name=str(node["metadata"]["name"]),
        role="control plane" if any(k in labels for k in CONTROL_PLANE_LABELS) else "worker",
        ready={"True": "Ready", "False": "Not ready"}.get(str(ready), "Unknown"),
        os_version=version or "unknown",
        slot=slot or "unknown",
        fell_back=bool(booted and booted.fell_back),
        trial=bool(booted and booted.trial),
        heartbeat=status.status.last_heartbeat if status else None,
        disks=disks,
        networks=networks_of(node, network),
    )


@dataclass(frozen=True)
class EventRow:
    time: str | None
    type: str
    reason: str
    message: str
    count: int


def event_rows(events: list[dict[str, Any]], limit: int = 50) -> list[EventRow]:
    """Newest first."""

    def when(event: dict[str, Any]) -> str:
        return str(
            event.get("lastTimestamp") or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp") or ""
        )  # fmt: skip

    rows = [
        EventRow(
            when(e) or None,
            str(e.get("type") or ""),
            str(e.get("reason") or ""),
            str(e.get("message") or ""),
            int(e.get("count") or 1),
        )
        for e in events
    ]
    return sorted(rows, key=lambda r: r.time or "", reverse=True)[:limit]


@dataclass(frozen=True)
class NodeStep:
    name: str
    step: str
    attempt: int
    control_plane: bool
    from_version: str
    downloaded: int | None  # percent, when there is something to download
    written: int | None
    bytes_text: str
    times: list[tuple[str, str]]  # (step, when), in step order
    message: str
    can_skip: bool


def percent(part: int, total: int) -> int | None:
    return min(100, part * 100 // total) if total > 0 else None


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def node_step(entry: NodeProgress, phase: str) -> NodeStep:
    order = {s: i for i, s in enumerate(STEP_ORDER)}
    return NodeStep(
        name=entry.name,
        step=entry.step,
        attempt=entry.attempt,
        control_plane=entry.control_plane,
        from_version=entry.from_version or "unknown",
        downloaded=percent(entry.bytes_downloaded, entry.total_bytes),
        written=percent(entry.bytes_written, entry.total_bytes),
        bytes_text=(
            f"downloaded {size(entry.bytes_downloaded)}, written {size(entry.bytes_written)} "
            f"of {size(entry.total_bytes)}"
            if entry.total_bytes
            else ""
        ),
        times=sorted(entry.times.items(), key=lambda t: (order.get(t[0], 99), t[1])),
        message=entry.message,
        can_skip=phase not in FINISHED and entry.step not in ("Succeeded", "Skipped"),
    )


@dataclass(frozen=True)
class UpgradeView:
    name: str
    version: str  # the OSVersion's name
    target: str  # the OS version validated (or the OSVersion's name until then)
    phase: str
    message: str
    progress: str
    created: str | None
    awaiting_confirmation: bool
    validated: str  # "True", "False", "Unknown" (not checked yet)
    checks: str  # the Validated condition's message
    nodes: list[NodeStep]
    history: list[tuple[str, str, str, str]]  # (time, node, step, message), newest first
    finished: bool
    paused: bool
    aborting: bool
    failed_reason: str | None = None
    actions: list[str] = field(default_factory=list)

    @property
    def can_start(self) -> bool:
        return self.awaiting_confirmation and self.validated == "True"


def upgrade_view(obj: dict[str, Any]) -> UpgradeView:
    upgrade = Upgrade.parse(obj)
    status, spec = upgrade.status, upgrade.spec
    condition = find_condition(status.conditions, "Validated")
    draft = upgrade.metadata.annotations.get(DRAFT) == "true"
    phase = status.phase
    finished = phase in FINISHED
    failed = [n for n in status.nodes if n.step == "Failed"]
    actions: list[str] = []
    if not finished and not spec.abort:
        if draft:
            actions += ["start", "cancel"]
        elif spec.paused:
            actions.append("resume")
        else:
            actions.append("pause")
        if phase == "Failed":
            actions.append("retry")  # the failed node(s) again, as a new request
        actions.append("abort")
    return UpgradeView(
        name=upgrade.metadata.name,
        version=spec.version,
        target=status.image.version if status.image else spec.version,
        phase=phase,
        message=status.message,
        progress=status.progress or f"0/{len(status.nodes)}",
        created=upgrade.metadata.creation_timestamp,
        awaiting_confirmation=draft and not finished,
        validated=condition.status if condition else "Unknown",
        checks=condition.message if condition else "the pre-checks have not run yet",
        nodes=[node_step(n, phase) for n in status.nodes],
        history=[(h.time, h.node or "", h.step, h.message) for h in reversed(status.history)],
        finished=finished,
        paused=spec.paused,
        aborting=spec.abort and not finished,
        failed_reason=(failed[0].message or status.message) if failed else None,
        actions=actions,
    )


@dataclass(frozen=True)
class VersionRow:
    name: str
    version: str
    size: str
    release_notes: str | None
    min_upgradable: str | None
    created: str | None


def version_rows(objects: list[dict[str, Any]]) -> list[VersionRow]:
    versions = [OSVersion.parse(o) for o in objects]
    return [
        VersionRow(
            v.metadata.name,
            v.spec.version,
            size(v.spec.size),
            v.spec.release_notes_url,
            v.spec.min_upgradable_version,
            v.metadata.creation_timestamp,
        )
        for v in sorted(versions, key=lambda v: v.metadata.creation_timestamp or "", reverse=True)
    ]


def running_upgrade(upgrades: list[UpgradeView]) -> UpgradeView | None:
    """The unfinished upgrade, if any (one runs at a time)."""
    return next((u for u in upgrades if not u.finished and not u.aborting), None)


def upgrade_views(objects: list[dict[str, Any]]) -> list[UpgradeView]:
    """Newest first."""
    views = [upgrade_view(o) for o in objects]
    return sorted(views, key=lambda u: u.created or "", reverse=True)
