"""start / stop / restart of a VirtualServer, as KubeVirt's run-strategy table has them.

The table (KubeVirt's "Run Strategies" page, which the seeds' VirtualServer repeats) gives the
run strategy after each action; "-" (None here) means the action is refused:

    runStrategy      start           stop            restart
    Always           -               Halted          Always
    RerunOnFailure   RerunOnFailure  RerunOnFailure  RerunOnFailure
    Manual           Manual          Manual          Manual
    Halted           Always          -               -

How each accepted action reaches KubeVirt mirrors virt-api's start/stop/restart subresources
(pkg/virt-api/rest/lifecycle.go): a change of run strategy is a change of the VM's
spec.runStrategy (here: of the VirtualServer's, which the VM follows); otherwise virt-api
queues ``status.stateChangeRequests`` on the VM (Stop with the running VMI's UID, Start),
which virt-controller carries out. Pure: the controller applies the returned plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from stook_agent.api.virtualserver import Action, RunStrategy

TABLE: dict[RunStrategy, dict[Action, RunStrategy | None]] = {
    "Always": {"start": None, "stop": "Halted", "restart": "Always"},
    "RerunOnFailure": {
        "start": "RerunOnFailure", "stop": "RerunOnFailure", "restart": "RerunOnFailure",
    },
    "Manual": {"start": "Manual", "stop": "Manual", "restart": "Manual"},
    "Halted": {"start": "Always", "stop": None, "restart": None},
}  # fmt: skip
ACTIONS: tuple[Action, ...] = get_args(Action)


@dataclass(frozen=True)
class Plan:
    """What an accepted action does: a new run strategy, or state change requests to queue
    on the VM (in order), or neither (nothing to do: already so)."""

    run_strategy: RunStrategy | None = None
    requests: tuple[dict[str, Any], ...] = ()
    message: str = ""


class RefusedError(Exception):
    """An action the table (or the VM's state) does not allow; the message says why."""


def plan(
    action: str,
    strategy: RunStrategy,
    vmi_uid: str | None,
    vmi_final: bool,
    pending: bool,
) -> Plan:
    """The plan for *action* under *strategy*, given the running VMI (its UID, whether it has
    finished: Succeeded or Failed) and whether state change requests are still pending."""
    if action not in ACTIONS:
        raise RefusedError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    after = TABLE[strategy][action]
    if after is None:
        why = "it is already kept running" if action == "start" else "it is kept stopped"
        raise RefusedError(
            f"{action} is not possible with runStrategy {strategy} (the run-strategy table has "
            f"'-' there: {why})"
        )
    if after != strategy:
        return Plan(run_strategy=after, message=f"runStrategy {strategy} -> {after}")
    running = vmi_uid is not None and not vmi_final
    if pending:
        raise RefusedError("an earlier start/stop/restart is still being carried out; try again")
    if action == "start":
        if running:
            raise RefusedError(f"start: the VM is already running (runStrategy {strategy})")
        return Plan(requests=({"action": "Start"},), message="start requested")
    if not running:
        raise RefusedError(f"{action}: the VM is not running (runStrategy {strategy})")
    stop = {"action": "Stop", "uid": vmi_uid}
    if action == "stop":
        return Plan(requests=(stop,), message="stop requested")
    return Plan(requests=(stop, {"action": "Start"}), message="restart requested")
