"""The install engine: config + machine -> plan of typed steps -> a node on disk.

Separate from any UI: the TUI and the unattended mode both call ``install``.
"""

from __future__ import annotations

from pathlib import Path

from stook_core.config.model import InstallConfig
from stook_core.hardware import Machine
from stook_installer.engine.consent import Consent
from stook_installer.engine.events import Event, EventSink
from stook_installer.engine.plan import Plan, PreflightFailed, build_plan
from stook_installer.engine.runner import InstallFailed, execute

__all__ = [
    "Consent",
    "Event",
    "EventSink",
    "InstallFailed",
    "Plan",
    "PreflightFailed",
    "build_plan",
    "execute",
    "install",
]


def install(
    config: InstallConfig, machine: Machine, image: Path, sink: EventSink, *, dry_run: bool
) -> Plan:
    """Plan and run an install in one go, with the config's ``install.confirm_erase`` as the
    consent to erase whatever the plan selects (tests and bench on loop devices; the doors that
    show a plan first pass that plan and a Consent to ``execute`` themselves)."""
    plan = build_plan(config, machine, image)
    consent = Consent.to(plan) if config.install.confirm_erase else None
    execute(plan, consent, sink, dry_run=dry_run)
    return plan
