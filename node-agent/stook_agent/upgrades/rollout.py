"""The rollout of an Upgrade (cluster controller, leader only): level-triggered, with all of its
state in the Upgrade's status, so a restarted controller continues where the last one was.

Each reconcile looks at the Upgrade and the cluster and takes the next steps:
Pending/Invalid -> pre-checks (``Validated``) -> Running: per node, in a fixed order
(``spec.order``, then control-plane nodes, then the others, by name), at most
``maxUnavailable`` at once and never two control-plane nodes: cordon (annotated) -> Draining
(evictions honouring PodDisruptionBudgets; past drain.timeoutSeconds the upgrade pauses naming
the budget, or with drain.force deletes the pods) -> Upgrading (the node's agent takes over;
its NodeUpgrade is mirrored here) -> health gate (the agent reports Succeeded: the new slot
booted the target version and was marked good; the Node is Ready and the agent's heartbeat is
newer than the reboot) -> uncordon -> Succeeded. The first failure stops the rollout (the node
stays cordoned unless uncordonOnFailure); ``retry`` / ``skipNodes`` / ``paused`` / ``abort``
are how an operator goes on. Abort and deletion uncordon every node the upgrade cordoned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stook_agent.api.meta import find_condition, set_condition
from stook_agent.api.osversion import OSVersion
from stook_agent.api.upgrade import (
    ACTIVE_STEPS,
    HISTORY,
    HistoryEntry,
    NodeProgress,
    NodeStep,
    Upgrade,
    UpgradeStatus,
)
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.controller import Reconciler, Result
from stook_agent.runtime.events import EventRecorder
from stook_agent.upgrades.cluster import Cluster, NodeFacts, parse_time
from stook_agent.upgrades.imagecheck import image_problem
from stook_agent.upgrades.metrics import UpgradeMetrics
from stook_agent.upgrades.prechecks import (
    Problem,
    control_plane_problems,
    node_problems,
    summary,
)

log = logging.getLogger(__name__)

FINISHED = ("Succeeded", "Aborted")
DONE_STEPS = ("Succeeded", "Skipped")
AGENT_STEPS: dict[str, NodeStep] = {
    "Downloading": "Downloading", "Writing": "Writing", "Rebooting": "Rebooting",
    "Verifying": "Verifying",
}  # fmt: skip
POLL = 2.0  # seconds between looks while a node is in a step
RECHECK = 30.0  # seconds between pre-check runs of an upgrade that cannot start


def stamp(now: datetime) -> str:
    return now.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class UpgradeReconciler(Reconciler):
    def __init__(
        self,
        upgrades: ResourceClient,
        versions: ResourceClient,
        cluster: Cluster,
        metrics: UpgradeMetrics,
        recorder: EventRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        image_check: Callable[..., str] = image_problem,
        all_upgrades: Callable[[], list[Object]] | None = None,
    ) -> None:
        self.upgrades = upgrades
        self.versions = versions
        self.cluster = cluster
        self.metrics = metrics
        self.recorder = recorder
        self.clock = clock
        self.image_check = image_check
        self.all_upgrades = all_upgrades or (lambda: self.upgrades.list_objects()[0])

    # -- entry points ----------------------------------------------------------------------

    def reconcile(self, obj: Object) -> Result:
        upgrade = Upgrade.parse(obj)
        run = _Run(self, obj, upgrade)
        result = run.step()
        run.save()
        return result

    def finalize(self, obj: Object) -> Result:
        """Deleted: undo every cordon this upgrade made (found on the Nodes themselves)."""
        name = obj["metadata"]["name"]
        for node in self.cluster.cordoned_by(name):
            self.cluster.uncordon(node, name)
            self._event(obj, "Normal", "Uncordoned", f"{node}: uncordoned (upgrade deleted)")
        return Result()

    def _event(self, obj: Object, kind: Any, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(obj, kind, reason, message)


class _Run:
    """One reconcile of one Upgrade: reads once, changes ``self.status``, writes once."""

    def __init__(self, owner: UpgradeReconciler, obj: Object, upgrade: Upgrade) -> None:
        self.owner = owner
        self.obj = obj
        self.upgrade = upgrade
        self.name = upgrade.metadata.name
        self.spec = upgrade.spec
        self.status = upgrade.status.model_copy(deep=True)
        self.now = owner.clock()
        self.generation = upgrade.metadata.generation
        self.spec_patch: dict[str, Any] = {}

    # -- write -----------------------------------------------------------------------------

    def save(self) -> None:
        rv = self.upgrade.metadata.resource_version
        if self.spec_patch:  # conditional too; the status write then continues from its version
            body = {"spec": self.spec_patch, "metadata": {"resourceVersion": rv}}
            rv = self.owner.upgrades.patch(self.name, body)["metadata"]["resourceVersion"]
        self.status.observed_generation = self.generation
        done = sum(1 for n in self.status.nodes if n.step in DONE_STEPS)
        self.status.progress = f"{done}/{len(self.status.nodes)}" if self.status.nodes else None
        active = [n.name for n in self.status.nodes if n.step in ACTIVE_STEPS]
        self.status.current = ", ".join(active) or None
        if self.status == self.upgrade.status:
            return
        new = self.status.to_dict()
        for key in self.upgrade.status.to_dict().keys() - new.keys():
            new[key] = None  # merge patch: a field that went away is removed
        self.owner.upgrades.patch_status(self.name, new, resource_version=rv)

    def note(self, node: str | None, step: str, message: str, warning: bool = False) -> None:
        entry = HistoryEntry(time=stamp(self.now), node=node, step=step, message=message[:1024])
        self.status.history = [*self.status.history, entry][-HISTORY:]
        kind = "Warning" if warning else "Normal"
        self.owner._event(self.obj, kind, f"Upgrade{step}", (f"{node}: " if node else "") + message)

    def condition(self, type_: str, status: Any, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, type_, status, reason, message, self.generation,
            now=stamp(self.now),
        )  # fmt: skip

    def set_step(self, entry: NodeProgress, step: NodeStep, message: str) -> None:
        if entry.step == step and entry.message == message:
            return
        changed = entry.step != step
        entry.step = step
        entry.message = message[:4096]
        if changed:
            entry.times = {**entry.times, step: stamp(self.now)}
            self.note(entry.name, step, message, warning=step == "Failed")

    # -- the state machine -----------------------------------------------------------------

    def step(self) -> Result:
        phase = self.status.phase
        if self.spec.abort:
            return self.abort()
        if phase in FINISHED:
            return Result()
        if phase in ("Pending", "Invalid"):
            return self.validate()
        return self.roll()

    def abort(self) -> Result:
        for node in self.owner.cluster.cordoned_by(self.name):
            self.owner.cluster.uncordon(node, self.name)
            entry = self.entry(node)
            if entry is not None:
                entry.cordoned = False
            self.note(node, "Uncordoned", "uncordoned (upgrade aborted)")
        if self.status.phase != "Aborted":
            self.status.phase = "Aborted"
            self.status.message = "aborted: no further node is touched; cordons undone"
            self.note(None, "Aborted", self.status.message, warning=True)
        return Result()

    def entry(self, node: str) -> NodeProgress | None:
        return next((n for n in self.status.nodes if n.name == node), None)

    def target(self) -> OSVersion | None:
        try:
            return OSVersion.parse(self.owner.versions.get(self.spec.version))
        except Exception as error:
            if is_status(error, 404):
                return None
            raise

    def other_active(self) -> str | None:
        """The older Upgrade that runs (one at a time: the oldest unfinished one goes)."""
        mine = (self.upgrade.metadata.creation_timestamp or "", self.name)
        for obj in self.owner.all_upgrades():
            other = Upgrade.parse(obj)
            key = (other.metadata.creation_timestamp or "", other.metadata.name)
            finished = other.status.phase in (*FINISHED, "Failed") or other.spec.abort
            if key < mine and not finished and not other.metadata.deletion_timestamp:
                return other.metadata.name
        return None

    def invalid(self, reason: str, message: str) -> Result:
        self.status.phase = "Invalid" if reason != "AnotherUpgradeRuns" else "Pending"
        self.status.message = message
        self.condition("Validated", "False", reason, message)
        return Result(requeue_after=RECHECK)

    def validate(self) -> Result:
        other = self.other_active()
        if other is not None:
            return self.invalid("AnotherUpgradeRuns", f"waiting: upgrade {other} runs")
        version = self.target()
        if version is None:
            return self.invalid("NoSuchVersion", f"OSVersion {self.spec.version} not found")
        target = version.spec
        facts = self.owner.cluster.facts()
        chosen = self.order(facts)
        if not chosen:
            return self.invalid("NoNodes", "no node matches spec.nodeSelector")
        problems: list[Problem] = []
        for node in chosen:
            if node.name not in self.spec.skip_nodes:
                problems += node_problems(node, target, self.now)
        problems += control_plane_problems(facts.values())
        image = self.owner.image_check(target.image())
        if image:
            problems.append(Problem("Image", image))
        unhealthy = self.owner.cluster.unhealthy_volumes()
        longhorn = "Longhorn: not installed (no volumes.longhorn.io), skipped"
        if unhealthy:
            problems.append(Problem("Longhorn", f"volumes not healthy: {', '.join(unhealthy)}"))
        elif unhealthy is not None:
            longhorn = "Longhorn: every attached volume healthy"
        if problems:
            message = f"pre-checks failed, nothing touched: {summary(problems)}"
            if self.status.phase != "Invalid" or self.status.message != message:
                self.note(None, "Invalid", message, warning=True)
            return self.invalid("PreChecksFailed", message)
        self.status.image = target.image()
        self.status.nodes = [self.progress_of(node, target.version) for node in chosen]
        self.status.phase = "Running"
        self.status.message = f"upgrading {len(chosen)} node(s) to {target.version}"
        passed = (
            "NodeReady, AgentHeartbeat, BootState, Version, Space, ControlPlane, Image passed; "
            + longhorn
        )
        self.condition("Validated", "True", "PreChecksPassed", passed)
        self.note(None, "Validated", passed)
        return Result(requeue_after=0.1)

    def order(self, facts: dict[str, NodeFacts]) -> list[NodeFacts]:
        selector = self.spec.node_selector
        chosen = [
            n for n in facts.values() if all(n.labels.get(k) == v for k, v in selector.items())
        ]
        first = {name: i for i, name in enumerate(self.spec.order)}
        return sorted(
            chosen,
            key=lambda n: (first.get(n.name, len(first)), not n.control_plane, n.name),
        )

    def progress_of(self, node: NodeFacts, version: str) -> NodeProgress:
        booted = node.report.status.booted.version if node.report else None
        entry = NodeProgress(
            name=node.name, control_plane=node.control_plane, from_version=booted,
        )  # fmt: skip
        if node.name in self.spec.skip_nodes:
            entry.step, entry.message = "Skipped", "in spec.skipNodes"
        elif booted == version:
            entry.step, entry.message = "Skipped", f"already runs {version}"
        return entry

    # -- rollout ---------------------------------------------------------------------------

    def roll(self) -> Result:
        self.apply_operator_changes()
        facts = self.owner.cluster.facts()
        for entry in self.status.nodes:
            if entry.step in ACTIVE_STEPS:
                self.advance(entry, facts.get(entry.name))
        failed = [n for n in self.status.nodes if n.step == "Failed"]
        if failed:
            self.status.phase = "Failed"
            names = ", ".join(n.name for n in failed)
            self.status.message = (
                f"stopped at the first failure ({names}): {failed[0].message}. Other nodes are "
                "untouched; raise spec.retry to retry, add the node to spec.skipNodes to go on, "
                "or set spec.abort"
            )
            return Result(requeue_after=RECHECK)
        if self.status.phase == "Paused" and not self.spec.paused:
            self.status.phase = "Running"  # resumed: a blocked drain gets its full time again
            for entry in self.status.nodes:
                if entry.step == "Draining":
                    entry.times = {**entry.times, "Draining": stamp(self.now)}
            self.condition("Progressing", "True", "Resumed", "resumed")
        active = [n for n in self.status.nodes if n.step in ACTIVE_STEPS]
        if self.spec.paused:
            self.status.phase = "Paused"
            if not self.status.message.startswith("paused"):
                self.status.message = "paused (spec.paused): no further step is taken"
            return Result(requeue_after=RECHECK)
        self.status.phase = "Running"
        self.take_next(facts, active)
        if all(n.step in DONE_STEPS for n in self.status.nodes):
            self.status.phase = "Succeeded"
            version = self.status.image.version if self.status.image else "?"
            self.status.message = f"every node runs {version}"
            self.condition("Completed", "True", "Succeeded", self.status.message)
            self.note(None, "Succeeded", self.status.message)
            return Result()
        return Result(requeue_after=POLL)

    def apply_operator_changes(self) -> None:
        if self.spec.retry > self.status.retried:
            self.status.retried = self.spec.retry
            for entry in self.status.nodes:
                if entry.step == "Failed":
                    entry.attempt += 1
                    self.set_step(entry, "Pending", f"retry (attempt {entry.attempt})")
            self.status.phase = "Running"
        for entry in self.status.nodes:
            if entry.name in self.spec.skip_nodes and entry.step in ("Pending", "Failed"):
                left = " (it stays cordoned)" if entry.cordoned else ""
                self.set_step(entry, "Skipped", f"skipped (spec.skipNodes){left}")

    def take_next(self, facts: dict[str, NodeFacts], active: list[NodeProgress]) -> None:
        target = self.target()
        if target is None:
            self.status.message = f"waiting: OSVersion {self.spec.version} not found"
            return
        for entry in self.status.nodes:
            if len(active) >= self.spec.max_unavailable:
                return
            if entry.step != "Pending":
                continue
            node = facts.get(entry.name)
            if node is None:
                self.set_step(entry, "Failed", "the Node object is gone")
                return
            if entry.control_plane and any(n.control_plane for n in active):
                return  # one control-plane node at a time, in order
            problems = node_problems(node, target.spec, self.now, retry=entry.attempt > 1)
            problems += control_plane_problems(f for f in facts.values() if f.name != node.name)
            if problems:
                self.status.message = f"waiting to take {node.name}: {summary(problems)}"
                return  # in order: the next node waits for this one
            self.cordon(entry, node)
            active.append(entry)

    def cordon(self, entry: NodeProgress, node: NodeFacts) -> None:
        ours = node.cordoned_by == self.name or not node.unschedulable
        if ours:
            self.owner.cluster.cordon(node.name, self.name)
        entry.cordoned = ours
        self.set_step(entry, "Draining", "cordoned; evicting its pods")

    def advance(self, entry: NodeProgress, node: NodeFacts | None) -> None:
        if node is None:
            self.set_step(entry, "Failed", "the Node object is gone")
            return
        if entry.step == "Draining":
            self.drain(entry)
            return
        self.follow_agent(entry, node)

    def drain(self, entry: NodeProgress) -> None:
        cluster = self.owner.cluster
        pods = cluster.pods_to_drain(entry.name)
        if not pods:
            self.set_step(entry, "Upgrading", "drained; handed to the node's stook-agent")
            return
        since = parse_time(entry.times.get("Draining")) or self.now
        waited = (self.now - since).total_seconds()
        drain = self.spec.drain
        force = drain.force and waited > drain.timeout_seconds
        blocked = cluster.evict(pods, force=force)
        if not blocked:
            self.set_step(entry, "Draining", f"waiting for {len(pods)} pod(s) to terminate")
            return
        budgets = sorted({b for item in blocked for b in item.budgets}) or ["(unknown)"]
        what = (
            f"eviction of {', '.join(b.pod for b in blocked)} refused by PodDisruptionBudget "
            f"{', '.join(budgets)}"
        )
        if waited <= drain.timeout_seconds:
            self.set_step(entry, "Draining", f"{what}; retrying until {drain.timeout_seconds} s")
            return
        # Past the timeout without force: pause rather than break the budget.
        self.spec_patch["paused"] = True
        self.status.phase = "Paused"
        self.status.message = (
            f"paused: the drain of {entry.name} timed out after {drain.timeout_seconds} s: "
            f"{what}. Unpause to try again, or set spec.drain.force"
        )
        self.condition("Progressing", "False", "DrainBlocked", self.status.message)
        self.set_step(entry, "Draining", what)
        self.note(entry.name, "Paused", self.status.message, warning=True)

    def follow_agent(self, entry: NodeProgress, node: NodeFacts) -> None:
        request = f"{self.upgrade.metadata.uid}/{entry.attempt}"
        report = node.report
        mine = report is not None and report.status.request == request
        timeouts = self.spec.timeouts
        if mine and report is not None:
            status = report.status
            entry.bytes_downloaded = status.bytes_downloaded
            entry.bytes_written = status.bytes_written
            entry.total_bytes = status.total_bytes
            entry.failed_check = status.failed_check
            if status.phase == "Failed":
                self.fail(entry, f"the node's agent: {status.message}")
                return
            if status.phase in AGENT_STEPS:
                self.set_step(entry, AGENT_STEPS[status.phase], status.message)
            elif status.phase == "Succeeded" and self.healthy(entry, node, status.target_slot):
                return
        rebooted = parse_time(entry.times.get("Rebooting"))
        handed = parse_time(entry.times.get("Upgrading")) or self.now
        if rebooted is not None:
            if (self.now - rebooted).total_seconds() > timeouts.reboot_seconds:
                self.fail(
                    entry,
                    f"did not come back healthy within {timeouts.reboot_seconds} s of its reboot "
                    f"(last: {entry.message})",
                )
        elif (self.now - handed).total_seconds() > timeouts.download_seconds:
            self.fail(
                entry,
                f"the image was not downloaded and written within {timeouts.download_seconds} s "
                f"(last: {entry.message or 'the agent never took the request'})",
            )

    def healthy(self, entry: NodeProgress, node: NodeFacts, slot: str | None) -> bool:
        """The health gate; True when the node passed it (and is done)."""
        assert node.report is not None
        boot = node.report.status.booted
        want = self.status.image.version if self.status.image else ""
        rebooted = parse_time(entry.times.get("Rebooting"))
        waits = []
        if boot.version != want or boot.slot != slot or not boot.good:
            waits.append(f"booted {boot.version} from slot {boot.slot} (want {want} from {slot})")
        if not node.ready:
            waits.append("the Node is not Ready")
        if node.heartbeat is None or (rebooted is not None and node.heartbeat <= rebooted):
            waits.append("no stook-agent heartbeat since the reboot")
        if waits:
            self.set_step(entry, "Verifying", "health gate: waiting: " + "; ".join(waits))
            return False
        if entry.cordoned:
            self.owner.cluster.uncordon(entry.name, self.name)
            entry.cordoned = False
        started = parse_time(entry.times.get("Draining"))
        if started is not None:
            self.owner.metrics.done(entry.name, (self.now - started).total_seconds())
        self.set_step(entry, "Succeeded", f"runs {want} from slot {slot}, marked good; uncordoned")
        return True

    def fail(self, entry: NodeProgress, message: str) -> None:
        self.owner.metrics.failed(entry.name)
        if self.spec.uncordon_on_failure and entry.cordoned:
            self.owner.cluster.uncordon(entry.name, self.name)
            entry.cordoned = False
            message += " (uncordoned: spec.uncordonOnFailure)"
        elif entry.cordoned:
            message += " (left cordoned for inspection)"
        self.set_step(entry, "Failed", message)
        self.condition("Progressing", "False", "NodeFailed", f"{entry.name}: {message}")


def validated(obj: Object) -> bool:
    """Whether the Upgrade's pre-checks passed (a helper for tools and tests)."""
    condition = find_condition(Upgrade.parse(obj).status.conditions, "Validated")
    return condition is not None and condition.status == "True"


__all__ = ["UpgradeReconciler", "UpgradeStatus", "validated"]
