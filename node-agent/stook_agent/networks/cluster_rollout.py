"""The ManagementChange rollout (cluster side, leader only): one change at a time, its nodes by
name, at most ``maxConcurrent`` handed over at once, stop at the first node that rolled back or
failed (docs/networks.md, "The hand-over"). ``step`` is the decision, a pure function of the
change, the nodes and their reports; the reconciler writes its result conditionally (a stale
cache gets a 409 and a retry, so a node is never handed a request twice)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stook_agent.api.meta import InvalidObjectError, find_condition, set_condition
from stook_agent.api.network import MANAGEMENT, VMNetwork
from stook_agent.api.networkchange import NODE_DONE, ManagementChange, NodeChange
from stook_agent.api.networknode import ChangeResult, NodeNetwork
from stook_agent.networks.cluster_state import listing, selects, stamp
from stook_agent.networks.cluster_view import View
from stook_agent.runtime.client import Object, ResourceClient, object_key
from stook_agent.runtime.controller import Reconciler, Result
from stook_agent.runtime.events import EventRecorder
from stook_agent.upgrades.cluster import parse_time

REPORT_GRACE = timedelta(seconds=120)  # beyond the checkpoint's own timeout, for the report
LONGEST_TRIAL = timedelta(seconds=1800) + REPORT_GRACE  # rollbackAfterSeconds' maximum
POLL = 5.0  # s between looks while nodes are being changed (their reports also requeue)


@dataclass(frozen=True)
class Facts:
    """What one step of a change reads."""

    nodes: Mapping[str, Mapping[str, str]]  # name -> labels
    reports: Mapping[str, NodeNetwork]
    vm_networks: Iterable[VMNetwork]
    running: str | None  # another ManagementChange that is running (or older and pending)
    now: datetime


def problems(change: ManagementChange, nodes: list[str], facts: Facts) -> list[str]:
    """Why the change cannot start (checked once, before any node is touched)."""
    spec = change.spec
    found = []
    if not nodes:
        found.append("no node matches spec.nodeSelector")
    if spec.static is not None:
        missing = [n for n in nodes if n not in spec.static.addresses]
        if missing:
            found.append(f"spec.static.addresses has no address for {', '.join(missing)}")
        stray = sorted(set(spec.static.addresses) - set(nodes))
        if stray:
            found.append(f"spec.static.addresses names nodes the change does not select: "
                         f"{', '.join(stray)}")  # fmt: skip
    if spec.vlan_id:
        taken = [
            f"{v.metadata.namespace}/{v.metadata.name}"
            for v in facts.vm_networks
            if v.spec.cluster_network == MANAGEMENT and v.spec.vlan_id == spec.vlan_id
        ]
        if taken:
            found.append(
                f"spec.vlanId {spec.vlan_id} is the VLAN of VMNetwork {', '.join(taken)} on "
                "mgmt: the nodes' traffic would share it"
            )
    return found


def _trials(facts: Facts) -> list[str]:
    """Nodes still in a trial (a change deleted mid-rollout): ``<node> (<change>)``. A report
    older than the longest checkpoint is not one: its checkpoint has ended by itself, and a
    node that never reports again must not hold every later change back (nmstate #854)."""
    found = []
    for name, report in facts.reports.items():
        last = report.status.management.last_change
        if name not in facts.nodes or last is None or last.phase not in ("Applying", "Applied"):
            continue
        since = parse_time(last.time)
        if since is not None and facts.now - since <= LONGEST_TRIAL:
            found.append(f"{name} ({last.change})")
    return sorted(found)


def _result(node: NodeChange, reports: Mapping[str, NodeNetwork]) -> ChangeResult | None:
    report = reports.get(node.name)
    result = report.status.management.last_change if report is not None else None
    if result is None or result.request != node.request:
        return None
    return result


def step(change: ManagementChange, facts: Facts) -> ManagementChange:
    """The change's next state (a copy; equal to *change* when there is nothing to do)."""
    change = change.model_copy(deep=True)
    status, spec = change.status, change.spec
    generation = change.metadata.generation
    if status.phase in ("Succeeded", "Failed"):
        return change
    if status.phase == "Pending":
        trials = _trials(facts)
        blocker = f"ManagementChange {facts.running}" if facts.running else None
        if blocker is None and trials:  # e.g. a change deleted mid-rollout
            blocker = f"the trial on {', '.join(trials)} to end"
        if blocker is not None:
            status.message = f"waits for {blocker} (one change runs at a time)"
            status.conditions = set_condition(status.conditions, "Validated", "Unknown",
                                              "Waiting", status.message, generation)  # fmt: skip
            return change
        nodes = sorted(
            n for n, labels in facts.nodes.items() if selects(spec.node_selector, labels)
        )
        found = problems(change, nodes, facts)
        if found:
            status.phase, status.message = "Failed", "not started: " + listing(found)
            status.conditions = set_condition(status.conditions, "Validated", "False",
                                              "Invalid", status.message, generation)  # fmt: skip
            return change
        status.phase = "Running"
        status.nodes = [NodeChange(name=n) for n in nodes]
        status.conditions = set_condition(status.conditions, "Validated", "True", "Validated",
                                          f"{len(nodes)} node(s), {spec.max_concurrent} at a "
                                          "time", generation)  # fmt: skip
    request = f"{change.metadata.uid}/1"
    for node in status.nodes:
        if node.phase in ("Applying", "Applied"):
            _follow(node, _result(node, facts.reports), spec.rollback_after_seconds, facts.now)
    failed = [n for n in status.nodes if n.phase in ("RolledBack", "Failed")]
    in_flight = [n for n in status.nodes if n.phase in ("Applying", "Applied")]
    if not failed:
        for node in status.nodes:
            if len(in_flight) >= spec.max_concurrent:
                break
            if node.phase == "Pending":
                node.phase, node.request, node.started = "Applying", request, stamp(facts.now)
                node.message = "handed over to the node's agent"
                in_flight.append(node)
    committed = [n for n in status.nodes if n.phase == "Committed"]
    status.progress = f"{len(committed)}/{len(status.nodes)}"
    status.current = ", ".join(n.name for n in in_flight) or None
    if failed and not in_flight:
        first = failed[0]
        probes = (
            f" (failed probes: {', '.join(first.failed_probes)})" if first.failed_probes else ""
        )
        status.phase = "Failed"
        status.message = (f"stopped at node {first.name}: {first.phase}{probes}: {first.message}; "
                          "no further node was changed")  # fmt: skip
    elif failed:
        status.message = f"node {failed[0].name} failed: waiting for the nodes in flight"
    elif len(committed) == len(status.nodes):
        status.phase, status.message = "Succeeded", f"committed on {len(committed)} node(s)"
    else:
        status.message = f"changing {status.current}" if status.current else status.message
    status.observed_generation = generation
    return change


def _follow(node: NodeChange, result: ChangeResult | None, rollback: int, now: datetime) -> None:
    """Copy the node's report into its entry, or fail it when none came in time."""
    if result is not None:
        node.phase = result.phase
        node.probes, node.failed_probes = list(result.probes), list(result.failed_probes)
        node.message = result.message or node.message
        if result.phase in NODE_DONE:
            node.finished = result.time or stamp(now)
        return
    started = parse_time(node.started)
    if started is not None and now - started > timedelta(seconds=rollback) + REPORT_GRACE:
        node.phase, node.finished = "Failed", stamp(now)
        node.message = (f"no result from the node within {rollback} s + "
                        f"{REPORT_GRACE.seconds} s (its checkpoint has rolled back by itself "
                        "unless it committed)")  # fmt: skip


def running_change(change: ManagementChange, others: Iterable[ManagementChange]) -> str | None:
    """The change that goes before *change*: one running, or an older one still pending."""
    key = (change.metadata.creation_timestamp or "", change.metadata.name)
    for other in others:
        if other.metadata.name == change.metadata.name:
            continue
        if other.status.phase == "Running":
            return other.metadata.name
        older = (other.metadata.creation_timestamp or "", other.metadata.name) < key
        if other.status.phase == "Pending" and older:
            return other.metadata.name
    return None


class RolloutReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        view: View,
        recorder: EventRecorder | None,
        leading: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.view = view
        self.recorder = recorder
        self.leading = leading
        self.clock = clock or (lambda: datetime.now(UTC))

    def reconcile(self, obj: Object) -> Result:
        if self.leading is not None and not self.leading():
            return Result()
        if not self.view.synced(nads=False):  # another change's state unknown: never start two
            return Result(requeue_after=0.5)
        try:
            change = ManagementChange.parse(obj)
        except InvalidObjectError:
            return Result()  # the CRD's schema makes this unreachable; nothing to roll out
        facts = Facts(
            nodes=self.view.node_labels(),
            reports=self.view.node_reports(),
            vm_networks=self.view.all_vm_networks(),
            running=running_change(change, self.view.all_changes()),
            now=self.clock(),
        )
        after = step(change, facts)
        if after.status != change.status:
            # Conditional: written only over the version this step read.
            written = after.status.to_dict()
            for cleared in ("current", "progress"):  # a merge patch keeps what it leaves out
                written.setdefault(cleared, None)
            self.client.patch_status(object_key(obj), written, change.metadata.resource_version)
            self._events(obj, change, after)
        if after.status.phase in ("Succeeded", "Failed"):
            if change.status.phase != after.status.phase:
                self.view.enqueue_all("changes")  # the next one may start
            return Result()
        return Result(requeue_after=POLL if after.status.phase == "Running" else None)

    def _events(self, obj: Object, before: ManagementChange, after: ManagementChange) -> None:
        if self.recorder is None:
            return
        old = {n.name: n.phase for n in before.status.nodes}
        for node in after.status.nodes:
            if old.get(node.name) != node.phase and node.phase != "Pending":
                bad = node.phase in ("RolledBack", "Failed")
                self.recorder.record(
                    obj, "Warning" if bad else "Normal", f"Node{node.phase}",
                    f"{node.name}: {node.message}",
                )  # fmt: skip
        phase = after.status.phase
        if before.status.phase != phase and phase in ("Succeeded", "Failed"):
            self.recorder.record(
                obj, "Normal" if phase == "Succeeded" else "Warning", phase, after.status.message
            )
        validated = find_condition(after.status.conditions, "Validated")
        if validated is not None and validated.status == "False":
            self.recorder.record(obj, "Warning", "Invalid", validated.message)
