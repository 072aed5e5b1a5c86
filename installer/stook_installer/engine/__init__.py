"""The install engine: config + machine -> plan of typed steps -> a node on disk.

Separate from any UI: the TUI and the unattended mode both call ``install``.
"""

from __future__ import annotations

from pathlib import Path

from stook_core.config.model import InstallConfig
from stook_core.hardware import Machine
from stook_installer.engine.events import Event, EventSink
from stook_installer.engine.plan import Plan, PreflightFailed, build_plan
from stook_installer.engine.runner import InstallFailed, execute

__all__ = [
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
    """Plan and run an install. The caller must have the operator's consent to erase
    ``build_plan(...).erased_disks`` (the TUI asks; unattended needs install.confirm_erase)."""
    plan = build_plan(config, machine, image)
    execute(plan, sink, dry_run=dry_run)
    return plan
